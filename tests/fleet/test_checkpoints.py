"""Checkpoints through containerd with CRIU, and runtimes: the error paths here (Debian's criu 3.17 fails
`criu check` on this machine's kernel), the working path where a criu that passes it is found."""

from __future__ import annotations

import time

import pytest

from ctrd.errors import Conflict, InvalidArgument, NotFound, Unavailable
from managers.checkpoints import criu_check

pytestmark = pytest.mark.containerd


def _criu_works() -> str | None:
    """None when criu check passes, else why not."""
    try:
        criu_check()
    except (NotFound, Unavailable) as e:
        return e.message
    return None


WHY_NOT = _criu_works()


@pytest.mark.skipif(WHY_NOT is None, reason="criu check passes here: the error path cannot be seen")
def test_a_criu_that_cannot_work_is_a_clear_error(local_shell) -> None:
    local_shell.run("run -d --network none --name c busybox sleep 600")
    with pytest.raises((Unavailable, NotFound)) as err:
        local_shell.run("checkpoint create c first")
    message = err.value.message
    assert "checkpoints need CRIU" in message
    if isinstance(err.value, Unavailable):
        assert "criu check" in message and "Error" in message  # what criu said, not runc's "criu failed"
    assert local_shell.run("checkpoint ls c | length").strip() == "0"  # nothing half-made
    assert local_shell.run("ps -q --filter name=c | length").strip() == "1"  # still running
    with pytest.raises((Unavailable, NotFound)):
        local_shell.run("stop -t 1 c; start --checkpoint first c")


def test_checkpoint_arguments(local_shell) -> None:
    local_shell.run("run -d --network none --name c busybox sleep 600")
    local_shell.run("create --network none --name stopped busybox true")
    with pytest.raises(InvalidArgument):
        local_shell.run("checkpoint create c ../up")
    with pytest.raises(Conflict, match="not running"):
        local_shell.run("checkpoint create stopped x")
    with pytest.raises(NotFound, match="no checkpoint nope"):
        local_shell.run("checkpoint rm c nope")
    with pytest.raises(NotFound, match="no checkpoint nope"):
        local_shell.run("start --checkpoint nope stopped")


@pytest.mark.skipif(WHY_NOT is not None, reason=f"criu cannot checkpoint here: {WHY_NOT}")
def test_checkpoint_and_restore(local_shell) -> None:
    local_shell.run("run -d --network none --name counter busybox sh -c "
                    "'i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done'")

    def count() -> int:
        return int(local_shell.run("exec counter cat /tmp/n").strip() or 0)

    deadline = time.monotonic() + 30
    while count() < 5:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    local_shell.run("checkpoint create counter one")
    assert local_shell.run("ps -a --filter name=counter | get 0.status").strip() == "exited"
    at_checkpoint = int(local_shell.run("checkpoint ls counter | length").strip())
    assert at_checkpoint == 1
    local_shell.run("start --checkpoint one counter")
    assert local_shell.run("ps --filter name=counter | length").strip() == "1"
    restored = count()
    assert restored >= 5  # the counter went on from its checkpointed value, not from 0
    local_shell.run("checkpoint rm counter one")
    assert local_shell.run("checkpoint ls counter | length").strip() == "0"


def test_runtimes(local_shell) -> None:
    runtimes = local_shell.run("info | get runtimes")
    assert "io.containerd.runc.v2" in runtimes
    with pytest.raises(InvalidArgument, match="containerd-shim-nothere-v2 is not installed"):
        local_shell.run("run --runtime io.containerd.nothere.v2 busybox true")
    assert local_shell.run("ps -a | length").strip() == "0"  # refused before anything was made
