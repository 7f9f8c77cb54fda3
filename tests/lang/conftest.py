"""Language tests: pure, no containerd. Every program runs through the command line's own code path,
in-process. The parser's tables are built strict (Lark refuses any conflict or regex collision) when
grammar/_lark.py is generated; test_generated_parser.py holds that file to the grammar."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from pouchsh import cli


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> Result:
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(argv, stdin=io.BytesIO(stdin.encode()), stdout=out, stderr=err,
                   env={"HOME": "/root", "PATH": "/usr/bin:/bin", **(env or {})})
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def pouch():
    """``pouch(source, *options)`` runs source with ``-c`` and returns (code, out, err)."""

    def run(source: str, *options: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        return run_cli([*options, "-c", source], stdin=stdin, env=env)

    return run
