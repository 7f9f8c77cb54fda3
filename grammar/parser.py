"""The parser: Lark LALR(1) with the contextual lexer, built from pouch.lark, the AST made during the parse.

The tables and Lark's engine come from the generated module grammar/_lark.py (grammar/generate.py), built
strict; a run does not import the ``lark`` package.

Syntax errors are collected, not only the first: after an error the parser blanks out the top-level
statement that holds it (keeping newlines, so every position stays true) and parses again, up to
:data:`MAX_ERRORS` times.

One Lark parser serves every thread (the REPL's warm-up thread builds it; the main thread parses with
it): Lark keeps a parse's state in the parse, and the builder and postlexer keep what they must know
about the parse under way per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from copy import copy
from typing import Any

from grammar import _lark
from grammar._lark import (
    BasicLexer,
    ContextualLexer,
    IntParseTable,
    LALR_Parser,
    Lark,
    Lark_StandAlone,
    Rule,
    Token,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)
from grammar.builder import Builder, SourceText
from grammar.errors import SyntaxErrors, SyntaxIssue
from grammar.nodes import Expr, Pipeline, Program, Span
from grammar.paths import GRAMMAR_PATH

__all__ = ["GRAMMAR_PATH", "MAX_DEPTH", "MAX_ERRORS", "current", "is_complete", "lex", "parse", "parse_condition"]

MAX_ERRORS = 10
#: How deep brackets and operators may nest: beyond it a program is refused with a syntax error at the
#: place it goes too deep, rather than exhausting Python's stack in the checker or the evaluator.
MAX_DEPTH = 100

_OPENERS = {"LPAR": "(", "LSQB": "[", "LBRACE": "{", "RECORD_OPEN": "{"}
_CLOSERS = frozenset({"RPAR", "RPAR_PATH", "RSQB", "RBRACE"})
# Each of these makes the AST one level deeper until the statement ends.
_CHAINED = frozenset({"COMP_OP", "ADD_OP", "MUL_OP", "AND", "OR", "NOT", "IN", "RANGE", "ELSE"})


class _Postlexer:
    """Drops newlines inside ( ), [ ] and records (keeps them inside blocks and closures), and refuses
    nesting deeper than :data:`MAX_DEPTH`. It needs no lookahead, so it is safe with the contextual lexer."""

    always_accept = ("_NL",)

    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        drop = [self.builder.current().drop_newlines]  # per open bracket: whether newlines inside it are dropped
        chain = [0]  # per open bracket: operators since its last separator
        depth = 0  # open brackets + the operators in ``chain``
        for tok in stream:
            t = tok.type
            if t == "_NL":
                if drop[-1]:
                    continue
                depth -= chain[-1]
                chain[-1] = 0
            elif t in _CHAINED:
                chain[-1] += 1
                depth += 1
                if depth > MAX_DEPTH:
                    raise self._too_deep(tok)
            elif t in _OPENERS:
                drop.append(t != "LBRACE")
                chain.append(0)
                depth += 1
                if depth > MAX_DEPTH:
                    raise self._too_deep(tok)
            elif t in _CLOSERS:
                if len(drop) > 1:
                    drop.pop()
                    depth -= 1 + chain.pop()
            elif t == "_SEMI":
                depth -= chain[-1]
                chain[-1] = 0
            yield tok

    def _too_deep(self, tok: Token) -> SyntaxIssue:
        p = self.builder.current()
        return SyntaxIssue(f"nesting too deep: more than {MAX_DEPTH} levels of brackets and operators",
                           p.src.span(p.base + tok.start_pos, p.base + tok.end_pos),  # type: ignore[operator]
                           hint="split it up: bind inner parts with `let`")


class _StateLexers(dict):  # type: ignore[type-arg]
    """Parser state → its lexer, each made the first time the parser lexes in that state, exactly as
    Lark's ContextualLexer makes them all at once (one per distinct set of acceptable terminals)."""

    def __init__(self, conf: Any, states: dict[int, Any], always_accept: Any) -> None:
        super().__init__()
        self._conf = conf
        self._states = states
        self._extra = set(conf.ignore) | set(always_accept)
        self._by_accepts: dict[frozenset[str], Any] = {}

    def __missing__(self, state: int) -> Any:
        accepts = self._states[state]  # KeyError for a state the table has not: as Lark's dict would
        key = frozenset(accepts)
        lexer = self._by_accepts.get(key)
        if lexer is None:
            conf = copy(self._conf)
            by_name = self._conf.terminals_by_name
            conf.terminals = [by_name[n] for n in set(accepts) | self._extra if n in by_name]
            lexer = self._by_accepts.setdefault(key, BasicLexer(conf, None))
        self[state] = lexer
        return lexer


