"""Properties: any input gives a value or a PouchError with a span, never another exception (nor a
PouchError that only wraps one, "internal error"); every operator on every pair of values gives a value
or a PouchError; generated programs survive a print → parse round trip."""

from __future__ import annotations

import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammar
from ctrd.errors import PouchError
from pouchsh.eval import ExitRequest, operate
from pouchsh.scope import Runtime
from pouchsh.session import Session
from pouchsh.values import Duration, IntRange, Size, Stream

#: thousands of cases in CI, as the reliability suite asks; POUCHSH_FUZZ_EXAMPLES raises it for a hunt
_SETTINGS = settings(max_examples=int(os.environ.get("POUCHSH_FUZZ_EXAMPLES", 1000)), deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SNIPPETS = [
    "let x = 1", "$x = $x + 1", "echo $x", "if $x > 1 { echo a } else { echo b }", "for i in 1..3 { echo $i }",
    "while false { }", "def f [a, --b: int = 2] { $a }", "f 1 --b 3", "try { ^false } catch e { echo $e.kind }",
    "[1 2 3] | each {|v| $v * 2 } | length", "{a: 1, b: [x, y]}", "echo \"s $x $(echo y)\"", "exit 0",
    "[{n: 1} {n: 2}] | where n > 1", "echo 'a' b#c -- --d=1", "echo (1 / 0)", "echo $nope", "rnu",
    "break", "return", "echo 64MiB 10s", "let y = {|a| $a }", "echo ($x | length)", "[3 1] | sort-by",
]
_ALPHABET = st.sampled_from(list("abcxyz019 \n\t|;()[]{}\"'$#.,=+-*/<>!~:?^\\") + ["let", "if", "for", "in"])


def _session() -> Session:
    out = io.BytesIO()
    runtime = Runtime(managers_factory=lambda: None, stdout=out, stderr=out, stdin=io.BytesIO(), env={},
                      cwd="/", dry_run=True)
    return Session(runtime)


def _run(text: str) -> None:
    session = _session()
    try:
        session.execute(session.compile(text, "prop.pouch"))
    except ExitRequest:
        pass
    except PouchError as e:
        for err in (e, *getattr(e, "others", ())):
            assert "internal error" not in err.message, err.message
            assert err.span is not None, f"{err.kind}: {err.message} has no span"
            assert err.span.file == "prop.pouch" or err.span.file.endswith(".pouch")
        assert session.format(e).startswith("error[")


@_SETTINGS
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_random_text_gives_a_value_or_an_error_with_a_span(text: str) -> None:
    _run(text)


@_SETTINGS
@given(st.lists(st.sampled_from(_SNIPPETS), min_size=1, max_size=6), st.data())
def test_mutated_programs_give_a_value_or_an_error_with_a_span(snippets: list[str], data: st.DataObject) -> None:
    text = "\n".join(snippets)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, max(0, len(text) - 1)))
        op = data.draw(st.sampled_from(["delete", "insert", "swap"]))
        ch = data.draw(_ALPHABET)
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            text = text[:i] + ch + text[i:]
        else:
            text = text[:i] + ch + text[i + 1:]
    _run(text)


# ------------------------------------------------------------------------------------------ operators

_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "mod", "in"]
_ints = st.one_of(st.integers(-5, 5), st.integers(), st.sampled_from([2**63 - 1, -(2**63), 2**64, 10**400]))
_floats = st.floats(allow_nan=True, allow_infinity=True)
_scalars = st.one_of(
    st.none(), st.booleans(), _ints, _floats, st.text(max_size=8),
    st.sampled_from(["1GB", "10s", "a.*", "(", "[", "*", "a{99999999999}", "64MiB", ""]),
    _ints.map(Size), _ints.map(Duration),
    st.tuples(st.integers(-3, 3), st.integers(-3, 3)).map(lambda t: IntRange(*t)),
    st.sampled_from([IntRange(1, 10**9), IntRange(1, 0), IntRange(-(2**70), 2**70)]),
    st.just(lambda *a: None),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=6,
)


@_SETTINGS
@given(st.sampled_from(_OPERATORS), _values, _values)
def test_every_operator_on_every_pair_of_values_gives_a_value_or_a_pouch_error(op: str, left: object,
                                                                               right: object) -> None:
    try:
        operate(op, left, right)
    except PouchError as e:
        assert e.kind in ("invalid-argument", "limit", "runtime"), e.kind
        assert e.message


@_SETTINGS
@given(st.sampled_from(_OPERATORS), _values)
def test_no_operator_reads_a_stream_it_was_given(op: str, other: object) -> None:
    # A stream (events, logs -f) may never end: an operator refuses it rather than reading it.
    def endless() -> object:
        while True:
            yield 1

    for left, right in ((Stream(endless()), other), (other, Stream(endless()))):
        try:
            operate(op, left, right)
        except PouchError:
            pass


