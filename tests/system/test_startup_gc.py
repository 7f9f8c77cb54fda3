"""The ``pouchsh`` process puts the collector's first pass off past start-up, then collects as before."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import gc
from pouchsh.collector import STARTUP_GEN0_THRESHOLD, collect_after_startup

default = gc.get_threshold()
callbacks = list(gc.callbacks)
collect_after_startup()
assert gc.get_threshold() == (STARTUP_GEN0_THRESHOLD, *default[1:]), gc.get_threshold()
gc.collect(0)
assert gc.get_threshold() == default, gc.get_threshold()
assert gc.callbacks == callbacks, gc.callbacks
"""


def test_the_first_collection_restores_the_default_thresholds() -> None:
    # A process of its own: the test runner's collector is left alone.
    subprocess.run([sys.executable, "-c", PROGRAM], check=True, timeout=60)


def test_the_program_runs_a_script_with_the_policy_set() -> None:
    proc = subprocess.run([sys.executable, "-m", "pouchsh", "-c", "echo (1..3 | each {|i| {n: $i} } | length)"],
                          capture_output=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"3\n", b"")
