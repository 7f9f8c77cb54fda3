"""Golden cases: ``tests/cases/*.pouch``. Each file is a script, then a marker line and what running it
must print (black's test-data style)::

    let n = 3
    echo $n
    # --- output ---
    3

``# --- output ---`` is followed by the exact standard output, ``# --- error ---`` by the exact standard
error (the rendered error with its caret); a case may have both, output first. The exit status must be
0 with no error section, else 2 for parse and check errors, 130 for interrupted, 1 for the rest
(``# --- exit N ---`` states another). Each runs as ``pouchsh NAME.pouch`` in a temporary directory that
holds every case, so ``source`` works between them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lang.conftest import run_cli

CASES = Path(__file__).resolve().parents[1] / "cases"
_MARKER = re.compile(r"^# --- (output|error|exit (\d+)) ---$", re.MULTILINE)


def split_case(text: str) -> tuple[str, dict[str, str]]:
    parts = _MARKER.split(text)
    source = parts[0]
    sections: dict[str, str] = {}
    for i in range(1, len(parts), 3):
        kind, code, body = parts[i], parts[i + 1], parts[i + 2]
        sections["exit" if code else kind] = code if code else body.removeprefix("\n")
    return source, sections


def _expected_code(sections: dict[str, str]) -> int:
    if "exit" in sections:
        return int(sections["exit"])
    if "error" not in sections:
        return 0
    kind = re.match(r"error\[([a-z-]+)\]", sections["error"])
    assert kind, "an error section starts with error[KIND]"
    return {"parse": 2, "check": 2, "interrupted": 130}.get(kind.group(1), 1)


@pytest.mark.parametrize("case", sorted(CASES.glob("*.pouch")), ids=lambda p: p.stem)
def test_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for other in CASES.glob("*.pouch"):
        (tmp_path / other.name).write_text(split_case(other.read_text())[0])
    _, sections = split_case(case.read_text())
    monkeypatch.chdir(tmp_path)
    result = run_cli([case.name])
    assert result.out == sections.get("output", "")
    assert result.err == sections.get("error", "")
    assert result.code == _expected_code(sections)


def test_there_is_a_case_per_error_kind() -> None:
    kinds = set()
    for case in CASES.glob("*.pouch"):
        _, sections = split_case(case.read_text())
        kinds |= set(re.findall(r"^error\[([a-z-]+)\]", sections.get("error", ""), re.MULTILINE))
    assert {"parse", "check", "runtime", "invalid-argument", "not-found"} <= kinds
