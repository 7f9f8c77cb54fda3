"""The watcher's state machine, fed by hand (the live watcher is tested in test_events_watch.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from ctrd.containers import Container
from ctrd.events import Event
from ctrd.tasks import Process
from ctrd.watch import CacheSnapshot, StateCache

T = datetime(2026, 1, 1, tzinfo=UTC)


def ev(topic: str, **payload: object) -> Event:
    return Event(timestamp=T, namespace="ns", topic=topic, type="", payload=payload)


def record(cid: str, **labels: str) -> Container:
    return Container(
        id=cid,
        image="img",
        labels=labels,
        spec={},
        snapshotter="overlayfs",
        snapshot_key=cid,
        runtime="io.containerd.runc.v2",
        created_at=T,
        updated_at=T,
    )


def process(cid: str, status: str, pid: int = 10, exit_status: int = 0) -> Process:
    return Process(
        container_id=cid,
        id=cid,
        pid=pid,
        status=status,
        exit_status=exit_status,
        exited_at=None,
        terminal=False,
        stdin="",
        stdout="",
        stderr="",
    )


def snap(cache: StateCache) -> CacheSnapshot:
    return CacheSnapshot("ns", 0, True, cache.containers, cache.tasks)


def test_lifecycle_events_drive_status() -> None:
    cache = StateCache()
    assert cache.apply(
        ev("/containers/create", id="c1", image="img"), record("c1", **{"pouchsh/name": "web"})
    )
    assert snap(cache).status("c1") == "created"
    assert cache.containers["c1"].labels == {"pouchsh/name": "web"}
    cache.apply(ev("/tasks/create", container_id="c1", pid=42))
    cache.apply(ev("/tasks/start", container_id="c1", pid=42))
    assert snap(cache).status("c1") == "running"
    cache.apply(ev("/tasks/paused", container_id="c1"))
    assert snap(cache).status("c1") == "paused"
    cache.apply(ev("/tasks/resumed", container_id="c1"))
    cache.apply(ev("/tasks/exec-added", container_id="c1", exec_id="e1"))
    cache.apply(ev("/tasks/exec-started", container_id="c1", exec_id="e1", pid=43))
    assert cache.tasks["c1"].execs == {"e1": 43}
    cache.apply(ev("/tasks/exit", container_id="c1", id="e1", pid=43, exit_status=1, exited_at=T))
    assert cache.tasks["c1"].execs == {} and snap(cache).status("c1") == "running"
    cache.apply(ev("/tasks/oom", container_id="c1"))
    cache.apply(ev("/tasks/exit", container_id="c1", id="c1", pid=42, exit_status=137, exited_at=T))
    task = cache.tasks["c1"]
    assert (task.status, task.exit_status, task.oom) == ("stopped", 137, True)
    cache.apply(ev("/tasks/delete", container_id="c1", id="", pid=42, exit_status=137, exited_at=T))
    assert snap(cache).status("c1") == "created"
    assert cache.containers["c1"].exit_status == 137
    cache.apply(ev("/containers/update", id="c1", image="img2", labels={"a": "b"}, snapshot_key="c1"))
    assert (cache.containers["c1"].image, cache.containers["c1"].labels) == ("img2", {"a": "b"})
    assert cache.apply(ev("/containers/delete", id="c1"))
    assert snap(cache).status("c1") is None


def test_reset_replaces_state_but_keeps_seen_exits() -> None:
    cache = StateCache()
    cache.apply(ev("/containers/create", id="c1", image="img"), record("c1"))
    cache.apply(ev("/containers/create", id="gone", image="img"), record("gone"))
    cache.apply(ev("/tasks/delete", container_id="c1", id="", pid=1, exit_status=3, exited_at=T))
    cache.reset([record("c1"), record("c2")], [process("c2", "running")])
    assert set(cache.containers) == {"c1", "c2"}
    assert cache.containers["c1"].exit_status == 3
    assert snap(cache).status("c2") == "running"


def test_stale_or_foreign_events_converge() -> None:
    cache = StateCache()
    # a start whose create was missed still yields a task
    cache.apply(ev("/tasks/start", container_id="c9", pid=5))
    assert cache.tasks["c9"].status == "running"
    assert not cache.apply(ev("/snapshot/prepare", key="k", parent="p"))
    assert not cache.apply(ev("/pouchsh/sync", name="ns", labels={}))
    # applying the same event twice changes nothing the second time
    e = ev("/tasks/exit", container_id="c9", id="c9", pid=5, exit_status=0, exited_at=T)
    assert cache.apply(e)
    assert not cache.apply(e)
