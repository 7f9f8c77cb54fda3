"""The test suite's namespace purge (tests/support/cleanup.py) empties a namespace in any state it can be
left in: a paused task, a task that appears while the purge runs, a snapshot child made behind its back.
"""

from __future__ import annotations

from typing import Any

import pytest

from ctrd.errors import NotFound
from ctrd.stdio import NullIO
from tests.ctrd.runtime_kit import make_container
from tests.support.cleanup import _children_first, purge_namespace

pytestmark = pytest.mark.containerd

ROOT = {"containerd.io/gc.root": "test"}


def _running(client: Any, image: str, cid: str) -> None:
    mounts = make_container(client, image, cid, ["sleep", "300"])
    client.tasks.create(cid, rootfs=mounts, io=NullIO())
    client.tasks.start(cid)


def _gone(ctrd_client: Any, namespace: str) -> None:
    with pytest.raises(NotFound):
        ctrd_client.namespaces.get(namespace)


def test_purge_resumes_a_paused_task_before_killing_it(ctrd_client: Any, namespace: str, ns_client: Any, busybox_image: str) -> None:
    _running(ns_client, busybox_image, "frozen")
    ns_client.tasks.pause("frozen")
    # A short stop timeout: a frozen process never dies of SIGKILL, so without the resume this fails.
    assert purge_namespace(ctrd_client, namespace, stop_timeout=3) == []
    _gone(ctrd_client, namespace)


def test_purge_ends_a_task_started_while_it_runs(ctrd_client: Any, namespace: str, ns_client: Any, busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task started after the purge listed the tasks (a restart, another process) is found again
    and ended, not left running with its container record gone."""
    _running(ns_client, busybox_image, "first")
    mounts = make_container(ns_client, busybox_image, "late", ["sleep", "300"])
    tasks = ns_client.tasks
    listed = tasks.list

    def list_then_start_late() -> list[Any]:
        found = listed()
        if not any(t.container_id == "late" for t in found) and ns_client.containers.list():
            tasks.create("late", rootfs=mounts, io=NullIO())
            tasks.start("late")
            monkeypatch.setattr(tasks, "list", listed)
        return found

    monkeypatch.setattr(tasks, "list", list_then_start_late)
    assert purge_namespace(ctrd_client, namespace) == []
    assert listed() == []
    _gone(ctrd_client, namespace)


def test_purge_removes_a_snapshot_child_made_after_its_listing(ctrd_client: Any, namespace: str, ns_client: Any, busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = ns_client.images.spec(busybox_image).chain_id
    ns_client.snapshots.prepare("work", chain, labels=ROOT)  # a GC root: nothing else refers to these
    ns_client.snapshots.commit("layer-2", "work", labels=ROOT)
    snapshots = ns_client.snapshots
    listed = snapshots.list
    made: list[str] = []

    def list_then_add_child(*args: Any, **kwargs: Any) -> list[Any]:
        found = listed(*args, **kwargs)
        if not made and any(s.name == "layer-2" for s in found):
            snapshots.prepare("late-child", "layer-2", labels=ROOT)  # "layer-2" was a leaf in what we return
            made.append("late-child")
        return found

    monkeypatch.setattr(snapshots, "list", list_then_add_child)
    assert purge_namespace(ctrd_client, namespace) == []
    assert made
    _gone(ctrd_client, namespace)


class _Snap:
    def __init__(self, name: str, parent: str) -> None:
        self.name, self.parent = name, parent


def test_purge_removes_a_parent_whose_child_the_collector_removed(ctrd_client: Any, namespace: str, ns_client: Any, busybox_image: str) -> None:
    """containerd 1.6's garbage collector removes a child snapshot without clearing its parent's record of
    it: an explicit removal of the parent is then refused ("with child") until a collection removes it.
    (A kill -9 of a create leaves just such a child, held only by the killed process's lease.)"""
    parent = ns_client.snapshots.list()[0].name
    with ns_client.lease(sync_delete=True) as leased:
        leased.snapshots.prepare("held-by-a-lease", parent)
    assert [s.name for s in ns_client.snapshots.list()] == [parent]  # collected with its lease
    assert purge_namespace(ctrd_client, namespace, deadline=30) == []
    assert not any(n.name == namespace for n in ctrd_client.namespaces.list())


def test_children_first_orders_every_child_before_its_parent() -> None:
    snaps = [_Snap("a", ""), _Snap("d", "c"), _Snap("b", "a"), _Snap("c", "b"), _Snap("x", "a"), _Snap("y", "gone")]
    order = _children_first(snaps)
    assert sorted(order) == ["a", "b", "c", "d", "x", "y"]
    for snap in snaps:
        if snap.parent in order:
            assert order.index(snap.name) < order.index(snap.parent)