class _LazyContextualLexer(ContextualLexer):
    """Lark's contextual lexer, its lexers made on first use. Lark builds one BasicLexer per parser state
    (90 here) when the parser is built, ≈ 40% of building it: 40M of the ≈ 100M instructions a
    ``pouchsh -c version`` spent there (docs/PERFORMANCE.md); a script meets a few of those states.
    The tables come from grammar/_lark.py, built with skip_validation (as Lark loads any saved parser),
    so no comparator is made either. Given to Lark through its ``_plugins`` option, which exists for
    such replacements."""

    def __init__(self, conf: Any, states: dict[int, Any], always_accept: Any = ()) -> None:
        trad_conf = copy(conf)
        trad_conf.terminals = list(conf.terminals)
        self.lexers = _StateLexers(trad_conf, states, always_accept)
        root_conf = copy(trad_conf)
        root_conf.skip_validation = True
        self._root_conf = root_conf
        self._root: Any = None

    @property  # type: ignore[override]
    def root_lexer(self) -> Any:
        """Every terminal: consulted only to word a syntax error."""
        if self._root is None:
            self._root = BasicLexer(self._root_conf, None)
        return self._root


class _LALR(LALR_Parser):
    """Lark's LALR parser, its table read with the rules looked up directly. A reduce action names its
    rule by the memo's number (``{"@": n}``); Lark's generic ``Serialize.deserialize`` finds that out
    after three getattr calls and a dict comprehension, for each of the table's ≈ 5,000 reduce actions.
    The same objects either way (a rule written out in full still goes through ``Rule.deserialize``).
    Given to Lark through ``_plugins``, as the lexer is."""

    @classmethod
    def deserialize(cls, data: Any, memo: Any, callbacks: Any, debug: bool = False) -> Any:
        shift, reduce = _lark.Shift, _lark.Reduce  # read now: the generated module rebinds both at its end
        tokens = data["tokens"]

        def rule(arg: Any) -> Any:
            ref = arg.get("@") if isinstance(arg, dict) else None
            return memo[ref] if ref is not None else Rule.deserialize(arg, memo)

        states = {
            state: {tokens[token]: ((reduce, rule(arg)) if action == 1 else (shift, arg))
                    for token, (action, arg) in actions.items()}
            for state, actions in data["states"].items()
        }
        inst = cls.__new__(cls)
        inst._parse_table = IntParseTable(states, data["start_states"], data["end_states"])
        inst.parser = _lark._Parser(inst._parse_table, callbacks, debug)
        return inst


class _Parser:
    """The Lark object, its builder and its postlexer."""

    def __init__(self) -> None:
        self.last_source = threading.local()  # per thread: the source of the last row condition read
        self.builder = Builder(self._parse_sub)
        self.postlexer = _Postlexer(self.builder)
        self.lark: Lark = Lark_StandAlone(transformer=self.builder, postlex=self.postlexer,
                                          _plugins={"ContextualLexer": _LazyContextualLexer, "LALR_Parser": _LALR})

    def run(self, text: str, start: str, src: SourceText, base: int = 0, drop_newlines: bool = False) -> Any:
        """Parse ``text``, which sits at offset ``base`` of ``src``; raises SyntaxIssue."""
        saved = self.builder.begin(src, base, drop_newlines)
        try:
            return self.lark.parse(text, start=start)
        except UnexpectedInput as e:
            raise _issue(e, text, src, base) from None
        finally:
            self.builder.restore(saved)

    def _parse_sub(self, start: int, end: int) -> Pipeline:
        """``$( … )`` inside a string, at offsets [start, end) of the text being parsed."""
        src = self.builder.current().src
        return self.run(src.text[start:end], "interp", src, start)  # type: ignore[no-any-return]


_lock = threading.Lock()
_shared: _Parser | None = None


def current() -> Lark:
    """The Lark parser."""
    return _parser().lark


def _parser() -> _Parser:
    global _shared
    p = _shared
    if p is None:
        with _lock:
            if _shared is None:
                _shared = _Parser()
            p = _shared
    return p


# ------------------------------------------------------------------------------------------ parsing


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


def parse(text: str, filename: str = "<input>") -> Program:
    """Parse a whole source. Raises :class:`SyntaxErrors` with every error found."""
    parser = _parser()
    issues: list[SyntaxIssue] = []
    work = text
    while True:
        try:
            body = parser.run(work, "start", SourceText(work, filename))
        except SyntaxIssue as e:
            issue = e
        else:
            if issues:
                raise SyntaxErrors(sorted(issues, key=lambda i: i.span.start))
            end = Span(filename, 0, len(text), 1, 1, text.count("\n") + 1, 1)
            return Program(end, body, filename, text)
        issues.append(issue)
        blanked = _blank(work, issue.span) if len(issues) < MAX_ERRORS else None
        if blanked is None or (issue.message.startswith("`") and issue.message.endswith("is not closed")):
            raise SyntaxErrors(sorted(issues, key=lambda i: i.span.start))
        work = blanked


