"""grammar/_lark.py, the generated parser a run imports, is the one pouch.lark and the installed Lark make."""

from __future__ import annotations

import subprocess
import sys

import grammar
from grammar import _lark
from grammar.generate import digest, generate


def test_the_generated_parser_is_made_from_the_grammar_and_lark_now() -> None:
    assert _lark.MADE_FROM == digest(), "grammar/_lark.py is stale: run `python -m grammar.generate` (make grammar)"


def test_the_generator_builds_strict_and_records_what_it_was_made_from() -> None:
    text = generate()  # Lark refuses a conflict or a terminal collision here
    assert text.endswith(f"MADE_FROM = {digest()!r}\n")
    assert "def Lark_StandAlone" in text


def test_the_generated_tables_parse_as_a_fresh_strict_build_does() -> None:
    from grammar.generate import build

    fresh = build()
    ours = __import__("grammar.parser", fromlist=["current"]).current()
    for text in ("let x = 1\n", "ps -a | where status == exited | each {|c| rm $c.id }\n",
                 "if $n > 2 { echo many } else { echo few }\n", "for i in 1..3 { echo $i }\n"):
        # The same terminals, and the same shape from both (ours builds the AST during the parse).
        assert [t.type for t in fresh.lex(text, dont_ignore=False)] == [t.type for t in ours.lex(text)]
        assert grammar.parse(text).body


def test_parsing_does_not_import_lark() -> None:
    code = "import sys, grammar; grammar.parse('ps | where status == up'); print('lark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
