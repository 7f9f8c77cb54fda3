"""``rm -f`` in one process while another process's ``run -d`` of the same container is starting it.

A runc wrapper holds ``runc create`` (or ``runc start``) of the run, so the removal lands while the run
is inside Tasks.Create (or Tasks.Start). The run must either succeed or fail with a clean not-found, the
removal must succeed, and nothing may be left: no container, task, shim, ``runc init`` or logger.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def _runc_wrapper(directory: Path, verb: str) -> tuple[Path, Path, Path]:
    """A runc that waits before ``verb`` while ``hold`` exists (and touches ``held`` when it gets there)."""
    hold, held, binary = directory / "hold", directory / "held", directory / "held-runc"
    binary.write_text(
        "#!/bin/sh\n"
        f'if [ -e {hold} ]; then for a in "$@"; do if [ "$a" = {verb} ]; then\n'
        f"  touch {held}; while [ -e {hold} ]; do sleep 0.02; done\n"
        "fi; done; fi\n"
        f'exec {shutil.which("runc")} "$@"\n'
    )
    binary.chmod(0o755)
    return hold, held, binary


def _blocked_on_flock(pid: int) -> bool:
    """Whether ``pid`` waits for an flock (/proc/locks marks waiters with ``->``)."""
    with open("/proc/locks") as f:
        return any("->" in line and "FLOCK" in line and line.split()[-4] == str(pid) for line in f)


def _processes_naming(text: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry}: {cmdline[:200]}")
    return found


@pytest.mark.parametrize("verb", ["create", "start"])
def test_rm_f_while_another_process_runs_it(
    verb: str, mgr: Any, containerd_address: str, namespace: str, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    hold, held, runtime = _runc_wrapper(tmp_path, verb)
    env = dict(os.environ, POUCHSH_ROOT=str(roots[0]), POUCHSH_RUN=str(roots[1]))
    env.pop("CONTAINERD_NAMESPACE", None)
    base = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, "-c"]
    hold.touch()
    run = subprocess.Popen([*base, f"run -d --runtime {runtime} --network none --name job busybox sleep 600"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    remove: subprocess.Popen[bytes] | None = None
    try:
        poll(lambda: held.exists() or run.poll() is not None, "runc was never reached", interval=0.01)
        assert run.poll() is None, run.stderr.read().decode()  # type: ignore[union-attr]
        (container,) = mgr.ctrd.containers.list()
        remove = subprocess.Popen([*base, "rm -f job"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        # The removal has got as far as it can while the run is inside runc: waiting for the container.
        poll(lambda: _blocked_on_flock(remove.pid) or remove.poll() is not None, "rm -f never waited", interval=0.01)
    finally:
        hold.unlink(missing_ok=True)
    _, run_err = run.communicate(timeout=120)
    assert remove is not None
    _, rm_err = remove.communicate(timeout=120)

    assert remove.returncode == 0, rm_err.decode()
    if run.returncode != 0:
        assert b"error[not-found]" in run_err, run_err.decode()
        assert b"container job was removed while starting" in run_err, run_err.decode()
    client = mgr.ctrd
    assert client.containers.list() == []
    assert client.tasks.list() == []
    assert _processes_naming(container.id) == []  # shim (-id CID), runc init
    assert not (roots[0] / "names" / namespace / "job").exists()