_OPERANDS = ["1", "-3", "2.5", "64MiB", "10s", "true", "null", '"s"', '"1GB"', "[1 2]", "[]", "{a: 1}", "{}",
             "(1..3)", "(3..1)", "(1..100000000)", "{|x| $x }", "$x", "$r", "$s"]


@_SETTINGS
@given(st.sampled_from(_OPERANDS), st.sampled_from(_OPERATORS), st.sampled_from(_OPERANDS))
def test_operators_in_programs_give_a_value_or_an_error_with_a_span(left: str, op: str, right: str) -> None:
    _run(f"let x = [1 {{a: 2}}]\nlet r = 1..100000000\nlet s = 'abc'\necho ({left} {op} {right})")


# ------------------------------------------------------------------------------------------ round trip

_names = st.sampled_from(["a", "b", "web", "item_1", "x-y"])
_vars = st.sampled_from(["$a", "$b.name", "$c.0", "$d.f?", "$env.HOME", "([1 2]).0", "(ps).name?"])
_words = st.sampled_from(["busybox", "-d", "--name=web", "8080:80", "/data/x", "a=b", "a#b", "127.0.0.1:5000/a:1"])
_literals = st.sampled_from(["1", "-3", "2.5", "64MiB", "10s", "true", "null"])
_strings = st.sampled_from(['"plain"', '"w$a-$b"', "'lit $x'", '"n: $(ps | length)"', '"e\\"sc"'])


def _atoms() -> st.SearchStrategy[str]:
    return st.one_of(_vars, _literals, _strings)


def _expr(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _atoms()
    sub = _expr(depth - 1)
    return st.one_of(
        _atoms(),
        st.tuples(sub, st.sampled_from(["+", "-", "*", "==", "<", "and", "or", "in", "=~"]), sub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.lists(st.one_of(_atoms(), _words), max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(_names, st.one_of(_atoms(), _words)), max_size=3)
        .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}" if kv else "{}"),
        sub.map(lambda e: f"(not {e})"),
        st.tuples(_literals.filter(lambda x: x.lstrip("-").isdigit()), _vars).map(lambda t: f"{t[0]}..{t[1]}"),
    )


def _command(depth: int) -> st.SearchStrategy[str]:
    args = st.lists(st.one_of(_words, _atoms(), _expr(0).map(lambda e: f"({e})")), max_size=4)
    closure = _block(depth - 1).map(lambda b: "{|x| " + b[1:]) if depth > 0 else st.just("{|x| $x }")
    return st.tuples(st.sampled_from(["echo", "ps", "run", "each", "where"]), args, st.booleans(), closure).map(
        lambda t: " ".join([t[0], *t[1]] + ([t[3]] if t[2] else []))
    )


def _pipeline(depth: int) -> st.SearchStrategy[str]:
    head = st.one_of(_command(depth), _expr(depth))
    return st.tuples(head, st.lists(_command(depth), max_size=2)).map(lambda t: " | ".join([t[0], *t[1]]))


def _block(depth: int) -> st.SearchStrategy[str]:
    return st.lists(_statement(depth), max_size=3).map(lambda ss: "{\n" + "\n".join(ss) + "\n}")


def _statement(depth: int) -> st.SearchStrategy[str]:
    simple = st.one_of(
        _pipeline(depth),
        st.tuples(_names.filter(lambda n: "-" not in n), _pipeline(depth)).map(lambda t: f"let {t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(["$a", "$b"]), _pipeline(depth)).map(lambda t: f"{t[0]} = {t[1]}"),
        st.sampled_from(["break", "continue", "return", "exit 2", "source lib.pouch"]),
    )
    if depth <= 0:
        return simple
    block = _block(depth - 1)
    return st.one_of(
        simple,
        st.tuples(_expr(1), block, st.one_of(st.none(), block)).map(
            lambda t: f"if {t[0]} {t[1]}" + (f" else {t[2]}" if t[2] else "")),
        st.tuples(_names.filter(lambda n: "-" not in n), _expr(1), block).map(lambda t: f"for {t[0]} in {t[1]} {t[2]}"),
        st.tuples(_expr(1), block).map(lambda t: f"while {t[0]} {t[1]}"),
        st.tuples(_names, block).map(lambda t: f"def {t[0]} [p, q?: int, --flag(-f): string = \"d\", ...rest] {t[1]}"),
        st.tuples(block, block).map(lambda t: f"try {t[0]} catch err {t[1]}"),
    )


@_SETTINGS
@given(st.lists(_statement(2), min_size=1, max_size=5).map("\n".join))
def test_generated_programs_round_trip(source: str) -> None:
    program = grammar.parse(source, "gen.pouch")
    printed = grammar.to_source(program)
    again = grammar.parse(printed, "gen.pouch")
    assert again == program, printed
    assert grammar.to_source(again) == printed
