"""``pouchsh COMMAND ARGS...`` from a host shell: the shell's words are data, never pouch source, and
nothing in the working directory decides what a command name runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

HOSTILE = [
    "$(^touch /tmp/pwned)",
    "; ^touch /tmp/pwned",
    "$env.HOME",
    "`id`",
    "{|x| ^touch /tmp/pwned}",
    "exit 9",
    "\"'\\",
    "--name=x\ny",
]


def _pouchsh(containerd_address: str, namespace: str, roots: tuple[Path, Path], cwd: Path,
             *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**pouchsh_env(roots), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
    return subprocess.run(argv, capture_output=True, timeout=120, env=env, cwd=cwd, check=False)


def test_words_reach_the_container_verbatim(containerd_address: str, namespace: str, busybox_image: str,
                                            roots: tuple[Path, Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    words = [w.replace("/tmp/pwned", str(marker)) for w in HOSTILE]
    result = _pouchsh(containerd_address, namespace, roots, tmp_path, "run", "--rm", "busybox", "printf",
                      "%s\\0", *words)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(b"\0")[:-1] == [w.encode() for w in words]
    assert not marker.exists()


def test_a_planted_file_named_like_a_command_is_not_run(containerd_address: str, namespace: str,
                                                        busybox_image: str, roots: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    marker, cwd = tmp_path / "ran", tmp_path / "cwd"
    cwd.mkdir()
    for name in ("ps", "run", "rm"):
        (cwd / name).write_text(f"^touch {marker}\n")
    result = _pouchsh(containerd_address, namespace, roots, cwd, "ps", "-a", "-q")
    assert (result.returncode, result.stdout) == (0, b""), result.stderr
    result = _pouchsh(containerd_address, namespace, roots, cwd, "rm", "nosuch")
    assert result.returncode == 1 and result.stderr.startswith(b"error[not-found]")
    assert not marker.exists()
    # by its path the script runs, as the user asked
    assert _pouchsh(containerd_address, namespace, roots, cwd, "./ps").returncode == 0
    assert marker.exists()


def test_a_word_that_is_not_utf8_runs_nothing(containerd_address: str, namespace: str, busybox_image: str,
                                              roots: tuple[Path, Path], tmp_path: Path) -> None:
    result = _pouchsh(containerd_address, namespace, roots, tmp_path, "run", "--name", os.fsdecode(b"w\xff"),
                      "busybox", "true")
    assert result.returncode == 2 and b"is not UTF-8" in result.stderr
    assert _pouchsh(containerd_address, namespace, roots, tmp_path, "ps", "-a", "-q").stdout == b""
