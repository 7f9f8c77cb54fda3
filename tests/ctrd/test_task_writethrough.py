"""Write-throughs of this process's task RPCs in the watcher's state machine: shown at once, never undone
by the stream's stale events, dropped once the stream reaches them (fed by hand; the live path is in
tests/containers/test_ps_tasks_cache.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ctrd.events import Event
from ctrd.watch import StateCache
from tests.ctrd.test_events_cache import process, record

T = datetime(2026, 1, 1, tzinfo=UTC)
C = "c1"


def ev(topic: str, **payload: Any) -> Event:
    return Event(timestamp=T, namespace="ns", topic=topic, type="", payload={"container_id": C, **payload})


def shown(cache: StateCache) -> tuple[str, int] | None:
    task = cache.view_tasks().get(C)
    return None if task is None else (task.status, task.pid)


def made() -> StateCache:
    cache = StateCache()
    cache.reset([record(C)], [])
    return cache


def test_own_start_shows_at_once_and_the_late_create_event_does_not_undo_it() -> None:
    cache = made()
    assert cache.write("/tasks/create", {"container_id": C, "pid": 42})
    assert cache.write("/tasks/start", {"container_id": C, "pid": 42})
    assert shown(cache) == ("running", 42) and cache.pinned == {C}
    assert not cache.apply(ev("/tasks/create", pid=42))  # the shim's events, late
    assert shown(cache) == ("running", 42)
    cache.apply(ev("/tasks/start", pid=42))
    assert shown(cache) == ("running", 42)
    assert cache.pinned == frozenset() and cache.tasks[C].status == "running"  # the stream caught up
    cache.apply(ev("/tasks/exit", id=C, pid=42, exit_status=3, exited_at=T))
    assert shown(cache) == ("stopped", 42)  # another process's kill, through the stream


def test_pause_and_resume_are_ordered_by_step() -> None:
    cache = made()
    cache.apply(ev("/tasks/create", pid=7))
    cache.apply(ev("/tasks/start", pid=7))
    cache.write("/tasks/paused", {"container_id": C})
    cache.write("/tasks/resumed", {"container_id": C})
    assert shown(cache) == ("running", 7)
    assert not cache.apply(ev("/tasks/paused"))  # the stale pause: still running
    assert shown(cache) == ("running", 7)
    cache.apply(ev("/tasks/resumed"))
    cache.apply(ev("/tasks/paused"))  # a later pause by another process
    assert shown(cache) == ("paused", 7)


def test_a_deleted_task_stays_deleted_and_a_new_one_is_told_apart_by_pid() -> None:
    cache = made()
    for topic, pid in (("/tasks/create", 5), ("/tasks/start", 5)):
        cache.apply(ev(topic, pid=pid))
    cache.write("/tasks/exit", {"container_id": C, "id": C, "pid": 5, "exit_status": 137, "exited_at": T})
    cache.write("/tasks/delete", {"container_id": C, "id": "", "pid": 5, "exit_status": 137, "exited_at": T})
    assert shown(cache) is None and cache.containers[C].exit_status == 137
    cache.write("/tasks/create", {"container_id": C, "pid": 9})  # started again: a new task
    cache.write("/tasks/start", {"container_id": C, "pid": 9})
    # the old task's exit and delete arrive late, then the new one's create: none undoes the start
    for late in (
        ev("/tasks/exit", id=C, pid=5, exit_status=137, exited_at=T),
        ev("/tasks/delete", id="", pid=5, exit_status=137, exited_at=T),
        ev("/tasks/create", pid=9),
    ):
        assert not cache.apply(late)
        assert shown(cache) == ("running", 9)
    cache.apply(ev("/tasks/start", pid=9))
    assert shown(cache) == ("running", 9) and cache.tasks[C].pid == 9


def test_a_late_wait_or_a_write_the_stream_passed_is_ignored() -> None:
    cache = made()
    cache.apply(ev("/tasks/create", pid=5))
    cache.apply(ev("/tasks/start", pid=5))
    cache.apply(ev("/tasks/exit", id=C, pid=5, exit_status=0, exited_at=T))
    assert not cache.write("/tasks/start", {"container_id": C, "pid": 5})  # the stream is past it
    assert shown(cache) == ("stopped", 5)
    cache.apply(ev("/tasks/delete", id="", pid=5, exit_status=0, exited_at=T))
    cache.apply(ev("/tasks/create", pid=6))
    # a Wait on the first task that ends only now must not stop the second
    assert not cache.write("/tasks/exit", {"container_id": C, "id": C, "pid": 5, "exit_status": 1, "exited_at": T})
    assert shown(cache) == ("created", 6)
    assert not cache.write("/tasks/paused", {"container_id": "unknown"})  # no task shown: nothing to pause


def test_other_processes_move_past_a_write_through() -> None:
    cache = made()
    cache.write("/tasks/create", {"container_id": C, "pid": 5})
    cache.write("/tasks/start", {"container_id": C, "pid": 5})
    # another process kills and removes the task and starts a new one; the stream brings it all in order
    for event in (
        ev("/tasks/create", pid=5), ev("/tasks/start", pid=5),
        ev("/tasks/exit", id=C, pid=5, exit_status=137, exited_at=T),
        ev("/tasks/delete", id="", pid=5, exit_status=137, exited_at=T), ev("/tasks/create", pid=8),
    ):
        cache.apply(event)
    assert shown(cache) == ("created", 8)


def test_exec_events_and_oom_reach_a_pinned_task() -> None:
    cache = made()
    cache.write("/tasks/create", {"container_id": C, "pid": 5})
    cache.write("/tasks/start", {"container_id": C, "pid": 5})
    cache.write("/tasks/exec-added", {"container_id": C, "exec_id": "e"})  # not a write-through topic
    cache.apply(ev("/tasks/create", pid=5))
    cache.apply(ev("/tasks/oom"))
    task = cache.view_tasks()[C]
    assert (task.status, task.oom) == ("running", True)


def test_relisting_drops_write_throughs_made_before_it_and_keeps_later_ones() -> None:
    cache = made()
    cache.write("/tasks/create", {"container_id": C, "pid": 5})
    mark = cache.writes
    cache.write("/tasks/start", {"container_id": C, "pid": 5})  # made while the lists were taken
    cache.reset([record(C)], [process(C, "created", pid=5)], keep_after=mark)
    assert shown(cache) == ("running", 5)
    cache.apply(ev("/tasks/start", pid=5))
    assert cache.pinned == frozenset()
    cache.write("/tasks/paused", {"container_id": C})
    cache.reset([record(C)], [process(C, "running", pid=5)])  # a list taken after the pause
    assert shown(cache) == ("running", 5)
    cache.write("/tasks/paused", {"container_id": C})
    mark = cache.writes - 1
    cache.reset([record(C)], [process(C, "paused", pid=5)], keep_after=mark)  # the list already shows it
    assert cache.pinned == frozenset() and shown(cache) == ("paused", 5)
