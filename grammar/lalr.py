"""The reference parser: Lark LALR(1) with the contextual lexer, building the AST during the parse.

Loaded only when needed (grammar/parser.py imports it on first use): to report syntax errors, to parse
what the fast path (grammar/fastparse.py) gives up on, for ``is_complete`` and for completion's tokens.
A script that parses on the fast path never imports Lark.

The AST is built by an inline transformer (``Lark(transformer=...)``), so no parse tree is made: each
reduction returns its node directly. Lark does not hand ``meta`` to inline transformers, so every
punctuation terminal is named in the grammar and spans are taken from the first and last child.
"""

from __future__ import annotations

import os
import threading
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
from grammar.parser import GRAMMAR_PATH, SyntaxIssue, _current, _Source, _state, make_literal

__all__ = ["build", "configure", "is_complete", "lex", "parse_body", "parser", "terminal_patterns"]

_OPENERS = {"LPAR": "(", "LSQB": "[", "LBRACE": "{", "RECORD_OPEN": "{"}
_CLOSERS = {"RPAR", "RPAR_PATH", "RSQB", "RBRACE"}


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
        return parser().parse(padded, start="interp")  # type: ignore[return-value]
    except UnexpectedInput as e:
        raise _issue(e, padded, src.file) from None


def _word(tok: Token) -> Word:
    text = str(tok)
    return Word(_tok_span(tok), text, strings.split_word(text, tok.start_pos or 0, _current().span, _parse_sub))


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
    for folder in (os.path.join(base, "pouchsh"), os.path.dirname(GRAMMAR_PATH)):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return os.path.join(folder, name)
        except OSError:
            continue
    return False


def _grammar_text() -> str:
    with open(GRAMMAR_PATH, encoding="utf-8") as f:
        return f.read()


def build(strict: bool = False) -> Lark:
    """A new parser. ``strict=True`` (tests) makes Lark refuse any grammar conflict or regex collision."""
    lark = Lark(
        _grammar_text(),
        parser="lalr",
        lexer="contextual",
        start=["start", "interp"],
        transformer=_Builder(),
        postlex=_Nesting(),
        strict=strict,
        cache=_cache_path(strict),
        maybe_placeholders=False,
    )
    fastparse.init(terminal_patterns(lark))
    return lark


def terminal_patterns(lark: Lark) -> dict[str, str]:
    """The regular expressions of the terminals the fast path matches, as Lark compiles them."""
    return {name: lark.get_terminal(name).pattern.to_regexp() for name in fastparse.TERMINALS}


def configure(*, strict: bool) -> None:
    """Use a strict parser from now on (the test suite does this)."""
    global _lark, _strict
    with _lock:
        _strict = strict
        _lark = build(strict)


def parser() -> Lark:
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
        pattern = parser().get_terminal(name).pattern
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


def parse_body(text: str) -> tuple[Any, ...]:
    """The statements of ``text`` (``_state.source`` set by the caller); raises SyntaxIssue."""
    try:
        return parser().parse(text, start="start")  # type: ignore[no-any-return]
    except UnexpectedInput as e:
        raise _issue(e, text, _current().file) from None


def is_complete(text: str) -> bool:
    """False when the input stops inside an open block, bracket, string or ``$(``, or after a trailing
    ``|`` or ``\\``: the REPL then asks for another line. Invalid input is complete (it is submitted
    and its error shown)."""
    stripped = text.rstrip()
    if stripped.endswith(("\\", "|")):
        return False
    _state.source = _Source(text, "<input>")
    try:
        parser().parse(text, start="start")
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
    ip = parser().parse_interactive(text, start="start")
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
