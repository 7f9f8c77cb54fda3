"""pouchd killed with SIGKILL in the middle of an attached run: started again on the same socket (the
stale one is replaced), it serves the same containers, and what was running can be removed."""

from __future__ import annotations

import subprocess

import pytest

from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd


def test_restart_after_sigkill(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "survivor", "busybox", "sleep", "300", check=True)
    attached = subprocess.Popen(["docker", "run", "--name", "attached1", "busybox", "sh", "-c",
                                 "echo started; exec sleep 300"], stdout=subprocess.PIPE, env=daemon.env())
    assert attached.stdout is not None
    assert attached.stdout.readline() == b"started\n"
    assert daemon.process is not None
    daemon.process.kill()
    daemon.process.wait()
    assert attached.wait(timeout=30) != 0  # its server went away
    daemon.start()
    names = daemon.docker("ps", "--format", "{{.Names}}", check=True).stdout.decode().split()
    assert {"survivor", "attached1"} <= set(names)
    daemon.docker("rm", "-f", "survivor", "attached1", check=True)
    wait_until(lambda: daemon.docker("ps", "-aq", check=True).stdout.strip() == b"", what="both removed")
    assert daemon.docker("run", "--rm", "busybox", "echo", "again", check=True).stdout == b"again\n"