def parse_condition(text: str, start: int, end: int, filename: str = "<input>") -> Expr:
    """The row condition written at offsets [start, end) of ``text`` (``where size > 1MiB and name =~
    web``): or / and / not over comparisons, a bare word on the left naming a field of the item
    (``$it.size``). Raises :class:`SyntaxIssue`."""
    parser = _parser()
    # A program holds many conditions: its line table is made once.
    src: SourceText | None = getattr(parser.last_source, "src", None)
    if src is None or src.text is not text or src.file != filename:
        src = parser.last_source.src = SourceText(text, filename)
    # The words of a call's arguments: a newline among them is inside brackets around the call.
    return parser.run(text[start:end], "condition", src, start, drop_newlines=True)  # type: ignore[no-any-return]


def is_complete(text: str) -> bool:
    """False when the input stops inside an open block, bracket, string or ``$(``, or after a trailing
    ``|`` or ``\\``: the REPL then asks for another line. Invalid input is complete (it is submitted
    and its error shown)."""
    if text.rstrip().endswith("\\"):
        return False
    # As the line will be when Enter is pressed: so that an operator at its end (`echo (1 +`) is one.
    text += "\n"
    parser = _parser()
    saved = parser.builder.begin(SourceText(text, "<input>"), 0)
    try:
        parser.lark.parse(text, start="start")
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
        parser.builder.restore(saved)
    return True


def lex(text: str) -> list[Token]:
    """The tokens of ``text`` as the parser sees them (ignored ones left out), as far as it parses;
    never raises. Used for completion and for error messages."""
    parser = _parser()
    ip = parser.lark.parse_interactive(text, start="start")
    out: list[Token] = []
    saved = parser.builder.begin(SourceText(text, "<input>"), 0)
    try:
        out.extend(ip.iter_parse())
    except Exception:  # noqa: BLE001, S110 - a completer's view of half-typed input; errors are expected
        pass
    finally:
        parser.builder.restore(saved)
    return out


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
        pattern = _parser().lark.get_terminal(name).pattern
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
    """The innermost bracket still open at the end of ``text`` (by a tolerant scan of its tokens): its
    terminal's name and offset."""
    stack: list[tuple[str, int]] = []
    for tok in lex(text):
        if tok.type in _OPENERS:
            stack.append((tok.type, tok.start_pos or 0))
        elif tok.type in _CLOSERS and stack:
            stack.pop()
    return stack[-1] if stack else None


def _issue(e: UnexpectedInput, text: str, src: SourceText, base: int) -> SyntaxIssue:
    """A Lark error in ``text`` (at offset ``base`` of ``src``) as a SyntaxIssue with a span in ``src``."""

    def span(start: int, end: int) -> Span:
        return src.span(base + start, base + end)

    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = text[pos]
        if ch in "\"'":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            return SyntaxIssue("unterminated string", span(pos, end), hint=f"close it with {ch}")
        what = "a tab" if ch == "\t" else f"`{ch}`"
        return SyntaxIssue(f"unexpected character {what}", span(pos, pos + 1))
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    if tok.type == "$END":
        opened = _unclosed(text)
        if opened is not None:
            name, pos = opened
            return SyntaxIssue(f"`{_OPENERS[name]}` is not closed", span(pos, pos + 1))
        end = len(text.rstrip())
        return SyntaxIssue("unexpected end of input" + _expected(e.expected), span(end, end))
    start = tok.start_pos if tok.start_pos is not None else len(text)
    if not text[text.rfind("\n", 0, start) + 1:start].strip():
        # An error at the start of a line inside ( ), [ ] or a record, where newlines do not end
        # statements: the bracket left open above is the mistake, not this line.
        opened = _unclosed(text[:start])
        if opened is not None and opened[0] != "LBRACE":
            name, pos = opened
            return SyntaxIssue(f"`{_OPENERS[name]}` is not closed", span(pos, pos + 1),
                               hint=f"line {src.span(base + start, base + start).line} starts inside it")
    end = tok.end_pos if tok.end_pos is not None else start
    if tok.type == "_NL":
        end = start + 1
    message = f"unexpected {_token_text(tok)}" + _expected(e.expected)
    hint = None
    if str(tok) in ("&&", "||"):
        hint = "pouch has no `&&`/`||`: put statements on separate lines or use `;`, and `try` to go on after a failure"
    return SyntaxIssue(message, span(start, end), hint=hint)
