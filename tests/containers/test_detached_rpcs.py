"""Which Wait calls a run makes: a detached run none (nobody waits for it), a foreground run one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.containers.helpers import EMPTY, leftovers, opts, stdio

pytestmark = pytest.mark.containerd


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ``what`` of every background call (Client.future) the test's calls start."""
    from ctrd.client import Client

    started: list[str] = []
    future = Client.future

    def recording(self: Any, method: Any, request: Any, what: str, **kw: Any) -> Any:
        started.append(what)
        return future(self, method, request, what, **kw)

    monkeypatch.setattr(Client, "future", recording)
    yield started


def test_a_detached_run_leaves_no_wait_pending_and_still_stops(mgr: Any, roots: Any, waits: list[str]) -> None:
    record = mgr.containers.run(opts("sleep", "600", name="bg"), detach=True)
    assert record["status"] == "running"
    assert [w for w in waits if w.startswith("task wait")] == []
    mgr.containers.stop(["bg"], timeout=0)  # stop issues its own Wait, and sees the exit through it
    assert [w for w in waits if w.startswith("task wait")] == [f"task wait {record['id']}"]
    (row,) = mgr.containers.list(all=True)
    assert row["status"] == "exited"
    mgr.containers.remove(["bg"])
    assert leftovers(mgr, roots) == EMPTY


def test_a_foreground_run_waits_once(mgr: Any, waits: list[str]) -> None:
    assert mgr.containers.run(opts("sh", "-c", "exit 4", rm=True), detach=False, stdio=stdio()) == 4
    assert len([w for w in waits if w.startswith("task wait")]) == 1
