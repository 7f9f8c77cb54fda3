"""Every Example of every declared command passes the checker; those that declare an output print it."""

from __future__ import annotations

import pytest

from pouchsh.commands import load
from tests.lang.conftest import run_cli

EXAMPLES = [
    pytest.param(cmd, example, id=f"{cmd.name}: {example.source}")
    for cmd in load().commands()
    for example in cmd.examples
]


@pytest.mark.parametrize(("cmd", "example"), EXAMPLES)
def test_example_passes_the_checker(cmd, example) -> None:
    result = run_cli(["--check", "-c", example.source])
    assert (result.code, result.err) == (0, ""), result.err


@pytest.mark.parametrize(("cmd", "example"), [p for p in EXAMPLES if p.values[1].output is not None])
def test_example_prints_its_output(cmd, example, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["-c", example.source], env={"NO_COLOR": "1"})
    assert (result.code, result.err) == (0, "")
    assert result.out.rstrip("\n") == example.output
