"""pouchd's healthcheck schedule (managers.healthprobe.keep_checking) works out what is due from a watch
cache of the namespace: a pass makes no call to containerd, and finds what listing finds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import ctrd.connection
from ctrd.watch import Watcher
from managers.healthprobe import due_probes
from tests.containers.helpers import opts
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


@pytest.fixture
def watcher(mgr: Any) -> Iterator[Watcher]:
    with_cache = Watcher(mgr.ctrd).start(shared=False)
    try:
        with_cache.wait_synced(60)
        yield with_cache
    finally:
        with_cache.stop()


def _calls_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The unary calls this thread makes from now on (the watcher's own thread makes its own)."""
    made: list[str] = []
    unary = ctrd.connection.unary
    me = threading.get_ident()

    def counted(method: Any, request: Any, what: str, *args: Any, **kw: Any) -> Any:
        if threading.get_ident() == me:
            made.append(what)
        return unary(method, request, what, *args, **kw)

    monkeypatch.setattr(ctrd.connection, "unary", counted)
    return made


def test_a_pass_reads_the_cache_and_finds_what_listing_finds(mgr: Any, watcher: Watcher,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    c = mgr.containers
    soon = c.run(opts("sleep", "300", name="soon", health_cmd="true", health_interval="200ms"), detach=True)["id"]
    later = c.run(opts("sleep", "300", name="later", health_cmd="true", health_interval="1h"), detach=True)["id"]
    c.run(opts("sleep", "300", name="unchecked"), detach=True)
    c.create(opts("sleep", "300", name="stopped", health_cmd="true", health_interval="200ms"))

    def listed_due() -> tuple[list[str], float] | None:
        due = due_probes(mgr, set())
        return due if due[0] == [soon] else None

    listed = poll(listed_due, "the 200 ms check due, by the list", timeout=60)
    view = watcher.wait_for(lambda s: {soon, later} <= {cid for cid, t in s.tasks.items() if t.status == "running"}, 60)
    calls = _calls_here(monkeypatch)
    cached = due_probes(mgr, set(), view)
    assert calls == []  # the pass asked containerd nothing
    assert cached[0] == listed[0] == [soon]
    # the next due (the 1 h one's first probe) is the same either way, give or take the time between
    assert abs(cached[1] - listed[1]) < 30 and 3000 < cached[1] <= 3600
    assert due_probes(mgr, {soon}, view)[0] == []  # a probe under way is not started again


def test_the_schedule_probes_until_healthy_and_stops(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("sleep", "300", name="checked", health_cmd="true", health_interval="200ms"), detach=True)
    stop = threading.Event()
    schedule = threading.Thread(target=mgr.health.keep_checking, args=(stop,), daemon=True)
    schedule.start()
    try:
        poll(lambda: c.inspect("checked").get("health") == "healthy", "the schedule's probes to make it healthy",
             timeout=90)
        # probes go on at its interval, each one recorded (the log keeps the last few)
        first = c.inspect("checked")["health_state"]["log"][-1]["end"]
        poll(lambda: c.inspect("checked")["health_state"]["log"][-1]["end"] != first, "a later probe", timeout=60)
    finally:
        stop.set()
        schedule.join(30)
    assert not schedule.is_alive()
