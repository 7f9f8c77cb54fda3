"""An atheris (libFuzzer) target for the pouch parser and checker. Not part of the test run.

    pip install atheris                      # needs clang's libFuzzer; not a pouchsh dependency
    python tests/reliability/fuzz_parser.py -max_total_time=600 -dict=tests/reliability/pouch.dict corpus/

Each input is decoded as UTF-8 (invalid bytes replaced) and parsed and checked against the full command
table, as ``pouchsh --check`` would. A ParseError or CheckError is a correct answer; any other exception
is a crash, which libFuzzer saves as ``crash-<sha1>``. Turn each crash into a regression case: a
``tests/cases/*.pouch`` golden file with the expected error, or a case in
tests/lang/test_properties.py, then fix the parser or checker.

``corpus/`` can be seeded with ``scripts/examples/*.pouch`` and ``tests/cases/*.pouch``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> None:
    import atheris

    with atheris.instrument_imports():
        import grammar  # noqa: F401 - instrumented for coverage feedback
        from ctrd.errors import PouchError
        from pouchsh.check import CheckScope, check, parse_source
        from pouchsh.commands import load

    table = load()

    def test_one_input(data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        try:
            program = parse_source(text, "fuzz.pouch")
            check(program, table, CheckScope.root(), {"fuzz.pouch": text})
        except PouchError:
            pass  # nesting deeper than grammar.MAX_DEPTH is a ParseError too, so a RecursionError is a crash

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
