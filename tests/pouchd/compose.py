"""The real docker-compose (Debian's 1.29) run against a test module's pouchd, for the compose tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.pouchd.conftest import Daemon

COMPOSE = shutil.which("docker-compose")


def compose(daemon: Daemon, directory: Path, project: str, *args: str,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run `docker-compose -p PROJECT ARGS` on `directory/docker-compose.yml` through `daemon`; a failure
    (unless `check` is off) raises with compose's stderr and the tail of pouchd's log, the two places the
    cause shows."""
    assert COMPOSE is not None
    done = subprocess.run([COMPOSE, "--ansi", "never", "-f", str(directory / "docker-compose.yml"), "-p", project, *args],
                          capture_output=True, timeout=120, env=daemon.env(), cwd=directory, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)} failed ({done.returncode}):\n{done.stderr.decode()}"
                             f"\npouchd log:\n{daemon.log.read_text()[-3000:]}")
    return done
