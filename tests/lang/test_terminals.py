"""The fast path's table of terminal patterns (grammar/terminals.py) is generated from pouch.lark as it is."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grammar import terminals


def test_the_terminal_table_matches_the_grammar() -> None:
    # After an edit of pouch.lark: `python -m grammar.terminals` writes the table again.
    assert terminals.current()
    with open(terminals.__file__, encoding="utf-8") as f:
        assert f.read() == terminals.generate()


def test_the_fast_path_knows_the_first_characters_of_the_operators() -> None:
    # fastparse tries an operator's regex only after one of these characters.
    import re
    import string

    from grammar import fastparse

    firsts = {"COMP_OP": fastparse._COMP_FIRST, "ADD_OP": fastparse._ADD_FIRST, "MUL_OP": fastparse._MUL_FIRST,
              "RANGE": frozenset(".")}
    for name, first in firsts.items():
        pattern = re.compile(terminals.PATTERNS[name])
        for c in string.printable:
            if c not in first:
                for rest in ("= x", "~ x", " x", "od x", ". x", ".x", "x"):
                    assert pattern.match(c + rest) is None, (name, c + rest)


def test_with_a_stale_table_the_patterns_come_from_the_lark_parser(monkeypatch) -> None:
    import grammar
    from grammar import fastparse

    monkeypatch.setattr(terminals, "GRAMMAR_CRC", terminals.GRAMMAR_CRC + 1)
    monkeypatch.setattr(fastparse, "_SOURCES", {})
    monkeypatch.setattr(fastparse, "_R", {})
    assert not terminals.current()
    assert grammar.parse("echo a | where x == 1").body
    assert {k: v for k, v in fastparse._SOURCES.items() if k not in ("ARG", "PLAIN")} == terminals.PATTERNS


_ALPHABET = "ab_1-0.:,$\"'\\#^=|;(){}[] \t\nmsk9"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=12))
def test_the_fast_paths_argument_pattern_reads_as_the_terminals_do(text: str) -> None:
    # ARG adds PLAIN (a WORD with nothing to split), guards KEY and makes the blanks possessive, all for
    # speed: it must find what the terminals tried in the lexer's order find, and PLAIN what WORD finds.
    import re

    from grammar import fastparse

    p = terminals.PATTERNS
    plain_alternatives = "|".join(f"(?P<{k}>{p[k]})" for k in ("KEY", "NUMBER", "SIZE", "DURATION", "WORD"))
    reference = re.compile(f"[ \\t\\f]*(?:{plain_alternatives})").match(text)
    fastparse._load()
    fast = fastparse._compiled("ARG").match(text)
    assert (fast is None) == (reference is None)
    if fast is not None and reference is not None:
        kind = "WORD" if fast.lastgroup == "PLAIN" else fast.lastgroup
        assert (kind, fast.span(fast.lastgroup)) == (reference.lastgroup, reference.span(reference.lastgroup))
        if fast.lastgroup == "PLAIN":
            assert not set(fast.group("PLAIN")) & set("$\"'\\")
    word = re.compile(p["WORD"]).match(text)
    plain = fastparse._compiled("PLAIN").match(text)
    assert plain is None or (word is not None and plain.group() == word.group())
