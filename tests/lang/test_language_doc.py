"""Every example of docs/LANGUAGE.md runs as written there.

A ```pouch block runs and must print the ```output block after it (stdout, exit status 0); a
```pouch error block must fail with exit status 2 and print the ```output block on stderr; a
```pouch dry-run block (container commands) must pass ``--check`` and run under ``--dry-run``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lang.conftest import run_cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "LANGUAGE.md"
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\n", re.S | re.M)


def examples() -> list[tuple[str, str, str | None]]:
    """(kind, source, expected output or None) for each pouch block, in order."""
    blocks = [(m.group(1).strip(), m.group(2), m.end(), m.start()) for m in _FENCE.finditer(DOC.read_text())]
    out = []
    for i, (info, body, end, _) in enumerate(blocks):
        if not info.startswith("pouch"):
            continue
        expected = None
        if i + 1 < len(blocks) and blocks[i + 1][0] == "output" and blocks[i + 1][3] == end:
            expected = blocks[i + 1][1]
        out.append((info.removeprefix("pouch").strip() or "run", body, expected))
    return out


EXAMPLES = examples()


def test_the_page_has_examples_of_every_kind() -> None:
    kinds = [k for k, _, _ in EXAMPLES]
    assert kinds.count("run") >= 10 and "error" in kinds and "dry-run" in kinds
    assert all(k in ("run", "error", "dry-run") for k in kinds)
    assert all(expected is not None for k, _, expected in EXAMPLES if k != "dry-run")


@pytest.mark.parametrize(("kind", "source", "expected"), EXAMPLES, ids=[s.splitlines()[0] for _, s, _ in EXAMPLES])
def test_example(kind: str, source: str, expected: str | None) -> None:
    if kind == "dry-run":
        checked = run_cli(["--check", "-c", source])
        assert (checked.code, checked.err) == (0, "")
        dry = run_cli(["--dry-run", "-c", source])
        assert (dry.code, dry.err) == (0, "")
        return
    result = run_cli(["-c", source])
    if kind == "error":
        assert (result.code, result.err) == (2, expected)
    else:
        assert (result.code, result.err, result.out) == (0, "", expected)
