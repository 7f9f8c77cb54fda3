"""Fan-out against three real containerd daemons: ``--context a,b,c`` and ``--context all`` on commands,
records carrying their context, piped records acted on where they live, and a host stopped midway."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.containerd


def _ps(shell, spec: str = "all") -> list[dict]:
    (rows,) = shell.value(f"ps -a --context {spec}")
    return rows


def test_run_on_every_context_tags_records(fleet_shell) -> None:
    (made,) = fleet_shell.value("run -d --network none --context a,b,c busybox sleep 300")
    assert [r["context"] for r in made] == ["a", "b", "c"]
    rows = _ps(fleet_shell)
    assert sorted(r["context"] for r in rows) == ["a", "b", "c"]
    # Each record is the daemon's own: its id is only in that context.
    for row in rows:
        (alone,) = fleet_shell.value(f"ps -a -q --context {row['context']}")
        assert [v["value"] for v in alone] == [row["id"][:12]]  # -q gives docker's short ids


def test_piped_records_go_back_to_their_own_context(fleet_shell) -> None:
    fleet_shell.run("run -d --network none --context a,b,c busybox sleep 300")
    fleet_shell.run("run -d --network none --context a,c busybox true")
    fleet_shell.run("run -d --network none --context b busybox sleep 300")
    # Wait (poll with a deadline) until the two `true` containers have exited.
    import time

    deadline = time.monotonic() + 60
    while sum(r["status"] == "exited" for r in _ps(fleet_shell)) < 2:
        assert time.monotonic() < deadline, _ps(fleet_shell)
        time.sleep(0.1)
    before = _ps(fleet_shell)
    fleet_shell.run("ps -a --context all | where status == exited | rm")
    after = _ps(fleet_shell)
    assert sorted((r["context"], r["id"]) for r in after) == sorted(
        (r["context"], r["id"]) for r in before if r["status"] != "exited")
    assert sorted(r["context"] for r in after) == ["a", "b", "b", "c"]
    # And a running selection stopped where it runs: stop goes to each record's context.
    fleet_shell.run("ps --context all | where context == b | stop -t 1")
    assert sorted((r["context"], r["status"]) for r in _ps(fleet_shell)) == [
        ("a", "running"), ("b", "exited"), ("b", "exited"), ("c", "running")]


def test_a_stopped_host_is_reported_and_does_not_hide_the_others(fleet_shell, fleet) -> None:
    fleet_shell.run("run -d --network none --context all busybox sleep 300")
    fleet.stop("b")
    try:
        rows = _ps(fleet_shell)
        assert sorted(r["context"] for r in rows) == ["a", "c"]
        assert "error[unavailable]: context b:" in fleet_shell.err
        assert fleet_shell.runtime.status == 1
        # No record carries b's error, nor another host's data under b's name.
        assert all(set(r) >= {"id", "status"} and r["context"] in ("a", "c") for r in rows)
        # The piped verb still acts on the hosts that answered.
        fleet_shell.run("ps --context all | rm -f")
        assert _ps(fleet_shell) == []
    finally:
        fleet.start("b")
    rows = _ps(fleet_shell)
    assert [r["context"] for r in rows] == ["b"]


def test_every_host_failing_is_an_error(fleet_shell, fleet) -> None:
    from ctrd.errors import NotFound, Unavailable

    with pytest.raises(NotFound, match="context a: no such container"):
        fleet_shell.run("rm --context a,b nope-such")
    with pytest.raises(NotFound, match="no context named zz"):
        fleet_shell.run("ps --context a,zz")
    fleet.stop("c")
    try:
        with pytest.raises(Unavailable, match="context c:"):
            fleet_shell.run("ps --context c")
    finally:
        fleet.start("c")


def test_context_flag_and_context_records_do_not_mix(fleet_shell) -> None:
    from ctrd.errors import InvalidArgument

    fleet_shell.run("run -d --network none --context a busybox sleep 300")
    with pytest.raises(InvalidArgument, match="already name their context"):
        fleet_shell.run("ps --context a | rm -f --context b")
