"""The parser: Lark LALR(1) with the contextual lexer, building the AST during the parse.

The AST is built by an inline transformer (``Lark(transformer=...)``), so no parse tree is made: each
reduction returns its node directly. Lark does not hand ``meta`` to inline transformers, so every
punctuation terminal is named in the grammar and spans are taken from the first and last child.

Syntax errors are collected, not only the first: after an error the parser blanks out the top-level
statement that holds it (keeping newlines, so every position stays true) and parses again, up to
:data:`MAX_ERRORS` times.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_right
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from grammar import fastparse, strings
from grammar.nodes import (
    Assign,
    Binary,
    Block,
    Break,
    Closure,
    Command,
    Continue,
    Def,
    Exit,
    External,
    For,
    If,
    Let,
    ListExpr,
    Literal,
    Not,
    ParamDecl,
    Pipeline,
    Program,
    Range,
    RecordExpr,
    Return,
    Source,
    Span,
    Str,
    Sub,
    Try,
    Var,
    While,
    Word,
)

__all__ = ["MAX_ERRORS", "SyntaxErrors", "SyntaxIssue", "build", "configure", "is_complete", "parse"]

GRAMMAR_PATH = Path(__file__).with_name("pouch.lark")
MAX_ERRORS = 10

_OPENERS = {"LPAR": "(", "LSQB": "[", "LBRACE": "{", "RECORD_OPEN": "{"}
_CLOSERS = {"RPAR", "RPAR_PATH", "RSQB", "RBRACE"}

_SIZE_UNITS = {
    "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_DURATION_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
                   "d": 86400 * 10**9}


class SyntaxIssue(Exception):
    """One syntax error with its span."""

    def __init__(self, message: str, span: Span, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint


class SyntaxErrors(Exception):
    """Every syntax error found in one source, in order. ``issues`` is never empty."""

    def __init__(self, issues: list[SyntaxIssue]) -> None:
        super().__init__(issues[0].message)
        self.issues = issues


# --------------------------------------------------------------------------------------- per-parse state


class _Source:
    """The text being parsed, for spans: file name and a line-start table for offset → line/column."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self._starts: list[int] | None = None

    def span(self, start: int, end: int) -> Span:
        if self._starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._starts = starts
        ls = self._starts
        li = bisect_right(ls, start) - 1
        le = bisect_right(ls, end) - 1
        return Span(self.file, start, end, li + 1, start - ls[li] + 1, le + 1, end - ls[le] + 1)


_state = threading.local()


def _current() -> _Source:
    return _state.source


def _tok_span(t: Token) -> Span:
    # The lexer sets every position of the tokens it makes (Lark types them as optional).
    return Span(_current().file, t.start_pos, t.end_pos, t.line, t.column, t.end_line, t.end_column)  # type: ignore[arg-type]


def _sp(x: Any) -> Span:
    return _tok_span(x) if isinstance(x, Token) else x.span


def _span(first: Any, last: Any) -> Span:
    a, b = _sp(first), _sp(last)
    return Span(a.file, a.start, b.end, a.line, a.column, b.end_line, b.end_column)


def _parse_sub(start: int, end: int) -> Pipeline:
    """Parse ``$( ... )`` at its true offsets: the text before it is blanked, so positions stay right."""
    src = _current()
    prefix = src.text[:start]
    newlines = prefix.count("\n")
    col = start - (prefix.rfind("\n") + 1)
    padded = " " * (start - newlines - col) + "\n" * newlines + " " * col + src.text[start:end]
    try:
        return _parser().parse(padded, start="interp")  # type: ignore[return-value]
    except UnexpectedInput as e:
        raise _issue(e, padded, src.file) from None


def _word(tok: Token) -> Word:
    text = str(tok)
    return Word(_tok_span(tok), text, strings.split_word(text, tok.start_pos or 0, _current().span, _parse_sub))


def _number(text: str) -> tuple[float | int, str]:
    i = len(text)
    while not text[i - 1].isdigit():
        i -= 1
    return (float(text[:i]) if "." in text[:i] else int(text[:i])), text[i:]


