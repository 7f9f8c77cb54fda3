"""``pouchsh COMMAND ...`` from a host shell, and the exit statuses docker users script against:
125 when ``run``/``create``/``start``/``exec`` fails before the container's command runs, 126 when that
command cannot be invoked, 127 when it is not found, otherwise the container's own status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.containerd

Argv = Callable[..., "subprocess.CompletedProcess[bytes]"]


@pytest.fixture
def argv(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path],
         pouchsh: object) -> Argv:
    """``pouchsh ARG...`` in a subprocess, as a host shell runs it (the ``pouchsh`` fixture cleans up)."""

    def run(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1]),
               "CONTAINERD_ADDRESS": containerd_address, "CONTAINERD_NAMESPACE": namespace}
        return subprocess.run([sys.executable, "-m", "pouchsh", *args], input=input, capture_output=True,
                              timeout=60, env=env, check=False)

    return run


def test_docker_lines_run_from_the_host_shell(argv: Argv) -> None:
    result = argv("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo \"up $HOSTNAME\"; sleep 60")
    assert result.returncode == 0, result.stderr
    assert argv("ps", "-a", "-q", "--no-trunc").stdout.decode().split() == [_field(argv, "web", "id")]
    assert argv("--json", "ps", "-a", "--filter", "name=web").returncode == 0
    logs = argv("logs", "web")
    assert logs.returncode == 0 and logs.stdout.decode().startswith("up "), logs.stderr
    assert argv("rm", "-f", "web").returncode == 0
    assert argv("ps", "-a", "-q").stdout == b""


def _field(argv: Argv, name: str, key: str) -> str:
    result = argv("--json", "inspect", name)
    return str(json.loads(result.stdout)[key])
