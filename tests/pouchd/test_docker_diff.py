"""The real docker CLI's `docker diff` against pouchd: the shell's `diff` (one implementation) in docker's shape."""

from __future__ import annotations

import pytest

from tests.pouchd.conftest import Daemon

pytestmark = pytest.mark.containerd


def test_docker_diff_lists_the_changes(daemon: Daemon) -> None:
    daemon.docker("run", "--name", "changed", "busybox", "sh", "-c", "echo x > /new; rm /bin/true", check=True)
    done = daemon.docker("diff", "changed", check=True)
    assert done.stdout.decode().splitlines() == ["C /bin", "D /bin/true", "A /new"]
    missing = daemon.docker("diff", "nosuch")
    assert missing.returncode != 0 and b"no such container" in missing.stderr.lower()
