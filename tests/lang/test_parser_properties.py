"""The parser's public behaviour as properties: spans agree with the text, line breaks where the language
allows them change nothing, every error has a span inside the text, nesting is bounded with a syntax
error at the place it goes too deep, row conditions read like expressions on ``$it``, and the keywords
and operators that the grammar exports are the ones it parses."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammar
from grammar.nodes import Binary, Command, Literal, Node, Not, Pipeline, Var, Word
from tests.lang.conftest import run_cli
from tests.lang.test_properties import _SNIPPETS, _command, _expr, _statement

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _nodes(node: Any) -> Any:
    """Every node under ``node`` (itself included)."""
    if isinstance(node, Node):
        yield node
        for f in dataclasses.fields(node):
            yield from _nodes(getattr(node, f.name))
    elif isinstance(node, tuple):
        for x in node:
            yield from _nodes(x)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# ------------------------------------------------------------------------------------------ spans


@_SETTINGS
@given(st.lists(_statement(2), min_size=1, max_size=4).map("\n".join))
def test_every_span_lies_in_the_text_and_its_lines_agree_with_its_offsets(source: str) -> None:
    program = grammar.parse(source, "gen.pouch")
    for node in _nodes(program.body):
        span = node.span
        assert span.file == "gen.pouch"
        assert 0 <= span.start <= span.end <= len(source)
        assert (span.line, span.column) == _line_column(source, span.start), node
        assert (span.end_line, span.end_column) == _line_column(source, span.end), node


def test_a_word_spans_exactly_its_text() -> None:
    text = 'echo x\n  run -d --name "w$i" busybox'
    call = grammar.parse(text).body[1].elements[0]
    assert isinstance(call, Command)
    for arg in call.args:
        assert text[arg.span.start:arg.span.end] == arg.text


# ------------------------------------------------------------------------------------------ line breaks


@_SETTINGS
@given(st.lists(_command(1), min_size=2, max_size=4),
       st.sampled_from([" |\n  ", " |\n\n  ", "\n  | ", "\n  # a comment\n  | ", " | # why\n  ", " |\n  # a comment\n  "]))
def test_a_pipeline_may_break_after_or_before_its_pipes_and_across_comment_lines(stages: list[str], joint: str) -> None:
    one_line = grammar.parse(" | ".join(stages))
    assert grammar.parse(joint.join(stages)) == one_line


@_SETTINGS
@given(_expr(2), st.sampled_from(["+", "-", "*", "/", "mod", "==", "<", ">=", "=~", "and", "or", "in"]), _expr(2))
def test_inside_parentheses_a_line_may_break_after_an_operator(left: str, op: str, right: str) -> None:
    one_line = grammar.parse(f"echo ({left} {op} {right})")
    assert grammar.parse(f"echo ({left} {op}\n    {right})") == one_line
    assert grammar.parse(f"echo (\n  {left}\n  {op} {right}\n)") == one_line


def test_the_language_notes_examples_of_continuation() -> None:
    assert grammar.parse("echo (1 +\n 2)") == grammar.parse("echo (1 + 2)")
    assert grammar.parse("ps -a |\n  where status == exited |\n  length") == grammar.parse(
        "ps -a | where status == exited | length")
    assert grammar.parse("ps -a\n# which are gone\n  | where status == exited") == grammar.parse(
        "ps -a | where status == exited")
    assert len(grammar.parse("ps\n# a comment\nlength").body) == 2


def test_what_a_comment_says_continues_nothing() -> None:
    program = grammar.parse("echo a\n# see `ps | where` and | or else\necho b\n# | else catch\necho c")
    assert len(program.body) == 3
    program = grammar.parse("if true { echo a }\n# else, a comment\nelse { echo b }")
    assert program.body[0].orelse is not None


def test_outside_parentheses_a_newline_after_an_operator_is_an_error_not_a_silent_join() -> None:
    with pytest.raises(grammar.SyntaxErrors) as e:
        grammar.parse("let x = 1 +\n2")
    assert e.value.issues[0].span.line == 1


# ------------------------------------------------------------------------------------------ the REPL's question


@_SETTINGS
@given(st.lists(_statement(1), min_size=1, max_size=3).map("\n".join),
       st.sampled_from(["for i in 1..3 {", "echo (1 +", "let l = [a,", "ps |", "ps |\n  # why", "echo a \\",
                        'echo "abc', "let r = {name: web,", 'echo "$(ps'] ))
def test_a_complete_program_is_complete_and_an_open_tail_makes_it_incomplete(source: str, tail: str) -> None:
    assert grammar.is_complete(source)
    assert not grammar.is_complete(source + "\n" + tail)


# ------------------------------------------------------------------------------------------ errors

_NOISE = st.sampled_from(list("ab1 \n|;()[]{}\"'$#.,=+-*/<>!~:?^\\") + [
    "and ", " or ", "in", "else", "catch", "--x", "-d", "{a: ", "..", " ..", "$(", "(1)", "{|x| ", "let ", "if ",
    "for ", "def f [", "try {", "not ", "64MiB", "\\\n", "\n| ", "|\n",
])


@_SETTINGS
@given(st.lists(st.sampled_from(_SNIPPETS), min_size=1, max_size=5), st.data())
def test_mutated_programs_parse_or_give_errors_with_spans_in_the_text(snippets: list[str], data: st.DataObject) -> None:
    text = "\n".join(snippets)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        text = text[:i] + data.draw(_NOISE) + text[i + data.draw(st.integers(0, 1)):]
    try:
        grammar.parse(text, "m.pouch")
    except grammar.SyntaxErrors as e:
        assert 1 <= len(e.issues) <= 10
        for issue in e.issues:
            assert issue.message
            assert 0 <= issue.span.start <= issue.span.end <= len(text)
            assert (issue.span.line, issue.span.column) == _line_column(text, issue.span.start)


# ------------------------------------------------------------------------------------------ nesting

_DEEP = {
    "parentheses": lambda n: "echo " + "(" * n + "1" + ")" * n,
    "lists": lambda n: "echo " + "[" * n + "1" + "]" * n,
    "records": lambda n: "echo " + "{a: " * n + "1" + "}" * n,
    "blocks": lambda n: "if true { " * n + "echo hi" + " }" * n,
    "closures": lambda n: "let f = " + "{|| " * n + "1" + " }" * n,
    "operators": lambda n: "echo (" + " + ".join(["1"] * (n + 1)) + ")",
    "not": lambda n: "echo (" + "not " * n + "true)",
    "else if": lambda n: "if false { } " + "else if false { } " * n + "else { echo e }",
}


@pytest.mark.parametrize("shape", sorted(_DEEP))
def test_nesting_up_to_the_limit_runs(shape: str) -> None:
    result = run_cli(["-c", _DEEP[shape](grammar.MAX_DEPTH - 2)])
    assert result.code == 0, result.err
    assert result.err == ""


@pytest.mark.parametrize("shape", sorted(_DEEP))
@pytest.mark.parametrize("depth", [grammar.MAX_DEPTH + 5, 20_000])
def test_nesting_beyond_the_limit_is_a_syntax_error_with_a_caret(shape: str, depth: int) -> None:
    text = _DEEP[shape](depth)
    with pytest.raises(grammar.SyntaxErrors) as e:
        grammar.parse(text)
    issue = e.value.issues[0]
    assert issue.message.startswith("nesting too deep")
    assert issue.span.line == 1 and 0 < issue.span.start < len(text)
    result = run_cli(["-c", text])
    assert result.code == 2
    assert result.err.startswith("error[parse]: nesting too deep")
    lines = result.err.splitlines()
    assert lines[1].lstrip().startswith("--> ") and lines[1].endswith(f":1:{issue.span.column}")
    assert lines[-2].strip(" |") == "^" * (issue.span.end - issue.span.start)


# ------------------------------------------------------------------------------------------ row conditions

_FIELDS = st.sampled_from(["status", "name", "labels.tier", "ports.0", "size", "name?"])
_VALUES = st.sampled_from(["running", "web", "1MiB", "80", '"a b"', "$x", "(1 + 2)", "[a b]", "true"])
_OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in"])


def _condition() -> st.SearchStrategy[tuple[str, str]]:
    """A row condition and the same condition written on ``$it``."""
    cmp = st.tuples(_FIELDS, _OPS, _VALUES).map(lambda t: (f"{t[0]} {t[1]} {t[2]}", f"$it.{t[0]} {t[1]} {t[2]}"))
    return st.recursive(cmp, lambda sub: st.one_of(
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: (f"{t[0][0]} {t[1]} {t[2][0]}",
                                                                          f"{t[0][1]} {t[1]} {t[2][1]}")),
        sub.map(lambda c: (f"not {c[0]}", f"not {c[1]}")),
    ), max_leaves=4)


@_SETTINGS
@given(_condition())
def test_a_row_condition_reads_as_the_expression_on_it(pair: tuple[str, str]) -> None:
    condition, on_it = pair
    text = f"ps | where {condition}"
    start = text.index("where ") + 6
    got = grammar.parse_condition(text, start, len(text), "c.pouch")
    want = grammar.parse(f"echo ({on_it})").body[0].elements[0].args[0].pipeline.elements[0]
    assert got == want
    assert (got.span.start, got.span.end) == (start, len(text))


def test_a_row_condition_with_an_error_points_into_the_source() -> None:
    text = "echo x\nps | where size > 1MiB and (name"
    with pytest.raises(grammar.SyntaxIssue) as e:
        grammar.parse_condition(text, text.index("size"), len(text), "c.pouch")
    assert (e.value.span.line, e.value.span.column) == (2, 28)
    assert e.value.message == "`(` is not closed"


# ------------------------------------------------------------------------------------------ vocabulary


def test_the_vocabulary_is_the_grammars() -> None:
    assert {"let", "if", "else", "for", "in", "while", "def", "return", "break", "continue", "try", "catch",
            "transaction", "exit", "and", "or", "not", "source", "true", "false", "null"} == grammar.KEYWORDS
    assert set(grammar.STATEMENT_KEYWORDS) == {"let", "if", "for", "while", "def", "try", "transaction", "return",
                                               "break", "continue", "exit", "source"}
    assert set(grammar.LITERALS) == {"true", "false", "null"}
    assert set(grammar.OPERATORS) == {"==", "!=", "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "mod",
                                      "..", "and", "or", "not", "in"}


def test_the_vocabulary_read_from_the_grammar_text_is_the_parsers() -> None:
    from grammar.parser import current

    lark = current()
    words = {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str" and t.pattern.value.isalpha()}
    assert set(words.values()) == grammar.KEYWORDS
    at_start = lark.parse_interactive("", start="start").accepts()
    starting = {w for name, w in words.items() if name in at_start}
    assert set(grammar.STATEMENT_KEYWORDS) == starting - set(grammar.LITERALS) - set(grammar.WORD_OPERATORS)
    patterns = [lark.get_terminal(name).pattern.to_regexp() for name in ("COMP_OP", "ADD_OP", "MUL_OP", "RANGE")]
    for op in (*grammar.SYMBOL_OPERATORS, "mod"):
        assert any((m := re.match(p, op + tail)) and m.group() == op for p in patterns for tail in (" ", "1")), op


@pytest.mark.parametrize("keyword", sorted(["let", "if", "else", "for", "in", "while", "def", "return", "break",
                                            "continue", "try", "catch", "transaction", "exit", "and", "or", "not",
                                            "source"]))
def test_every_keyword_is_a_word_in_arguments(keyword: str) -> None:
    call = grammar.parse(f"run --name {keyword} busybox").body[0].elements[0]
    assert [a.text for a in call.args] == ["--name", keyword, "busybox"]


def test_every_binary_operator_is_parsed_as_one() -> None:
    for op in grammar.OPERATORS:
        if op in ("not", ".."):
            continue
        e = grammar.parse(f"echo ($a {op} $b)").body[0].elements[0].args[0].pipeline.elements[0]
        assert isinstance(e, Binary) and e.op == op and isinstance(e.left, Var)
    assert isinstance(grammar.parse("echo (not $a)").body[0].elements[0].args[0].pipeline.elements[0], Not)


def test_every_statement_keyword_starts_a_statement() -> None:
    for keyword in grammar.STATEMENT_KEYWORDS:
        try:
            stmt = grammar.parse(keyword + " ").body
        except grammar.SyntaxErrors:
            continue  # it needs more than itself: then it is not read as a command either
        assert not (isinstance(stmt[0], Pipeline) and isinstance(stmt[0].elements[0], Command)), keyword


def test_literal_words_are_literals_in_arguments() -> None:
    args = grammar.parse("echo true false null").body[0].elements[0].args
    assert [type(a) for a in args] == [Literal, Literal, Literal]
    assert [type(a) for a in grammar.parse("echo True nul").body[0].elements[0].args] == [Word, Word]


# ------------------------------------------------------------------------------------------ threads


def test_threads_share_the_parser_and_keep_their_own_sources() -> None:
    """The REPL parses in its main thread while the warm-up or completion thread may parse too."""
    import threading

    texts = {f"t{i}.pouch": "\n" * i + f'echo "{i} $(echo {i})" | where n == {i}\nlet x{i} = [{i}]' for i in range(4)}
    want = {name: grammar.parse(text, name) for name, text in texts.items()}
    failures: list[str] = []

    def work(name: str) -> None:
        for _ in range(40):
            got = grammar.parse(texts[name], name)
            condition = grammar.parse_condition(texts[name], texts[name].index("n =="), texts[name].index("\nlet"), name)
            spans = [n.span for n in _nodes(got.body)] + [condition.span]
            if got != want[name] or any(s.file != name for s in spans) or \
                    [n.span for n in _nodes(got.body)] != [n.span for n in _nodes(want[name].body)]:
                failures.append(name)

    threads = [threading.Thread(target=work, args=(name,)) for name in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
