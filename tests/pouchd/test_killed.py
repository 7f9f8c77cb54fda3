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


def test_sigterm_with_streams_open_stops_at_once(daemon: Daemon) -> None:
    """SIGTERM while clients hold logs -f, events, an attached run, an attach and an exec: the server
    ends their streams and exits (it does not wait for the containers), which go on running."""
    daemon.docker("run", "-d", "--name", "quiet1", "busybox", "sleep", "300", check=True)
    clients = [subprocess.Popen(["docker", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=daemon.env())
               for args in (["logs", "-f", "quiet1"], ["events"],
                            ["run", "--rm", "--name", "held", "busybox", "sleep", "60"],
                            ["attach", "quiet1"], ["exec", "quiet1", "sleep", "60"])]
    try:
        wait_until(lambda: b"held" in daemon.docker("ps", "--format", "{{.Names}}").stdout, what="the attached run")
        wait_until(lambda: b"sleep 60" in daemon.docker("top", "quiet1").stdout, what="the exec")
        assert daemon.process is not None
        daemon.process.terminate()
        # Well under the 60 s the held run and exec sleep: the server did not wait for them.
        assert daemon.process.wait(timeout=40) == 0, daemon.log.read_text()[-3000:]
    finally:
        for client in clients:
            client.kill()
            client.wait()
    daemon.start()
    names = daemon.docker("ps", "--format", "{{.Names}}", check=True).stdout.decode().split()
    assert {"quiet1", "held"} <= set(names)
    # the --rm run lost its client and its server, not its removal: it goes when it ends
    daemon.docker("kill", "held", check=True)
    wait_until(lambda: b"held" not in daemon.docker("ps", "-a", "--format", "{{.Names}}").stdout, timeout=30,
               what="the --rm container to be removed after its server stopped")
    daemon.docker("rm", "-f", "quiet1", check=True)
