"""A soak of run/rm cycles in one process (100 here, 1,000 with --slow): no growth in open file
descriptors, threads or leases, and nothing left behind.

Each cycle is one ``run --rm`` in the foreground (FIFOs, the JSON log writer, Wait) and one ``run -d``
(the shim's logger) removed with ``rm -f``, in one session, the way a long REPL session would make them.
The baseline is taken after a first cycle, so lazily built things (the channel, imports) are in it.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from tests.containers.helpers import EMPTY, leftovers

pytestmark = pytest.mark.containerd

CYCLE = """for i in 1..{n} {{
    run --rm --network none busybox true
    let c = run -d --network none busybox sleep 60
    rm -f $c.id
}}"""


def _resources() -> tuple[int, int]:
    gc.collect()
    return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))


def _soak(shell: Any, roots: tuple[Path, Path], cycles: int) -> None:
    shell.run(CYCLE.format(n=1))
    fds, threads = _resources()
    for done in range(0, cycles, 50):
        shell.run(CYCLE.format(n=min(50, cycles - done)))
        assert leftovers(shell.facade, roots) == EMPTY, f"after {done + 50} cycles"
    end_fds, end_threads = _resources()
    assert end_fds <= fds, f"file descriptors grew from {fds} to {end_fds}"
    assert end_threads <= threads, f"threads grew from {threads} to {end_threads}"
    assert shell.facade.ctrd.leases.list() == []


def test_soak(shell: Any, roots: tuple[Path, Path]) -> None:
    _soak(shell, roots, 100)


@pytest.mark.slow
def test_soak_long(shell: Any, roots: tuple[Path, Path]) -> None:
    _soak(shell, roots, 1000)
