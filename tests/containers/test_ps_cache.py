"""``ps`` in a process that keeps ctrd's watch cache (the REPL) answers from the cache, and still sees
at once what other processes created or removed the moment before."""

from __future__ import annotations

from typing import Any

import pytest

from ctrd.watch import Watcher
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd


@pytest.fixture
def watched(mgr: Any) -> Any:
    with Watcher(mgr.ctrd) as watcher:
        watcher.wait_synced(30)
        yield watcher


def _names(rows: list[dict[str, Any]]) -> set[str]:
    return {r["name"] for r in rows}


def test_ps_serves_from_the_cache_and_sees_other_processes_at_once(mgr: Any, pouchsh: Any, watched: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mgr.containers.run(opts("sleep", "60", name="mine"), detach=True)
    listed: list[int] = []
    real_list = mgr.ctrd.containers.list
    monkeypatch.setattr(mgr.ctrd.containers, "list", lambda *a, **k: listed.append(1) or real_list(*a, **k))

    rows = mgr.containers.list(all=True)
    assert _names(rows) == {"mine"}
    assert rows[0]["status"] == "running" and rows[0]["command"] == "sleep 60"

    assert pouchsh("create --network none --name theirs busybox true").returncode == 0
    assert _names(mgr.containers.list(all=True)) == {"mine", "theirs"}  # no wait: the call syncs the cache
    assert pouchsh("rm -f mine").returncode == 0
    rows = mgr.containers.list(all=True)
    assert _names(rows) == {"theirs"}
    assert rows[0]["status"] == "created" and rows[0]["command"] == "true"
    assert listed == []  # every answer came from the cache


def test_ps_lists_when_the_watcher_is_stopped(mgr: Any, watched: Any) -> None:
    mgr.containers.create(opts("true", name="one"))
    watched.stop()
    assert _names(mgr.containers.list(all=True)) == {"one"}


def test_records_from_the_cache_equal_listed_records(mgr: Any, watched: Any) -> None:
    mgr.containers.run(opts("sleep", "60", name="up", label=["a=b"]), detach=True)
    mgr.containers.create(opts("sh", "-c", "echo hi", name="made"))
    cached = mgr.containers.list(all=True, no_trunc=True)
    watched.stop()
    listed = mgr.containers.list(all=True, no_trunc=True)
    for row in (*cached, *listed):
        row.pop("state")  # "Up 1 second" may tick between the two
    assert cached == listed
