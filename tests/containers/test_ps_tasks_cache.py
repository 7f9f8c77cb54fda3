"""``ps`` answering task state from ctrd's watch cache (the REPL keeps one): this process's own task
calls show at once, another process's start shows up within a bounded poll, and after containerd is
killed and restarted the tasks are listed again."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ctrd
from ctrd.daemon import Embedded, start_embedded
from ctrd.imports import import_oci_layout
from ctrd.watch import Watcher
from tests.containers.helpers import opts
from tests.ctrd.test_events_watch import own_containerd  # noqa: F401  (the fixture: a containerd of its own)
from tests.support.poll import poll

pytestmark = pytest.mark.containerd

WAIT = 30.0


@pytest.fixture
def watched(mgr: Any) -> Iterator[Watcher]:
    with Watcher(mgr.ctrd) as watcher:
        watcher.wait_synced(WAIT)
        yield watcher


def _status(mgr: Any, name: str) -> str | None:
    rows = [r for r in mgr.containers.list(all=True) if r["name"] == name]
    return rows[0]["status"] if rows else None


def test_own_task_calls_show_at_once_and_late_events_change_nothing(mgr: Any, watched: Watcher, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[int] = []
    real_list = mgr.ctrd.tasks.list
    monkeypatch.setattr(mgr.ctrd.tasks, "list", lambda *a, **k: listed.append(1) or real_list(*a, **k))
    # The shims' task events are held back, as a slow shim would: only the write-throughs can show the
    # states below. They are released at the end, late and all at once.
    held: list[Any] = []
    cache = watched._cache
    real_apply = cache.apply
    monkeypatch.setattr(cache, "apply", lambda e, r=None: held.append(e) if e.topic.startswith("/tasks/") else real_apply(e, r))

    mgr.containers.run(opts("sleep", "60", name="web"), detach=True)
    assert _status(mgr, "web") == "running"
    mgr.containers.pause(["web"])
    assert _status(mgr, "web") == "paused"
    mgr.containers.unpause(["web"])
    assert _status(mgr, "web") == "running"
    mgr.containers.stop(["web"], timeout=0)
    assert _status(mgr, "web") == "exited"
    mgr.containers.start(["web"])
    (row,) = mgr.containers.list()
    assert (row["name"], row["pid"]) == ("web", mgr.containers.inspect("web")["pid"])
    assert listed == []  # every task state came from the cache

    monkeypatch.setattr(cache, "apply", real_apply)
    assert {e.topic for e in held} >= {"/tasks/create", "/tasks/start", "/tasks/paused", "/tasks/exit"}
    for event in held:  # none of the late events moves the container back, even for a moment
        with watched._cond:
            cache.apply(event)
            watched._bump()
        (after,) = mgr.containers.list(all=True)
        assert (after["status"], after["pid"]) == ("running", row["pid"]), event.topic


def test_another_process_start_shows_up_within_a_bounded_poll(mgr: Any, pouchsh: Any, watched: Watcher) -> None:
    mgr.containers.create(opts("sleep", "60", name="theirs"))
    assert _status(mgr, "theirs") == "created"
    assert pouchsh("start theirs").returncode == 0
    # the other process's start reaches this cache through its shim's events, a moment later
    poll(lambda: _status(mgr, "theirs") == "running", "another process's start in ps", WAIT, interval=0.01)
    assert pouchsh("stop -t 0 theirs").returncode == 0
    poll(lambda: _status(mgr, "theirs") == "exited", "another process's stop in ps", WAIT, interval=0.01)


def test_cached_records_equal_listed_ones_through_a_life(mgr: Any, watched: Watcher) -> None:
    def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        cached = mgr.containers.list(all=True, no_trunc=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(watched, "sync", lambda timeout: (_ for _ in ()).throw(ctrd.errors.Timeout("off")))
            listed = mgr.containers.list(all=True, no_trunc=True)
        for row in (*cached, *listed):
            row.pop("state")  # "Up 1 second" may tick between the two
        return cached, listed

    mgr.containers.run(opts("sleep", "60", name="a"), detach=True)
    mgr.containers.create(opts("true", name="b"))
    mgr.containers.run(opts("sh", "-c", "exit 3", name="c"), detach=True)
    mgr.containers.wait(["c"])
    mgr.containers.pause(["a"])
    cached, listed = both()
    assert cached == listed
    assert {r["name"]: r["status"] for r in cached} == {"a": "paused", "b": "created", "c": "exited"}


def test_a_containerd_restart_lists_the_tasks_again(own_containerd: Embedded, busybox_layout: Path, tmp_path: Path) -> None:  # noqa: F811
    from managers import Managers

    (tmp_path / "root").mkdir()
    (tmp_path / "run").mkdir()
    facade = Managers(address=str(own_containerd.socket), namespace="watch", root=tmp_path / "root", run_root=tmp_path / "run")
    try:
        import_oci_layout(facade.ctrd, busybox_layout)
        with Watcher(facade.ctrd) as watcher:
            watcher.wait_synced(WAIT)
            record = facade.containers.run(opts("sleep", "300", name="survivor"), detach=True)
            assert _status(facade, "survivor") == "running"
            syncs = watcher.syncs
            pid = own_containerd.pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            # the task's process dies while containerd is down: no event of this cache saw it
            os.kill(record["pid"], signal.SIGKILL)
            start_embedded(own_containerd, timeout=60)
            watcher.wait_for(lambda _s: watcher.syncs > syncs, WAIT)
            poll(lambda: _status(facade, "survivor") == "exited", "the exit seen after the restart", WAIT, interval=0.01)
            (row,) = facade.containers.list(all=True)
            assert row["exit_code"] == 137
            facade.containers.remove(["survivor"], force=True)
            poll(lambda: _status(facade, "survivor") is None, "the removal in ps", WAIT, interval=0.01)
    finally:
        facade.close()
