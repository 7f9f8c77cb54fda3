"""``kill -9`` of ``cp CONTAINER:PATH DEST``, ``export -o`` and ``save -o`` half-way (managers.faults): what
they leave on the host is a temporary sibling of the destination, which the next invocation removes
(managers.hostwrite journals it, managers.intents reconciles it); the destination itself is never half
written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def pouch(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path]) -> Run:
    """``pouch(*words, fault=NAME)``: pouchsh in a subprocess, with a failpoint armed."""

    def run(*args: str, fault: str | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
        env = pouchsh_env(roots, **({"POUCHSH_FAULT": fault} if fault else {}))
        return subprocess.run(argv, capture_output=True, timeout=120, env=env, cwd=REPO, check=False)

    return run


def _siblings(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".pouchsh-" in p.name)


def _intents(roots: tuple[Path, Path]) -> list[str]:
    return sorted(p.name for p in (roots[0] / "intents").glob("*"))


@pytest.mark.parametrize("command", ["cp", "cp a directory", "export -o", "save -o"])
def test_a_killed_write_leaves_only_a_sibling_the_next_invocation_removes(
    pouch: Run, roots: tuple[Path, Path], tmp_path: Path, busybox_image: str, command: str
) -> None:
    made = pouch("create", "--network", "none", "--name", "box", "busybox", "true")
    assert made.returncode == 0, made.stderr.decode()[-2000:]
    dest_dir = tmp_path / "out"
    dest_dir.mkdir()
    final = dest_dir / "copy"
    argv, fault = {
        "cp": (["cp", "box:/bin/busybox", str(final)], "cp.host.partial"),
        "cp a directory": (["cp", "box:/etc", str(final)], "cp.host.partial"),
        "export -o": (["export", "-o", str(final), "box"], "host.write.written"),
        "save -o": (["save", "-o", str(final), busybox_image], "host.write.written"),
    }[command]
    proc = pouch(*argv, fault=fault)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr.decode()[-2000:])
    left = _siblings(dest_dir)
    assert len(left) == 1 and left[0].startswith(".copy.pouchsh-"), left  # the failpoint is past its making
    assert not final.exists()
    assert _intents(roots), "the write was not journalled"

    after = pouch("-c", "ps -a -q")  # any command that touches a manager reconciles first
    assert after.returncode == 0, after.stderr.decode()[-2000:]
    assert _siblings(dest_dir) == [] and os.listdir(dest_dir) == []
    assert _intents(roots) == []

    again = pouch(*argv)  # and the same write goes through now
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert final.exists() and _siblings(dest_dir) == [] and _intents(roots) == []
