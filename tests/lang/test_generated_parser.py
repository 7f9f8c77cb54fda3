"""grammar/_lark.py, the generated parser a run imports, is the one pouch.lark and the installed Lark make."""

from __future__ import annotations

import subprocess
import sys

from pathlib import Path
from typing import Any

from lark import Lark

from grammar import _lark
from grammar.generate import OPTIONS, digest, generate
from grammar.paths import GRAMMAR_PATH


def test_the_generated_parser_is_made_from_the_grammar_and_lark_now() -> None:
    assert _lark.MADE_FROM == digest(), "grammar/_lark.py is stale: run `python -m grammar.generate` (make grammar)"


def test_the_generator_builds_strict_and_records_what_it_was_made_from() -> None:
    text = generate()  # Lark refuses a conflict or a terminal collision here
    assert text.endswith(f"MADE_FROM = {digest()!r}\n")
    assert "def Lark_StandAlone" in text


CASES = Path(__file__).resolve().parents[1] / "cases"


class _KeepNewlines:
    """A postlexer that changes nothing (the parser's drops newlines inside brackets): both parsers get it."""

    always_accept = ("_NL",)

    def process(self, stream: Any) -> Any:
        return stream


def _outcome(parser: Any, text: str, start: str) -> Any:
    """The parse tree as nested tuples (trees from lark and from grammar/_lark.py then compare), or
    where the parse failed."""

    def shape(node: Any) -> Any:
        if hasattr(node, "children"):
            return (node.data, tuple(shape(c) for c in node.children))
        return (node.type, str(node))

    try:
        return shape(parser.parse(text, start=start))
    except Exception as e:  # noqa: BLE001 - lark's and the generated module's errors are different classes
        return (type(e).__name__, getattr(e, "pos_in_stream", None))


def test_the_generated_tables_parse_as_a_fresh_strict_build_does() -> None:
    fresh = Lark(Path(GRAMMAR_PATH).read_text(encoding="utf-8"), strict=True, postlex=_KeepNewlines(), **OPTIONS)
    ours = _lark.Lark_StandAlone(postlex=_KeepNewlines())
    cases = sorted(CASES.glob("*.pouch"))
    assert cases
    for case in cases:
        text = case.read_text(encoding="utf-8")
        assert _outcome(ours, text, "start") == _outcome(fresh, text, "start"), case.name
    for condition in ("size > 1MiB and name =~ web", "not status == up or labels.tier in [a, b]"):
        assert _outcome(ours, condition, "condition") == _outcome(fresh, condition, "condition")


def test_parsing_does_not_import_lark() -> None:
    code = "import sys, grammar; grammar.parse('ps | where status == up'); print('lark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
