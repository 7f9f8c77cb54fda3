"""The fast parser gives exactly the Lark parser's AST, spans included, wherever it does not give up."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammar import fastparse
from grammar.parser import SyntaxErrors, _Source, make_literal, parse
from tests.lang.test_golden import split_case
from tests.lang.test_language_md import CONTAINER, PURE, STATEMENTS
from tests.lang.test_properties import _SNIPPETS, _statement

CASES = Path(__file__).resolve().parents[1] / "cases"


def dump(node: Any) -> Any:
    """Everything in a node, spans too."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,) + tuple((f.name, dump(getattr(node, f.name))) for f in dataclasses.fields(node)
                                              if f.name != "text" or not hasattr(node, "body"))
    if isinstance(node, (tuple, list)):
        return tuple(dump(x) for x in node)
    return node


def fast(text: str) -> Any:
    parse("")  # builds the parser, which compiles the fast path's patterns
    try:
        return fastparse.parse_program(text, "f.pouch", make_literal)
    except fastparse.Bail:
        return None


def same_as_lark(text: str) -> bool:
    """True when the fast path parsed ``text`` (and then it must agree with Lark)."""
    from grammar import parser

    got = None
    parser._state.source = _Source(text, "f.pouch")
    try:
        got = fast(text)
    except parser.SyntaxIssue:
        got = None
    finally:
        parser._state.source = None
    if got is None:
        return False
    try:
        want = parse(text, "f.pouch", reference=True).body
    except SyntaxErrors as e:
        raise AssertionError(f"the fast path accepted what Lark rejects: {e.issues[0].message}") from None
    assert dump(got) == dump(want)
    return True


def test_golden_cases_and_language_examples_take_the_fast_path() -> None:
    sources = [split_case(p.read_text())[0] for p in sorted(CASES.glob("*.pouch")) if not p.stem.startswith("err_")]
    sources += [STATEMENTS, *CONTAINER, *(s for s, _ in PURE)]
    missed = [s for s in sources if not same_as_lark(s)]
    assert missed == []


def test_the_benchmark_script_takes_the_fast_path() -> None:
    from bench.parse import script

    assert same_as_lark(script(200))


_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(_statement(2), min_size=1, max_size=5).map("\n".join))
def test_generated_programs(source: str) -> None:
    same_as_lark(source)


_CHARS = st.sampled_from(list("ab1 \n|;()[]{}\"'$#.,=+-*/<>!~:?^\\") + [
    "and ", " or ", "in", "else", "catch", "--x", "-d", "{a: ", "..", " ..", "$(", "(1)", "{|x| ", "let ", "if ",
    "for ", "def f [", "try {", "not ", "64MiB", "\\\n", "\n| ",
])


@_SETTINGS
@given(st.lists(st.sampled_from(_SNIPPETS), min_size=1, max_size=5), st.data())
def test_mutated_programs(snippets: list[str], data: st.DataObject) -> None:
    text = "\n".join(snippets)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        text = text[:i] + data.draw(_CHARS) + text[i + data.draw(st.integers(0, 1)):]
    same_as_lark(text)
