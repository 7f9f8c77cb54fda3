"""The grammar: strict LALR build, spans, soft keywords, words, continuations, errors, completion API."""

from __future__ import annotations

import pytest

import grammar
from grammar.nodes import Binary, Closure, Command, Literal, Pipeline, RecordExpr, Str, Var, Word
from grammar.generate import build


def first_call(text: str) -> Command:
    stmt = grammar.parse(text).body[0]
    assert isinstance(stmt, Pipeline)
    call = stmt.elements[0]
    assert isinstance(call, Command)
    return call


def test_strict_build_has_no_conflicts_or_collisions() -> None:
    build()  # strict: Lark raises on a conflict or a collision


def test_every_node_has_a_span_with_line_column_and_offsets() -> None:
    program = grammar.parse("echo a\nlet x = [1, $y]\n", "f.pouch")
    let = program.body[1]
    assert (let.span.line, let.span.column, let.span.start) == (2, 1, 7)
    items = let.value.elements[0].items
    assert items[1].span.file == "f.pouch"
    assert (items[1].span.line, items[1].span.column, items[1].span.end_column) == (2, 13, 15)
    assert let.name_span.column == 5


def test_interpolated_pipeline_keeps_true_positions() -> None:
    program = grammar.parse('echo x\necho "a $(ps | length) b"')
    s = program.body[1].elements[0].args[0]
    assert isinstance(s, Str)
    inner = s.parts[1]
    assert isinstance(inner, Pipeline)
    assert (inner.span.line, inner.span.column) == (2, 11)
    with pytest.raises(grammar.SyntaxErrors) as e:
        grammar.parse('echo x\necho "a $(ps | | y) b"')
    assert (e.value.issues[0].span.line, e.value.issues[0].span.column) == (2, 16)


@pytest.mark.parametrize("word", ["-d", "--name=web", "8080:80", "127.0.0.1:5000/app:1.0", "/data/x", "a=b", "a#b",
                                  "for", "if", "where", "x,y", "--label=\"a b\""])
def test_bare_words(word: str) -> None:
    arg = first_call(f"run {word}").args[0]
    assert isinstance(arg, Word)
    assert arg.text == word


def test_quoted_segment_inside_a_word_loses_its_quotes() -> None:
    assert first_call('run --label="a b"').args[0].value == "--label=a b"


def test_soft_keywords_are_words_in_arguments() -> None:
    assert [a.text for a in first_call("run --name for busybox").args] == ["--name", "for", "busybox"]


def test_literals() -> None:
    args = first_call("echo 42 -3 2.5 64MiB 512k 1GB 500ms 2m true null").args
    kinds = [(a.kind, a.value) for a in args]
    assert kinds == [("int", 42), ("int", -3), ("float", 2.5), ("size", 64 << 20), ("size", 512 << 10),
                     ("size", 10**9), ("duration", 500_000_000), ("duration", 120 * 10**9), ("bool", True),
                     ("null", None)]


def test_comments_continuations_and_separators() -> None:
    program = grammar.parse("echo a # note\necho b; echo c \\\n  d\nps -a\n  | where x\n  | length")
    assert len(program.body) == 4
    assert [a.text for a in program.body[2].elements[0].args] == ["c", "d"]
    assert len(program.body[3].elements) == 3


def test_newlines_inside_brackets_and_records_do_not_end_statements() -> None:
    program = grammar.parse("let r = {\n  name: web,\n  port: 80\n}\nlet l = [\n a\n b\n]")
    record = program.body[0].value.elements[0]
    assert isinstance(record, RecordExpr) and [k for k, _ in record.fields] == ["name", "port"]
    assert len(program.body[1].value.elements[0].items) == 2


def test_closures_and_cell_paths() -> None:
    call = first_call("each {|c| rm $c.id }")
    closure = call.args[0]
    assert isinstance(closure, Closure) and closure.params == ("c",)
    var = grammar.parse("$x.a.0.b?").body[0].elements[0]
    assert isinstance(var, Var)
    assert [(m.key, m.optional) for m in var.path] == [("a", False), (0, False), ("b", True)]


def test_expressions_have_precedence() -> None:
    e = grammar.parse("$a + 2 * 3 > 4 and not $b").body[0].elements[0]
    assert isinstance(e, Binary) and e.op == "and"
    assert e.left.op == ">" and e.left.left.op == "+" and e.left.left.right.op == "*"


def test_arguments_are_single_values() -> None:
    assert [type(a) for a in first_call("echo $x + 1").args] == [Var, Word, Literal]


def test_several_errors_are_reported() -> None:
    with pytest.raises(grammar.SyntaxErrors) as e:
        grammar.parse("let = 1\necho ok\nps | | x\nfor x [1] { }\n")
    assert [i.span.line for i in e.value.issues] == [1, 3, 4]


@pytest.mark.parametrize(("text", "complete"), [
    ("for i in 1..3 {", False), ("ps |", False), ("echo a \\", False), ('echo "abc', False), ("let x = [1,", False),
    ('echo "$(ps', False), ("ps | | x", True), ("ls", True), ("if true { echo }", True), ("", True),
])
def test_is_complete(text: str, complete: bool) -> None:
    assert grammar.is_complete(text) is complete


def test_word_at_for_completion() -> None:
    assert grammar.word_at("pi", 2).role == "command"
    at = grammar.word_at("ps -a | where sta", 17)
    assert (at.prefix, at.role, at.command, at.start) == ("sta", "argument", ("where",), 14)
    at = grammar.word_at("network create --dr", 19)
    assert (at.role, at.command) == ("flag", ("network", "create"))
    assert grammar.word_at("echo $fo", 8).role == "variable"
    assert grammar.word_at('echo "in a str', 14).role == "none"


def test_tokens_never_raise_and_stop_at_the_error() -> None:
    toks = grammar.tokens("let x = [1 2] | | y")
    assert [t.type for t in toks][:3] == ["LET", "NAME", "EQUALS"]
    assert grammar.tokens("") == []