def make_literal(kind: str, text: str, span: Span) -> Literal:
    """A literal from its terminal (NUMBER SIZE DURATION TRUE FALSE NULL) and text."""
    if kind == "NUMBER":
        if "." in text:
            return Literal(span, "float", float(text), text)
        return Literal(span, "int", int(text), text)
    if kind == "SIZE":
        n, unit = _number(text)
        return Literal(span, "size", int(n * _SIZE_UNITS[unit.lower()]), text)
    if kind == "DURATION":
        n, unit = _number(text)
        return Literal(span, "duration", int(n * _DURATION_UNITS[unit]), text)
    if kind == "NULL":
        return Literal(span, "null", None, text)
    return Literal(span, "bool", kind == "TRUE", text)


def _fold(children: list[Any]) -> Any:
    left = children[0]
    for i in range(1, len(children), 2):
        op, right = children[i], children[i + 1]
        left = Binary(_span(left, right), str(op), left, right, _tok_span(op))
    return left


def _stmts(children: list[Any]) -> tuple[Any, ...]:
    return tuple(c for c in children if not isinstance(c, Token))


Children = list[Any]  # a reduction's children (``list`` is also a rule name below)


class _Builder(Transformer):  # type: ignore[type-arg]
    """Reductions → AST nodes. Method names are the grammar's rule names."""

    def start(self, c: Children) -> tuple[Any, ...]:
        return _stmts(c)

    def interp(self, c: Children) -> Pipeline:
        return c[0]

    def let(self, c: Children) -> Let:
        return Let(_span(c[0], c[3]), str(c[1]), c[3], _tok_span(c[1]))

    def assign(self, c: Children) -> Assign:
        return Assign(_span(c[0], c[2]), self.var([c[0]]), c[2])

    def if_stmt(self, c: Children) -> If:
        orelse = c[4] if len(c) > 3 else None
        return If(_span(c[0], c[-1]), c[1], c[2], orelse)

    def for_stmt(self, c: Children) -> For:
        return For(_span(c[0], c[4]), str(c[1]), c[3], c[4])

    def while_stmt(self, c: Children) -> While:
        return While(_span(c[0], c[2]), c[1], c[2])

    def def_stmt(self, c: Children) -> Def:
        return Def(_span(c[0], c[3]), str(c[1]), c[2], c[3])

    def try_stmt(self, c: Children) -> Try:
        name = None
        handler = None
        if len(c) > 2:
            handler = c[-1]
            if len(c) == 5:
                name = str(c[3])
        return Try(_span(c[0], c[-1]), c[1], name, handler)

    def return_stmt(self, c: Children) -> Return:
        return Return(_span(c[0], c[-1]), c[1] if len(c) > 1 else None)

    def break_stmt(self, c: Children) -> Break:
        return Break(_tok_span(c[0]))

    def continue_stmt(self, c: Children) -> Continue:
        return Continue(_tok_span(c[0]))

    def exit_stmt(self, c: Children) -> Exit:
        return Exit(_span(c[0], c[-1]), c[1] if len(c) > 1 else None)

    def source_stmt(self, c: Children) -> Source:
        return Source(_span(c[0], c[1]), c[1])

    def block(self, c: Children) -> Block:
        return Block(_span(c[0], c[-1]), _stmts(c))

    # -- def parameters
    def def_params(self, c: Children) -> tuple[ParamDecl, ...]:
        return tuple(p for p in c if isinstance(p, ParamDecl))

    @staticmethod
    def _decl_tail(c: Children, i: int) -> tuple[str | None, Any]:
        typ = default = None
        while i < len(c):
            if c[i].type == "COLON":
                typ = str(c[i + 1])
            elif c[i].type == "EQUALS":
                default = c[i + 1]
            i += 2
        return typ, default

    def param_decl(self, c: Children) -> ParamDecl:
        optional = len(c) > 1 and isinstance(c[1], Token) and c[1].type == "OPTIONAL"
        typ, default = self._decl_tail(c, 2 if optional else 1)
        return ParamDecl(_span(c[0], c[-1]), "param", str(c[0]), typ, default, optional or default is not None)

    def flag_decl(self, c: Children) -> ParamDecl:
        short = None
        i = 1
        if len(c) > 1 and isinstance(c[1], Token) and c[1].type == "SHORT_FLAG":
            short = str(c[1])[2:-1]
            i = 2
        typ, default = self._decl_tail(c, i)
        return ParamDecl(_span(c[0], c[-1]), "flag", str(c[0])[2:], typ, default, True, short)

    def rest_decl(self, c: Children) -> ParamDecl:
        typ, _ = self._decl_tail(c, 1)
        return ParamDecl(_span(c[0], c[-1]), "rest", str(c[0])[3:], typ, None, True)

    # -- pipelines
    def pipeline(self, c: Children) -> Pipeline:
        return Pipeline(_span(c[0], c[-1]), tuple(c[0::2]))

    def command(self, c: Children) -> Command:
        return Command(_span(c[0], c[-1]), _word(c[0]), tuple(c[1:]))

    def external(self, c: Children) -> External:
        return External(_span(c[0], c[-1]), str(c[0])[1:], tuple(c[1:]))

    def word(self, c: Children) -> Word:
        return _word(c[0])

    default_word = arg_word = word

    def range(self, c: Children) -> Range:
        return Range(_span(c[0], c[2]), c[0], c[2])

    arg_range = range

    # -- expressions
    def or_expr(self, c: Children) -> Any:
        return _fold(c)

    and_expr = sum = product = or_expr

    def comparison(self, c: Children) -> Binary:
        return Binary(_span(c[0], c[2]), str(c[1]), c[0], c[2], _tok_span(c[1]))

    def not_op(self, c: Children) -> Not:
        return Not(_span(c[0], c[1]), c[1])

    def var(self, c: Children) -> Var:
        tok = c[0]
        text = str(tok)
        dot = text.find(".")
        if dot < 0:
            return Var(_tok_span(tok), text[1:])
        return Var(_tok_span(tok), text[1:dot], strings.parse_path(text[dot:]))

    arg_var = var

    def literal(self, c: Children) -> Literal:
        tok = c[0]
        return make_literal(tok.type, str(tok), _tok_span(tok))

    def string(self, c: Children) -> Str:
        tok = c[0]
        text = str(tok)
        if tok.type == "STRING_SQ":
            return Str(_tok_span(tok), text, strings.split_single(text[1:-1]))
        parts = strings.split_double(text[1:-1], tok.start_pos + 1, _current().span, _parse_sub)
        return Str(_tok_span(tok), text, parts)

    default_literal = arg_literal = literal
    default_string = arg_string = string

    def subexpr(self, c: Children) -> Sub:
        close = str(c[2])
        return Sub(_span(c[0], c[2]), c[1], strings.parse_path(close[1:]) if len(close) > 1 else ())

    def list(self, c: Children) -> ListExpr:
        return ListExpr(_span(c[0], c[-1]), tuple(x for x in c[1:-1] if not isinstance(x, Token)))

    def record(self, c: Children) -> RecordExpr:
        return RecordExpr(_span(c[0], c[-1]), tuple(x for x in c[1:-1] if not isinstance(x, Token)))

    def field(self, c: Children) -> tuple[str, Any]:
        key = c[0].value if isinstance(c[0], Str) else str(c[0])
        return (key, c[2])

    def closure(self, c: Children) -> Closure | RecordExpr:
        params: tuple[str, ...] = ()
        body = c[1:-1]
        if not body:
            return RecordExpr(_span(c[0], c[-1]), ())
        if isinstance(body[0], tuple) and all(isinstance(p, str) for p in body[0]):
            params, body = body[0], body[1:]
        return Closure(_span(c[0], c[-1]), params, Block(_span(c[0], c[-1]), _stmts(body)))

    def closure_params(self, c: Children) -> tuple[str, ...]:
        return tuple(str(t) for t in c if t.type == "NAME")


