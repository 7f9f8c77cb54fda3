"""Every builtin example that declares its output runs through `pouchsh -c` and prints exactly that.

The examples are what `help` shows, so the help cannot drift from the behaviour. stdout is a pipe here,
so the output is the plain-text display.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pouchsh.commands import load

REPO = Path(__file__).resolve().parents[2]
CASES = [
    pytest.param(example, id=f"{cmd.name}: {example.source}")
    for cmd in load().commands()
    if cmd.fn.__module__.startswith("pouchsh.builtins.")
    for example in cmd.examples
    if example.output is not None
]
pytestmark = pytest.mark.skipif(
    not (REPO / "pouchsh" / "__main__.py").exists(), reason="the evaluator (pouchsh -c) is not there yet"
)


@pytest.mark.parametrize("example", CASES)
def test_example_prints_its_declared_output(example, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pouchsh", "-c", example.source],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )
    assert result.stderr == "" and result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == example.output
