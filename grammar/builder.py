"""Lark reductions → AST nodes, applied during the parse (``Lark(transformer=...)``), so no parse tree is made.

Lark does not hand ``meta`` to a transformer applied during the parse, so every punctuation terminal is
named in the grammar and a node's span runs from its first child to its last. Spans are made from the
tokens' own positions; a parse of part of a source (a ``$( )`` inside a string, a row condition) is
placed in the whole source by its ``base`` offset.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from grammar._lark import Token, Transformer

from grammar import strings
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
    Member,
    Not,
    ParamDecl,
    Pipeline,
    Range,
    RecordExpr,
    Return,
)
from grammar.nodes import Source as SourceStmt
from grammar.nodes import (
    Span,
    Str,
    Sub,
    Transaction,
    Try,
    Var,
    While,
    Word,
    maker,
)

__all__ = ["DURATION_UNITS", "SIZE_UNITS", "Builder", "Parse", "SourceText", "make_literal"]

#: Size units. Decimal (SI) with a B: ``kB KB MB GB TB``; binary with iB: ``KiB MiB GiB TiB``; a single
#: letter is binary, as in docker's flags (``512k``, ``64M``, ``1g``): see docs/LANGUAGE.md, "Sizes".
#: A lone ``m`` is minutes in a literal (``2m``); a flag declared as a size reads ``64m`` as 64 MiB.
SIZE_UNITS = {
    "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
DURATION_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
                  "d": 86400 * 10**9}


# Nodes are made by grammar.nodes' makers: the classes' arguments, without the class call.
_Assign = maker(Assign)
_Binary = maker(Binary)
_Block = maker(Block)
_Break = maker(Break)
_Closure = maker(Closure)
_Command = maker(Command)
_Continue = maker(Continue)
_Def = maker(Def)
_Exit = maker(Exit)
_External = maker(External)
_For = maker(For)
_If = maker(If)
_Let = maker(Let)
_ListExpr = maker(ListExpr)
_Literal = maker(Literal)
_Not = maker(Not)
_ParamDecl = maker(ParamDecl)
_Pipeline = maker(Pipeline)
_Range = maker(Range)
_RecordExpr = maker(RecordExpr)
_Return = maker(Return)
_SourceStmt = maker(SourceStmt)
_Str = maker(Str)
_Sub = maker(Sub)
_Transaction = maker(Transaction)
_Try = maker(Try)
_Var = maker(Var)
_While = maker(While)
_Word = maker(Word)


class SourceText:
    """The text being parsed, for spans: the file name and a line-start table for offset → line/column."""

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


def _number(text: str) -> tuple[float | int, str]:
    i = len(text)
    while not text[i - 1].isdigit():
        i -= 1
    return (float(text[:i]) if "." in text[:i] else int(text[:i])), text[i:]


def make_literal(kind: str, text: str, span: Span) -> Literal:
    """A literal from its terminal (NUMBER SIZE DURATION TRUE FALSE NULL) and text."""
    if kind == "NUMBER":
        if "." in text:
            return _Literal(span, "float", float(text), text)
        return _Literal(span, "int", int(text), text)
    if kind == "SIZE":
        n, unit = _number(text)
        return _Literal(span, "size", int(n * SIZE_UNITS[unit.lower()]), text)
    if kind == "DURATION":
        n, unit = _number(text)
        return _Literal(span, "duration", int(n * DURATION_UNITS[unit]), text)
    if kind == "NULL":
        return _Literal(span, "null", None, text)
    return _Literal(span, "bool", kind == "TRUE", text)


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.start, b.end, a.line, a.column, b.end_line, b.end_column)


def _stmts(children: list[Any]) -> tuple[Any, ...]:
    return tuple(c for c in children if not isinstance(c, Token))


Children = list[Any]  # a reduction's children (``list`` is also a rule name below)
#: Parses ``$( … )`` at offsets [start, end) of the source: the parser passes its own.
ParseSub = Callable[[int, int], Pipeline]


class Parse:
    """What the builder needs to know about the parse under way: the source its spans point into, and
    where in it the parsed text starts (0 but for a ``$( )`` in a string or a row condition)."""

    __slots__ = ("base", "drop_newlines", "file", "src")

    def __init__(self, src: SourceText, base: int, drop_newlines: bool) -> None:
        self.src = src
        self.file = src.file
        self.base = base
        self.drop_newlines = drop_newlines


class Builder(Transformer):  # type: ignore[type-arg]
    """Reductions → AST nodes. Method names are the grammar's rule names.

    One builder serves one Lark parser in every thread: each thread's parse under way is its own
    (:meth:`begin`, :meth:`restore`)."""

    def __init__(self, parse_sub: ParseSub) -> None:
        super().__init__()
        self.parse_sub = parse_sub
        self._local = threading.local()
        self._local.parse = Parse(SourceText("", "<input>"), 0, False)

    def current(self) -> Parse:
        parse: Parse | None = getattr(self._local, "parse", None)
        if parse is None:
            parse = self._local.parse = Parse(SourceText("", "<input>"), 0, False)
        return parse

    def begin(self, src: SourceText, base: int, drop_newlines: bool = False) -> Parse:
        """Build spans in ``src`` for a text that starts at offset ``base`` of it; returns what to
        restore afterwards (parses nest: a ``$( )`` inside a string)."""
        saved = self.current()
        self._local.parse = Parse(src, base, drop_newlines)
        return saved

    def restore(self, saved: Parse) -> None:
        self._local.parse = saved

    def tok(self, t: Token) -> Span:
        p = self._local.parse
        if p.base:
            return p.src.span(p.base + t.start_pos, p.base + t.end_pos)  # type: ignore[no-any-return]
        # The lexer sets every position of the tokens it makes (Lark types them as optional).
        return Span(p.file, t.start_pos, t.end_pos, t.line, t.column, t.end_line, t.end_column)  # type: ignore[arg-type]

    def sp(self, x: Any) -> Span:
        return self.tok(x) if isinstance(x, Token) else x.span  # type: ignore[no-any-return]

    def span(self, first: Any, last: Any) -> Span:
        return _join(self.sp(first), self.sp(last))

    def _word(self, t: Token) -> Word:
        text = str(t)
        p = self._local.parse
        return _Word(self.tok(t), text, strings.split_word(text, p.base + t.start_pos, p.src.span, self.parse_sub))  # type: ignore[operator]

    def _fold(self, c: Children) -> Any:
        left = c[0]
        for i in range(1, len(c), 2):
            op, right = c[i], c[i + 1]
            left = _Binary(_join(left.span, right.span), str(op), left, right, self.tok(op))
        return left

    # -- statements
    def start(self, c: Children) -> tuple[Any, ...]:
        return _stmts(c)

    def interp(self, c: Children) -> Pipeline:
        return c[0]  # type: ignore[no-any-return]

    def condition(self, c: Children) -> Any:
        return c[0]

    def let(self, c: Children) -> Let:
        return _Let(self.span(c[0], c[3]), str(c[1]), c[3], self.tok(c[1]))

    def assign(self, c: Children) -> Assign:
        return _Assign(self.span(c[0], c[2]), self.var([c[0]]), c[2])

    def if_stmt(self, c: Children) -> If:
        return _If(self.span(c[0], c[-1]), c[1], c[2], c[4] if len(c) > 3 else None)

    def for_stmt(self, c: Children) -> For:
        return _For(self.span(c[0], c[4]), str(c[1]), c[3], c[4])

    def while_stmt(self, c: Children) -> While:
        return _While(self.span(c[0], c[2]), c[1], c[2])

    def def_stmt(self, c: Children) -> Def:
        return _Def(self.span(c[0], c[3]), str(c[1]), c[2], c[3])

    def try_stmt(self, c: Children) -> Try:
        name = handler = None
        if len(c) > 2:
            handler = c[-1]
            if len(c) == 5:
                name = str(c[3])
        return _Try(self.span(c[0], c[-1]), c[1], name, handler)

    def transaction_stmt(self, c: Children) -> Transaction:
        return _Transaction(self.span(c[0], c[1]), c[1])

    def return_stmt(self, c: Children) -> Return:
        return _Return(self.span(c[0], c[-1]), c[1] if len(c) > 1 else None)

    def break_stmt(self, c: Children) -> Break:
        return _Break(self.tok(c[0]))

    def continue_stmt(self, c: Children) -> Continue:
        return _Continue(self.tok(c[0]))

    def exit_stmt(self, c: Children) -> Exit:
        return _Exit(self.span(c[0], c[-1]), c[1] if len(c) > 1 else None)

    def source_stmt(self, c: Children) -> SourceStmt:
        return _SourceStmt(self.span(c[0], c[1]), c[1])

    def block(self, c: Children) -> Block:
        return _Block(self.span(c[0], c[-1]), _stmts(c))

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
        return _ParamDecl(self.span(c[0], c[-1]), "param", str(c[0]), typ, default, optional or default is not None)

    def flag_decl(self, c: Children) -> ParamDecl:
        short = None
        i = 1
        if len(c) > 1 and isinstance(c[1], Token) and c[1].type == "SHORT_FLAG":
            short = str(c[1])[2:-1]
            i = 2
        typ, default = self._decl_tail(c, i)
        return _ParamDecl(self.span(c[0], c[-1]), "flag", str(c[0])[2:], typ, default, True, short)

    def rest_decl(self, c: Children) -> ParamDecl:
        typ, _ = self._decl_tail(c, 1)
        return _ParamDecl(self.span(c[0], c[-1]), "rest", str(c[0])[3:], typ, None, True)

    # -- pipelines
    def pipeline(self, c: Children) -> Pipeline:
        return _Pipeline(self.span(c[0], c[-1]), tuple(x for x in c if not isinstance(x, Token)))

    def command(self, c: Children) -> Command:
        return _Command(self.span(c[0], c[-1]), self._word(c[0]), tuple(c[1:]))

    def external(self, c: Children) -> External:
        return _External(self.span(c[0], c[-1]), str(c[0])[1:], tuple(c[1:]))

    def word(self, c: Children) -> Word:
        return self._word(c[0])

    default_word = arg_word = word

    def row_field(self, c: Children) -> Var:
        """A bare word on the left of a row condition reads that field of the item: ``$it.field``."""
        t = c[0]
        path = []
        for part in str(t).split("."):
            optional = part.endswith("?")
            key = part[:-1] if optional else part
            path.append(Member(int(key) if key.isdigit() else key, optional))
        return _Var(self.tok(t), "it", tuple(path))

    def range(self, c: Children) -> Range:
        return _Range(_join(c[0].span, c[2].span), c[0], c[2])

    arg_range = range

    # -- expressions
    def or_expr(self, c: Children) -> Any:
        return self._fold(c)

    and_expr = sum = product = cond_or = cond_and = or_expr

    def comparison(self, c: Children) -> Binary:
        return _Binary(_join(c[0].span, c[2].span), str(c[1]), c[0], c[2], self.tok(c[1]))

    cond_cmp = comparison

    def not_op(self, c: Children) -> Not:
        return _Not(self.span(c[0], c[1]), c[1])

    def var(self, c: Children) -> Var:
        t = c[0]
        text = str(t)
        dot = text.find(".")
        if dot < 0:
            return _Var(self.tok(t), text[1:])
        return _Var(self.tok(t), text[1:dot], strings.parse_path(text[dot:]))

    arg_var = var

    def literal(self, c: Children) -> Literal:
        t = c[0]
        return make_literal(t.type, str(t), self.tok(t))

    def string(self, c: Children) -> Str:
        t = c[0]
        text = str(t)
        if t.type == "STRING_SQ":
            return _Str(self.tok(t), text, strings.split_single(text[1:-1]))
        p = self._local.parse
        parts = strings.split_double(text[1:-1], p.base + t.start_pos + 1, p.src.span, self.parse_sub)
        return _Str(self.tok(t), text, parts)

    default_literal = arg_literal = literal
    default_string = arg_string = string

    def subexpr(self, c: Children) -> Sub:
        close = str(c[2])
        return _Sub(self.span(c[0], c[2]), c[1], strings.parse_path(close[1:]) if len(close) > 1 else ())

    def list(self, c: Children) -> ListExpr:
        return _ListExpr(self.span(c[0], c[-1]), tuple(x for x in c[1:-1] if not isinstance(x, Token)))

    def record(self, c: Children) -> RecordExpr:
        return _RecordExpr(self.span(c[0], c[-1]), tuple(x for x in c[1:-1] if not isinstance(x, Token)))

    def field(self, c: Children) -> tuple[str, Any]:
        key = c[0].value if isinstance(c[0], Str) else str(c[0])
        return (key, c[2])

    def closure(self, c: Children) -> Closure | RecordExpr:
        body = c[1:-1]
        span = self.span(c[0], c[-1])
        if not body:
            return _RecordExpr(span, ())
        params: tuple[str, ...] = ()
        if isinstance(body[0], tuple) and all(isinstance(p, str) for p in body[0]):
            params, body = body[0], body[1:]
        return _Closure(span, params, _Block(span, _stmts(body)))

    def closure_params(self, c: Children) -> tuple[str, ...]:
        return tuple(str(t) for t in c if t.type == "NAME")