# ------------------------------------------------------------------------------------------- the lexer


class _Nesting:
    """Postlexer: drops newlines inside ( ), [ ] and records, keeps them inside blocks and closures.
    It needs no lookahead, so it is safe with the contextual lexer."""

    always_accept = ("_NL",)

    def process(self, stream: Any) -> Any:
        drop: list[bool] = []
        for tok in stream:
            t = tok.type
            if t == "_NL":
                if drop and drop[-1]:
                    continue
            elif t in _OPENERS:
                drop.append(t != "LBRACE")
            elif t in _CLOSERS and drop:
                drop.pop()
            yield tok


# ------------------------------------------------------------------------------------------ the parser

_lock = threading.Lock()
_lark: Lark | None = None
_strict = False


def _cache_path(strict: bool) -> str | bool:
    """A writable cache file: the user cache dir, else beside the grammar, else none (Lark then
    keys its own temp file)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = "pouch-grammar-strict.lark.cache" if strict else "pouch-grammar.lark.cache"
    for folder in (os.path.join(base, "pouchsh"), str(GRAMMAR_PATH.parent)):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return os.path.join(folder, name)
        except OSError:
            continue
    return False


def build(strict: bool = False) -> Lark:
    """A new parser. ``strict=True`` (tests) makes Lark refuse any grammar conflict or regex collision."""
    lark = Lark(
        GRAMMAR_PATH.read_text(),
        parser="lalr",
        lexer="contextual",
        start=["start", "interp"],
        transformer=_Builder(),
        postlex=_Nesting(),
        strict=strict,
        cache=_cache_path(strict),
        maybe_placeholders=False,
    )
    fastparse.init({name: lark.get_terminal(name).pattern.to_regexp() for name in fastparse.TERMINALS})
    return lark


def configure(*, strict: bool) -> None:
    """Use a strict parser from now on (the test suite does this)."""
    global _lark, _strict
    with _lock:
        _strict = strict
        _lark = build(strict)


def _parser() -> Lark:
    global _lark
    if _lark is None:
        with _lock:
            if _lark is None:
                _lark = build(_strict)
    return _lark


# ------------------------------------------------------------------------------------------ errors

_DESCRIBE = {
    "WORD": "a word", "NAME": "a name", "VAR": "a variable", "NUMBER": "a number",
    "SIZE": "a size", "DURATION": "a duration", "STRING_DQ": "a string", "STRING_SQ": "a string",
    "KEY": "a record key", "CARET_WORD": "`^program`", "FLAG_NAME": "a flag", "SHORT_FLAG": "`(-x)`",
    "REST_NAME": "`...rest`", "COMP_OP": "a comparison", "ADD_OP": "`+` or `-`", "MUL_OP": "`*`, `/` or `mod`",
    "RECORD_OPEN": "`{`", "RPAR_PATH": "`)`", "_NL": "a new line", "_SEMI": "`;`", "$END": "the end of input",
}


def _describe(name: str) -> str:
    if name in _DESCRIBE:
        return _DESCRIBE[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"`{pattern.value}`" if pattern.type == "str" else name.lower()


def _token_text(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of input"
    return f"`{tok}`"


def _expected(names: Any) -> str:
    names = [n for n in names if not n.startswith("__")]
    if len(names) > 1:
        names = [n for n in names if n != "_NL"]
    described = sorted({_describe(n) for n in names})
    if len(described) > 6:
        return ""
    if len(described) == 1:
        return f", expected {described[0]}"
    return ", expected " + ", ".join(described[:-1]) + " or " + described[-1]


def _unclosed(text: str) -> tuple[str, int] | None:
    """The innermost bracket still open at the end of ``text`` (by a tolerant scan of its tokens)."""
    stack: list[tuple[str, int]] = []
    for tok in lex(text):
        if tok.type in _OPENERS:
            stack.append((_OPENERS[tok.type], tok.start_pos or 0))
        elif tok.type in _CLOSERS and stack:
            stack.pop()
    return stack[-1] if stack else None


def _issue(e: UnexpectedInput, text: str, file: str) -> SyntaxIssue:
    src = _Source(text, file)
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = text[pos]
        if ch in "\"'":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            return SyntaxIssue("unterminated string", src.span(pos, end), hint=f"close it with {ch}")
        what = "a tab" if ch == "\t" else f"`{ch}`"
        return SyntaxIssue(f"unexpected character {what}", src.span(pos, pos + 1))
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    if tok.type == "$END":
        opened = _unclosed(text)
        if opened is not None:
            ch, pos = opened
            return SyntaxIssue(f"`{ch}` is not closed", src.span(pos, pos + 1))
        end = len(text.rstrip())
        return SyntaxIssue("unexpected end of input" + _expected(e.expected), src.span(end, end))
    start = tok.start_pos if tok.start_pos is not None else len(text)
    end = tok.end_pos if tok.end_pos is not None else start
    if tok.type == "_NL":
        end = start + 1
    message = f"unexpected {_token_text(tok)}" + _expected(e.expected)
    hint = None
    if str(tok) in ("&&", "||"):
        hint = "pouch has no `&&`/`||`: put statements on separate lines or use `;`, and `try` to go on after a failure"
    return SyntaxIssue(message, src.span(start, end), hint=hint)


def _statement_lines(lines: list[str], line: int) -> tuple[int, int]:
    """The lines [first, last) of the top-level statement around 0-based ``line``: a top-level statement
    starts at a line with no indentation that does not continue another (``}``, ``|``, ``else``...)."""

    def starts(s: str) -> bool:
        return bool(s) and not s[0].isspace() and not s.startswith(("}", ")", "]", "|", "else", "catch", "#"))

    first = line
    while first > 0 and not starts(lines[first]):
        first -= 1
    last = line + 1
    while last < len(lines) and not starts(lines[last]):
        last += 1
    return first, last


def _blank(text: str, span: Span) -> str | None:
    """``text`` with the statement holding ``span`` replaced by spaces, or None when nothing would change."""
    lines = text.split("\n")
    first, last = _statement_lines(lines, min(span.line - 1, len(lines) - 1))
    if all(not s.strip() for s in lines[first:last]):
        return None
    for i in range(first, last):
        lines[i] = " " * len(lines[i])
    return "\n".join(lines)


def _parse_once(text: str, file: str, fast: bool) -> tuple[Any, ...]:
    _state.source = _Source(text, file)
    try:
        lark = _parser()
        if fast:
            try:
                return fastparse.parse_program(text, file, make_literal)
            except (fastparse.Bail, SyntaxIssue):
                pass
        return lark.parse(text, start="start")  # type: ignore[return-value]
    finally:
        _state.source = None


def parse(text: str, filename: str = "<input>", *, reference: bool = False) -> Program:
    """Parse a whole source. Raises :class:`SyntaxErrors` with every error found.

    Valid input is read by the fast path (grammar/fastparse.py) unless ``reference`` asks for the Lark
    parser alone; both give the same AST."""
    outer = getattr(_state, "source", None)
    issues: list[SyntaxIssue] = []
    work = text
    try:
        while True:
            try:
                body = _parse_once(work, filename, fast=not reference and not issues)
            except UnexpectedInput as e:
                issue = _issue(e, work, filename)
            except SyntaxIssue as e:
                issue = e
            else:
                if issues:
                    raise SyntaxErrors(issues)
                end = Span(filename, 0, len(text), 1, 1, text.count("\n") + 1, 1)
                return Program(end, body, filename, text)
            issues.append(issue)
            blanked = _blank(work, issue.span) if len(issues) < MAX_ERRORS else None
            if blanked is None or (isinstance(issue, SyntaxIssue) and issue.message.startswith("`")
                                   and issue.message.endswith("is not closed")):
                raise SyntaxErrors(issues)
            work = blanked
    finally:
        _state.source = outer


def is_complete(text: str) -> bool:
    """False when the input stops inside an open block, bracket, string or ``$(``, or after a trailing
    ``|`` or ``\\``: the REPL then asks for another line. Invalid input is complete (it is submitted
    and its error shown)."""
    stripped = text.rstrip()
    if stripped.endswith(("\\", "|")):
        return False
    _state.source = _Source(text, "<input>")
    try:
        _parser().parse(text, start="start")
    except UnexpectedToken as e:
        return e.token.type != "$END"
    except UnexpectedCharacters as e:
        pos = e.pos_in_stream or 0
        if text[pos] in "\"'":
            return text.find(text[pos], pos + 1) >= 0
        return True
    except SyntaxIssue as e:
        return "not closed" not in e.message
    except UnexpectedInput:
        return True
    finally:
        _state.source = None
    return True


def lex(text: str) -> list[Token]:
    """The tokens of ``text`` as the parser sees them (ignored ones left out), as far as it parses;
    never raises. Used for completion and for error messages."""
    ip = _parser().parse_interactive(text, start="start")
    out: list[Token] = []
    saved = getattr(_state, "source", None)
    _state.source = _Source(text, "<input>")
    try:
        out.extend(ip.iter_parse())
    except Exception:  # noqa: BLE001, S110 - a completer's view of half-typed input; errors are expected
        pass
    finally:
        _state.source = saved
    return out
