"""The fast path: a hand-written recursive-descent parser for valid programs.

``pouch.lark`` defines the language and the Lark parser (grammar/lalr.py) is the reference: it reports
syntax errors, decides whether input is complete and feeds completion. Lark's LALR engine costs about
15 µs per token in Python, too slow for the 30,000 lines/s goal, so valid input is parsed here first,
with the Lark terminals' own regular expressions (grammar/terminals.py holds them, generated from the
Lark parser, so a script that parses here never imports Lark), into exactly the AST the Lark parser
builds (spans included; tests/lang/test_fastparse.py compares the two on generated and mutated programs).

The rule of this module: wherever it is not certain to read the input as Lark's contextual lexer and
LALR parser would, it gives up (:class:`Bail`) and the caller parses with Lark. So it may be slower
than it could be on unusual input, never different.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

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
    maker,
)

__all__ = ["Bail", "parse_program"]

# The nodes are made by grammar.nodes' makers: the classes' arguments, without the class call.
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
_Not = maker(Not)
_ParamDecl = maker(ParamDecl)
_Pipeline = maker(Pipeline)
_Range = maker(Range)
_RecordExpr = maker(RecordExpr)
_Return = maker(Return)
_Source = maker(Source)
_Str = maker(Str)
_Sub = maker(Sub)
_Try = maker(Try)
_Var = maker(Var)
_While = maker(While)
_Word = maker(Word)


class Bail(Exception):
    """Not certain: parse with Lark instead."""


#: the terminals' patterns as Lark has them (set by :func:`init`), and those compiled so far: each is
#: compiled on first use, since a one-line script needs few of them.
_SOURCES: dict[str, str] = {}
_R: dict[str, re.Pattern[str]] = {}


def init(terminal_regex: dict[str, str]) -> None:
    """Take the terminals' patterns, as the Lark parser has them."""
    global _SOURCES, _R
    sources = dict(terminal_regex)
    # An argument in one match, tried in the lexer's order: KEY (priority 4), the literals (2), WORD (0);
    # before WORD, PLAIN: the WORD match whenever it holds nothing split_word would split ($ " ' \\).
    # KEY is guarded by what it needs (a name, then a colon), so that a word is not backtracked over
    # letter by letter; the leading blanks are possessive, since no alternative starts with one.
    patterns = {**terminal_regex, "PLAIN": _PLAIN_WORD, "KEY": _KEY_GUARD + terminal_regex["KEY"]}
    alternatives = "|".join(f"(?P<{k}>{patterns[k]})" for k in ("KEY", "NUMBER", "SIZE", "DURATION", "PLAIN", "WORD"))
    sources["ARG"] = f"[ \\t\\f]*+(?:{alternatives})"
    sources["PLAIN"] = _PLAIN_WORD
    # A parse in another thread may still compile into the old table: from the same patterns.
    _SOURCES, _R = sources, {}


def _compiled(name: str) -> re.Pattern[str]:
    pattern = _R.get(name)
    if pattern is None:
        pattern = _R[name] = re.compile(_SOURCES[name])
    return pattern


def _load() -> None:
    """The patterns from the generated table (grammar/terminals.py) while it matches pouch.lark, which
    spares loading Lark; else from the Lark parser."""
    from grammar import terminals

    if terminals.current():
        init(terminals.PATTERNS)
    else:
        from grammar import lalr

        init(lalr.terminal_patterns(lalr.parser()))


TERMINALS = ("WORD", "NUMBER", "SIZE", "DURATION", "VAR", "STRING_DQ", "STRING_SQ", "CARET_WORD", "NAME",
             "FLAG_NAME", "SHORT_FLAG", "REST_NAME", "KEY", "RECORD_OPEN", "RANGE", "RPAR_PATH", "COMP_OP",
             "ADD_OP", "MUL_OP")

_STMT_KEYWORDS = frozenset({"let", "if", "for", "while", "def", "try", "return", "break", "continue", "exit",
                            "source", "not", "true", "false", "null"})
_LITERAL_WORDS = {"true": "TRUE", "false": "FALSE", "null": "NULL"}
_NL = re.compile(r"(?:\r?\n[\t ]*)+")
# What Lark ignores (WS, COMMENT, LINE_CONT, PIPE_CONT, ELSE_CONT), and in drop mode newlines as well.
_IGNORED = re.compile(
    r"(?:[ \t\f]+|#[^\n]*|\\[ \t]*\r?\n|(?:\r?\n[ \t]*)+(?=\||(?:else|catch)(?![^\s|;()\[\]{}])))*"
)
_IGNORED_DROP = re.compile(r"(?:[ \t\f]+|#[^\n]*|\\[ \t]*\r?\n|(?:\r?\n[\t ]*)+)*")
_SKIPPABLE = frozenset(" \t\f#\\\n\r")
_KEYWORD_OPS = re.compile(r"(?:and|or|in|not|mod)(?![\w-])")
_ARG_END = frozenset("|;)]}\n")
_DIGITS = frozenset("0123456789")
_NEWLINE = re.compile("\n")
# The first characters of the operator terminals (COMP_OP, ADD_OP, MUL_OP): elsewhere no regex is tried.
_COMP_FIRST = frozenset("=!<>")
_ADD_FIRST = frozenset("+-")
_MUL_FIRST = frozenset("*/m")
_SPECIAL = re.compile(r"[$\"'\\]")  # a word with these needs strings.split_word
# A WORD without $ " ' or \\: WORD's first character, then as long a run of its middle ones (less those four)
# as ends in one of its last ones; taken whole (atomic), and refused where WORD would go on (those four,
# perhaps after the commas it leaves). Where this fails the WORD alternative after it matches as before.
_PLAIN_WORD = (r"(?>[^\s|;()\[\]{}\"'$#^\\,](?:[^\s|;()\[\]{}\"'$\\]*[^\s|;()\[\]{}\"'$\\,])?)"
               r"(?!,*[$\"'\\])")
# After an operand (and one blank), what no operator starts with and no skip passes: "" is the end.
# A newline ends it too outside brackets (where a newline that continues is followed by `|`, else or catch).
_EXPR_END = frozenset(("", ";", "|", ")", "]", "}", "{", ","))
_KEY_GUARD = r"(?=[A-Za-z_][\w-]*+[ \t]*:\s)"
_new_tuple = tuple.__new__


class _Parser:
    def __init__(self, text: str, file: str, literal: Any) -> None:
        self.t = text
        self.n = len(text)
        self.pos = 0
        self.file = file
        self.make_literal = literal  # (kind, text, span) -> Literal
        starts = [0]
        starts.extend(m.end() for m in _NEWLINE.finditer(text))
        starts.append(len(text) + 2)  # a sentinel: every offset has a next line start
        self.starts = starts
        self.li = 0
        self.span_at = self.span
        self.word_key = (-1, -1)
        self.skip_key = (-1, False, -1)
        self.skip_end = -1
        self.ended = -1  # where an operand ended with nothing after it that could continue the expression
        self.word_re = _compiled("WORD")
        self.plain_re = _compiled("PLAIN")
        self.word_match: re.Match[str] | None = None

    # ---------------------------------------------------------------------------------- lexing helpers

    def skip(self, drop: bool) -> str:
        """Skip what Lark ignores; in ``drop`` mode (inside ( ) [ ] and records) newlines too. Returns the
        character it stopped at ("" at the end), which callers would otherwise peek at next."""
        pos = self.pos
        t = self.t
        n = self.n
        if pos >= n:
            return ""
        c = t[pos]
        if c not in _SKIPPABLE:
            return c
        if c == " ":
            c = t[pos + 1] if pos + 1 < n else ""
            if c not in _SKIPPABLE or c == "":
                self.pos = pos + 1  # the common case, one space between two tokens, without the regex
                return c
        # A newline is asked about again as parsing climbs out of a statement: remember the last answer.
        key = (pos, drop, n)
        if key == self.skip_key:
            end = self.pos = self.skip_end
        else:
            end = (_IGNORED_DROP if drop else _IGNORED).match(t, pos, n).end()  # type: ignore[union-attr]
            if end < n and t[end] == "\r":
                raise Bail()
            self.pos = self.skip_end = end
            self.skip_key = key
        return t[end] if end < n else ""

    def peek(self) -> str:
        return self.t[self.pos] if self.pos < self.n else ""

    def span(self, start: int, end: int) -> Span:
        """As Lark counts: 1-based line and column of ``start``; of ``end`` (exclusive) likewise."""
        ls = self.starts
        i = self.li
        if not ls[i] <= start < ls[i + 1]:
            i = self.li = bisect_right(ls, start) - 1
        line = i + 1
        base = ls[i]
        # tuple.__new__ skips the named tuple's Python-level __new__: a span per node adds up.
        if end < ls[i + 1]:
            return _new_tuple(Span, (self.file, start, end, line, start - base + 1, line, end - base + 1))
        j = bisect_right(ls, end) - 1
        return _new_tuple(Span, (self.file, start, end, line, start - base + 1, j + 1, end - ls[j] + 1))

    def match(self, name: str) -> re.Match[str] | None:
        try:
            pattern = _R[name]
        except KeyError:
            pattern = _compiled(name)
        return pattern.match(self.t, self.pos, self.n)

    def need(self, name: str) -> re.Match[str]:
        """``match`` where the terminal must be: without it, the fast path gives up."""
        pattern = _R.get(name) or _compiled(name)
        m = pattern.match(self.t, self.pos, self.n)
        if m is None:
            raise Bail()
        return m

    def expect(self, ch: str) -> int:
        if self.pos < self.n and self.t[self.pos] == ch:
            self.pos += 1
            return self.pos - 1
        raise Bail()

    def at_separator(self) -> bool:
        """At a newline (not a continuation), `;`, or the end."""
        c = self.peek()
        return c in ("", ";", "\n", "\r")

    def word_here(self) -> re.Match[str] | None:
        # Asked again at the same place as parsing descends (statement, then head...): remember the last.
        key = (self.pos, self.n)
        if key != self.word_key:
            self.word_key = key
            # PLAIN is WORD's match where it matches, in fewer steps
            self.word_match = self.plain_re.match(self.t, self.pos, self.n) or self.word_re.match(self.t, self.pos, self.n)
        return self.word_match

    # ---------------------------------------------------------------------------------- statements

    def statements(self, closer: str) -> tuple[Any, ...]:
        """``_stmts`` up to ``closer`` ("" for the end of input), which is not consumed."""
        out: list[Any] = []
        t = self.t
        c = self.skip(False)
        while True:
            if c == closer:
                return tuple(out)
            if c == "":
                raise Bail()
            if c == ";":
                self.pos += 1
            elif c == "\n" or c == "\r":
                m = _NL.match(t, self.pos)
                if m is None:
                    raise Bail()
                self.pos = m.end()
            else:
                out.append(self.statement())
                c = self.skip(False)
                if c != closer and c not in (";", "\n", "\r"):
                    raise Bail()
                continue  # skipped already (skipping twice changes nothing)
            c = self.skip(False)

    def statement(self) -> Any:
        start = self.pos
        c = self.t[start]  # statements() saw a character here
        m = self.word_here() if (c not in _DIGITS and c != "-") or self.number_match() is None else None
        if m is not None:
            w = m.group()
            if w in _STMT_KEYWORDS:
                end = m.end()
                if w == "let":
                    return self.let(start, end)
                if w == "if":
                    return self.if_stmt(start, end)
                if w == "for":
                    return self.for_stmt(start, end)
                if w == "while":
                    self.pos = end
                    cond = self.expr(False)
                    body = self.block()
                    return _While(self.span(start, body.span.end), cond, body)
                if w == "def":
                    return self.def_stmt(start, end)
                if w == "try":
                    return self.try_stmt(start, end)
                if w == "return":
                    self.pos = end
                    value = self.optional_pipeline()
                    return _Return(self.span(start, value.span.end if value else end), value)
                if w == "break":
                    self.pos = end
                    return _Break(self.span(start, end))
                if w == "continue":
                    self.pos = end
                    return _Continue(self.span(start, end))
                if w == "exit":
                    self.pos = end
                    self.skip(False)
                    if self.at_separator() or self.peek() == "}":
                        return _Exit(self.span(start, end), None)
                    code = self.expr(False)
                    return _Exit(self.span(start, code.span.end), code)
                if w == "source":
                    return self.source(start, end)
                # not / true / false / null start an expression
        if self.peek() == "$":
            m = self.need("VAR")
            after = m.end()
            self.pos = after
            c = self.skip(False)
            if c == "=" and not self.match("COMP_OP"):
                self.pos += 1
                value = self.pipeline(False)
                target = self.var_node(m.group(), start, after)
                return _Assign(self.span(start, value.span.end), target, value)
            self.pos = start
        return self.pipeline(False, stmt_start=True)

    def let(self, start: int, end: int) -> Let:
        self.pos = end
        self.skip(False)
        m = self.need("NAME")
        name_start, name_end = m.span()
        self.pos = name_end
        self.skip(False)
        self.expect("=")
        value = self.pipeline(False)
        return _Let(self.span(start, value.span.end), m.group(), value, self.span(name_start, name_end))

    def if_stmt(self, start: int, end: int) -> If:
        self.pos = end
        cond = self.expr(False)
        then = self.block()
        orelse: Any = None
        save = self.pos
        self.skip(False)
        m = self.word_here()
        if m is not None and m.group() == "else":
            self.pos = m.end()
            self.skip(False)
            m2 = self.word_here()
            if m2 is not None and m2.group() == "if":
                orelse = self.if_stmt(m2.start(), m2.end())
            else:
                orelse = self.block()
        else:
            self.pos = save
            self.no_else_after_block()
        last = orelse.span.end if orelse is not None else then.span.end
        return _If(self.span(start, last), cond, then, orelse)

    def no_else_after_block(self) -> None:
        """After any block Lark's lexer takes `else`/`catch` as keywords; where they do not belong, bail."""
        save = self.pos
        self.skip(False)
        m = self.word_here()
        if m is not None and m.group() in ("else", "catch"):
            raise Bail()
        self.pos = save

    def for_stmt(self, start: int, end: int) -> For:
        self.pos = end
        self.skip(False)
        m = self.need("NAME")
        self.pos = m.end()
        self.skip(False)
        w = self.word_here()
        if w is None or w.group() != "in":
            raise Bail()
        self.pos = w.end()
        iterable = self.expr(False)
        body = self.block()
        self.no_else_after_block()
        return _For(self.span(start, body.span.end), m.group(), iterable, body)

    def def_stmt(self, start: int, end: int) -> Def:
        self.pos = end
        self.skip(False)
        m = self.need("NAME")
        self.pos = m.end()
        self.skip(False)
        params = self.def_params()
        body = self.block()
        self.no_else_after_block()
        return _Def(self.span(start, body.span.end), m.group(), params, body)

    def def_params(self) -> tuple[ParamDecl, ...]:
        self.expect("[")
        out: list[ParamDecl] = []
        while True:
            c = self.skip(True)
            if c == "]":
                self.pos += 1
                return tuple(out)
            if c == ",":
                self.pos += 1
                continue
            start = self.pos
            kind = "param"
            short = None
            optional = False
            m = self.match("NAME")
            if m is not None:
                name = m.group()
            else:
                m = self.match("FLAG_NAME")
                if m is not None:
                    kind, name = "flag", m.group()[2:]
                else:
                    m = self.need("REST_NAME")
                    kind, name = "rest", m.group()[3:]
            self.pos = last = m.end()
            self.skip(True)
            if kind == "param" and self.peek() == "?":
                self.pos += 1
                last = self.pos
                optional = True
                self.skip(True)
            if kind == "flag" and self.peek() == "(":
                s = self.need("SHORT_FLAG")
                short = s.group()[2:-1]
                self.pos = last = s.end()
                self.skip(True)
            typ = None
            default = None
            if self.peek() == ":":
                self.pos += 1
                self.skip(True)
                t = self.need("NAME")
                typ = t.group()
                self.pos = last = t.end()
                self.skip(True)
            if self.peek() == "=" and kind != "rest":
                self.pos += 1
                self.skip(True)
                default = self.default_value()
                last = default.span.end
            if kind == "param":
                decl = _ParamDecl(self.span(start, last), "param", name, typ, default,
                                 optional or default is not None)
            elif kind == "flag":
                decl = _ParamDecl(self.span(start, last), "flag", name, typ, default, True, short)
            else:
                decl = _ParamDecl(self.span(start, last), "rest", name, typ, None, True)
            out.append(decl)

    def default_value(self) -> Any:
        c = self.peek()
        if c == '"' or c == "'":
            return self.string()
        lit = self.number()
        if lit is not None:
            return lit
        m = self.word_here()
        if m is None:
            raise Bail()
        if m.group() in _LITERAL_WORDS:
            self.pos = m.end()
            return self.make_literal(_LITERAL_WORDS[m.group()], m.group(), self.span(m.start(), m.end()))
        return self.word(m)

    def try_stmt(self, start: int, end: int) -> Try:
        self.pos = end
        body = self.block()
        save = self.pos
        self.skip(False)
        m = self.word_here()
        if m is None or m.group() != "catch":
            self.pos = save
            self.no_else_after_block()
            return _Try(self.span(start, body.span.end), body, None, None)
        self.pos = m.end()
        self.skip(False)
        name = None
        if self.peek() != "{":
            n = self.need("NAME")
            name = n.group()
            self.pos = n.end()
        handler = self.block()
        self.no_else_after_block()
        return _Try(self.span(start, handler.span.end), body, name, handler)

    def source(self, start: int, end: int) -> Source:
        self.pos = end
        c = self.skip(False)
        if c == '"' or c == "'":
            path: Any = self.string()
        else:
            m = self.word_here()
            if m is None:
                raise Bail()
            path = self.word(m)
        return _Source(self.span(start, path.span.end), path)

    def block(self) -> Block:
        c = self.skip(False)
        if c != "{" or self.match("RECORD_OPEN"):
            raise Bail()
        start = self.pos
        self.pos += 1
        body = self.statements("}")
        self.pos += 1
        return _Block(self.span(start, self.pos), body)

    def optional_pipeline(self) -> Pipeline | None:
        self.skip(False)
        if self.at_separator() or self.peek() == "}":
            return None
        return self.pipeline(False)

    # ---------------------------------------------------------------------------------- pipelines

    def pipeline(self, drop: bool, stmt_start: bool = False) -> Pipeline:
        self.skip(drop)
        start = self.pos
        elements = [self.head(drop, stmt_start)]
        while True:
            c = self.skip(drop)
            if c != "|":
                break
            self.pos += 1
            self.skip(drop)
            elements.append(self.call(drop))
        a, b = elements[0].span, elements[-1].span
        if a[1] == start:  # from the first element's start to the last one's end, as both spans know them
            return _Pipeline(_new_tuple(Span, (a[0], start, b[2], a[3], a[4], b[5], b[6])), tuple(elements))
        return _Pipeline(self.span(start, b[2]), tuple(elements))

    def head(self, drop: bool, stmt_start: bool) -> Any:
        c = self.peek()
        if c == "^":
            return self.call(drop)
        if c and c not in "$\"'([{" and (c not in _DIGITS and c != "-" or self.number_match() is None):
            m = self.word_here()
            if m is None:
                raise Bail()
            w = m.group()
            if w in _STMT_KEYWORDS:
                if w in _LITERAL_WORDS or w == "not":
                    return self.expr(drop)
                if stmt_start:
                    raise Bail()
            return self.command(m, drop)
        return self.expr(drop)

    def command(self, m: re.Match[str], drop: bool) -> Command:
        name = self.word(m)
        args = self.args(drop)
        a = name.span
        if not args:
            return _Command(a, name, ())
        b = args[-1].span
        # from the name's start to the last argument's end: both spans know their lines and columns
        return _Command(_new_tuple(Span, (a[0], a[1], b[2], a[3], a[4], b[5], b[6])), name, tuple(args))

    def call(self, drop: bool) -> Any:
        start = self.pos
        if self.peek() == "^":
            m = self.need("CARET_WORD")
            self.pos = m.end()
            args = self.args(drop)
            end = args[-1].span.end if args else m.end()
            return _External(self.span(start, end), m.group()[1:], tuple(args))
        m = self.word_here()
        if m is None or self.number_match() is not None:
            raise Bail()
        return self.command(m, drop)

    def args(self, drop: bool) -> list[Any]:
        out: list[Any] = []
        bracketed = False
        plain = _compiled("ARG")
        t = self.t
        ls = self.starts
        file = self.file
        while True:
            if not bracketed:
                # The common case in one match: spaces, then a word or a number.
                m = plain.match(t, self.pos, self.n)
                if m is not None:
                    kind = m.lastgroup or ""
                    start, end = m.span(kind)
                    text = t[start:end]
                    if kind == "PLAIN" and text not in _LITERAL_WORDS:
                        self.pos = end
                        # the span made here: a plain word is on one line (self.span, inlined)
                        i = self.li
                        base = ls[i]
                        if base <= start and end < ls[i + 1]:
                            column = start - base + 1
                            span = _new_tuple(Span, (file, start, end, i + 1, column, i + 1, column + end - start))
                        else:
                            span = self.span(start, end)
                        out.append(_Word(span, text, (text,)))
                        continue
                    if kind == "KEY":
                        raise Bail()
                    if kind == "WORD" or kind == "PLAIN":
                        if text in _LITERAL_WORDS:
                            self.pos = end
                            out.append(self.make_literal(_LITERAL_WORDS[text], text, self.span(start, end)))
                        else:
                            self.pos = end
                            parts = (text,) if _SPECIAL.search(text) is None else \
                                strings.split_word(text, start, self.span, self.sub_pipeline)
                            out.append(_Word(self.span(start, end), text, parts))
                        continue
                    self.pos = end
                    lit = self.make_literal(kind, text, self.span(start, end))
                    value = self.maybe_range(lit, drop)
                    out.append(value)
                    bracketed = _ends_with_paren(value)
                    continue
            c = self.skip(drop)
            if c == "" or c in _ARG_END or c == "\r":
                return out
            if c == ",":
                raise Bail()
            if bracketed:
                self.no_operator_after_bracket()
            if self.match("KEY"):
                raise Bail()
            arg, bracketed = self.arg(drop)
            out.append(arg)

    def no_operator_after_bracket(self) -> None:
        """After `)`, `]` or `}` Lark's lexer is in a state that expressions share, where an operator
        (or `..`) is an operator token even in an argument list: there, give up."""
        if (self.match("COMP_OP") or self.match("ADD_OP") or self.match("MUL_OP") or self.match("RANGE")
                or _KEYWORD_OPS.match(self.t, self.pos, self.n)):
            raise Bail()

    def arg(self, drop: bool) -> tuple[Any, bool]:
        """One ``_arg``; and whether it ended with a bracket (whose lexer state expressions share)."""
        c = self.peek()
        if c == '"' or c == "'":
            return self.string(), False
        if c in "([{":
            value = self.bracketed()
            if isinstance(value, Sub):
                return self.maybe_range(value, drop), True
            return value, True
        if c == "$":
            m = self.need("VAR")
            self.pos = m.end()
            value = self.maybe_range(self.var_node(m.group(), m.start(), m.end()), drop)
            return value, _ends_with_paren(value)
        lit = self.number()
        if lit is not None:
            value = self.maybe_range(lit, drop)
            return value, _ends_with_paren(value)
        m = self.word_here()
        if m is None:
            raise Bail()
        if m.group() in _LITERAL_WORDS:
            self.pos = m.end()
            return self.make_literal(_LITERAL_WORDS[m.group()], m.group(), self.span(m.start(), m.end())), False
        return self.word(m), False

    def maybe_range(self, lo: Any, drop: bool) -> Any:
        save = self.pos
        self.skip(drop)
        m = self.match("RANGE")
        if m is None:
            self.pos = save
            return lo
        self.pos = m.end()
        c = self.peek()
        if c == "$":
            v = self.need("VAR")
            self.pos = v.end()
            hi: Any = self.var_node(v.group(), v.start(), v.end())
        elif c == "(":
            hi = self.bracketed()
        else:
            hi = self.number()
            if hi is None:
                raise Bail()
        return _Range(self.span(lo.span.start, hi.span.end), lo, hi)

    # ---------------------------------------------------------------------------------- expressions

    def expr(self, drop: bool) -> Any:
        left = self.and_expr(drop)
        while self.keyword_op("or", drop):
            op_start = self.pos
            self.pos += 2
            right = self.and_expr(drop)
            left = _Binary(self.span(left.span.start, right.span.end), "or", left, right,
                          self.span(op_start, op_start + 2))
        return left

    def and_expr(self, drop: bool) -> Any:
        left = self.not_expr(drop)
        while self.keyword_op("and", drop):
            op_start = self.pos
            self.pos += 3
            right = self.not_expr(drop)
            left = _Binary(self.span(left.span.start, right.span.end), "and", left, right,
                          self.span(op_start, op_start + 3))
        return left

    def keyword_op(self, word: str, drop: bool) -> bool:
        if self.pos == self.ended:
            return False
        self.skip(drop)
        t, pos = self.t, self.pos
        if not t.startswith(word, pos):
            return False
        nxt = t[pos + len(word)] if pos + len(word) < self.n else ""
        if nxt == "" or nxt in " \t":
            return True
        raise Bail()

    def not_expr(self, drop: bool) -> Any:
        self.skip(drop)
        m = self.word_here() if self.t.startswith("not", self.pos) else None
        if m is not None and m.group() == "not":
            start = self.pos
            self.pos = m.end()
            operand = self.not_expr(drop)
            return _Not(self.span(start, operand.span.end), operand)
        return self.comparison(drop)

    def comparison(self, drop: bool) -> Any:
        left = self.sum(drop)
        if self.pos == self.ended:
            return left
        self.skip(drop)
        m = self.match("COMP_OP") if self.peek() in _COMP_FIRST else None
        if m is not None:
            op = m.group()
        else:
            w = self.word_here() if self.t.startswith("in", self.pos) else None
            if w is None or w.group() != "in":
                return left
            op = "in"
            m = w
        op_span = self.span(m.start(), m.end())
        self.pos = m.end()
        self.skip(drop)
        if self.operand_start():
            right = self.sum(drop)
        else:
            w = self.word_here()
            if w is None:
                raise Bail()
            if w.group() in _LITERAL_WORDS:
                self.pos = w.end()
                right = self.make_literal(_LITERAL_WORDS[w.group()], w.group(), self.span(w.start(), w.end()))
            else:
                right = self.word(w)
        if self.pos != self.ended:
            self.skip(drop)
            if self.match("COMP_OP"):
                raise Bail()
        return _Binary(self.span(left.span.start, right.span.end), op, left, right, op_span)

    def operand_start(self) -> bool:
        c = self.peek()
        if c and c in "$\"'([{":
            return True
        if self.number_match() is not None:
            return True
        m = self.word_here()
        return m is not None and m.group() in _LITERAL_WORDS

    def sum(self, drop: bool) -> Any:
        return self.left_assoc(drop, self.product, "ADD_OP", _ADD_FIRST)

    def product(self, drop: bool) -> Any:
        return self.left_assoc(drop, self.range, "MUL_OP", _MUL_FIRST)

    def left_assoc(self, drop: bool, operand: Callable[[bool], Any], terminal: str, first: frozenset[str]) -> Any:
        """One level of left-associative binary operators: ``operand (terminal operand)*``."""
        left = operand(drop)
        while self.pos != self.ended:
            self.skip(drop)
            m = self.match(terminal) if self.peek() in first else None
            if m is None:
                return left
            self.pos = m.end()
            right = operand(drop)
            left = _Binary(self.span(left.span.start, right.span.end), m.group(), left, right,
                          self.span(m.start(), m.end()))
        return left

    def range(self, drop: bool) -> Any:
        lo = self.operand(drop)
        # Most operands end an expression: then say so once, and the levels above return at once
        # instead of each skipping blanks and looking for its operators.
        t, pos, n = self.t, self.pos, self.n
        c = t[pos] if pos < n else ""
        if c == " ":
            c = t[pos + 1] if pos + 1 < n else ""
        if c in _EXPR_END or (c == "\n" and not drop):
            self.ended = pos
            return lo
        m = self.match("RANGE") if self.peek() == "." else None
        if m is None:
            save = self.pos
            self.skip(drop)
            m = self.match("RANGE") if self.peek() == "." else None
            if m is None:
                self.pos = save
                return lo
        self.pos = m.end()
        hi = self.operand(drop)
        return _Range(self.span(lo.span.start, hi.span.end), lo, hi)

    def operand(self, drop: bool) -> Any:
        c = self.skip(drop)
        if c == "$":
            m = self.need("VAR")
            self.pos = m.end()
            return self.var_node(m.group(), m.start(), m.end())
        if c == '"' or c == "'":
            return self.string()
        if c and c in "([{":
            return self.bracketed()
        lit = self.number()
        if lit is not None:
            return lit
        m = self.word_here()
        if m is not None and m.group() in _LITERAL_WORDS:
            self.pos = m.end()
            return self.make_literal(_LITERAL_WORDS[m.group()], m.group(), self.span(m.start(), m.end()))
        raise Bail()

    # ---------------------------------------------------------------------------------- values

    def number_match(self) -> tuple[str, re.Match[str]] | None:
        """A NUMBER, SIZE or DURATION literal here (not consumed), or None."""
        pos = self.pos
        if pos >= self.n or (self.t[pos] not in _DIGITS and self.t[pos] != "-"):
            return None
        for kind in ("NUMBER", "SIZE", "DURATION"):
            m = self.match(kind)
            if m is not None:
                return kind, m
        return None

    def number(self) -> Any:
        """A NUMBER, SIZE or DURATION literal here (consumed), or None."""
        found = self.number_match()
        if found is None:
            return None
        kind, m = found
        self.pos = m.end()
        return self.make_literal(kind, m.group(), self.span(m.start(), m.end()))

    def string(self) -> Str:
        start = self.pos
        if self.t[start] == "'":
            m = self.need("STRING_SQ")
            self.pos = m.end()
            text = m.group()
            return _Str(self.span(start, m.end()), text, strings.split_single(text[1:-1]))
        m = self.need("STRING_DQ")
        self.pos = m.end()
        text = m.group()
        parts = strings.split_double(text[1:-1], start + 1, self.span_at, self.sub_pipeline)
        return _Str(self.span(start, m.end()), text, parts)

    def word(self, m: re.Match[str]) -> Word:
        start, end = m.span()
        self.pos = end
        text = self.t[start:end]
        if m.re is self.plain_re or _SPECIAL.search(text) is None:
            return _Word(self.span(start, end), text, (text,))
        return _Word(self.span(start, end), text, strings.split_word(text, start, self.span_at, self.sub_pipeline))

    def var_node(self, text: str, start: int, end: int) -> Var:
        dot = text.find(".")
        if dot < 0:
            return _Var(self.span(start, end), text[1:])
        return _Var(self.span(start, end), text[1:dot], strings.parse_path(text[dot:]))

    def sub_pipeline(self, start: int, end: int) -> Pipeline:
        """``$( ... )`` inside a string: parsed in place, as Lark's ``interp`` rule would."""
        if "#" in self.t[start:end]:
            raise Bail()
        saved_pos, saved_n = self.pos, self.n
        self.pos, self.n = start, end
        try:
            self.skip_blank()
            p = self.pipeline(False)
            self.skip_blank()
            if self.pos != end:
                raise Bail()
        finally:
            self.pos, self.n = saved_pos, saved_n
        return p

    def skip_blank(self) -> None:
        while self.pos < self.n and self.t[self.pos] in " \t\f\n":
            self.pos += 1

    def bracketed(self) -> Any:
        c = self.peek()
        start = self.pos
        if c == "(":
            self.pos += 1
            p = self.pipeline(True)
            c = self.skip(True)
            if c != ")":
                raise Bail()
            m = self.match("RPAR_PATH")
            if m is not None:
                self.pos = m.end()
                return _Sub(self.span(start, self.pos), p, strings.parse_path(m.group()[1:]))
            self.pos += 1
            return _Sub(self.span(start, self.pos), p)
        if c == "[":
            self.pos += 1
            items: list[Any] = []
            while True:
                c = self.skip(True)
                if c == "]":
                    self.pos += 1
                    return _ListExpr(self.span(start, self.pos), tuple(items))
                if c == ",":
                    self.pos += 1
                    continue
                if c == "" or c in ")}|;":
                    raise Bail()
                if self.match("KEY"):
                    raise Bail()
                item, bracketed = self.arg(True)
                if bracketed:
                    self.skip(True)
                    self.no_operator_after_bracket()
                items.append(item)
        if self.match("RECORD_OPEN"):
            return self.record()
        return self.closure()

    def record(self) -> RecordExpr:
        start = self.pos
        self.pos += 1
        fields: list[tuple[str, Any]] = []
        while True:
            c = self.skip(True)
            if c == "}":
                self.pos += 1
                return _RecordExpr(self.span(start, self.pos), tuple(fields))
            if c == ",":
                self.pos += 1
                continue
            if c == '"' or c == "'":
                key = self.string().value
            else:
                m = self.need("KEY")
                key = m.group()
                self.pos = m.end()
            self.skip(True)
            self.expect(":")
            c = self.skip(True)
            if c in ("", ",", "}", ")", "]", "|", ";"):
                raise Bail()
            value, bracketed = self.arg(True)
            if bracketed:
                self.skip(True)
                self.no_operator_after_bracket()
            fields.append((key, value))

    def closure(self) -> Any:
        start = self.pos
        self.pos += 1
        params: tuple[str, ...] | None = None
        save = self.pos
        c = self.skip(False)
        if c == "|":
            self.pos += 1
            names: list[str] = []
            while True:
                c = self.skip(False)
                if c == "|":
                    self.pos += 1
                    break
                if names:
                    self.expect(",")
                    self.skip(False)
                m = self.need("NAME")
                names.append(m.group())
                self.pos = m.end()
            params = tuple(names)
        else:
            self.pos = save
        body = self.statements("}")
        self.pos += 1
        span = self.span(start, self.pos)
        if params is None and not body:
            return _RecordExpr(span, ())
        return _Closure(span, params or (), _Block(span, body))


def _ends_with_paren(value: Any) -> bool:
    """``1..(n)`` ends with `)`, after which Lark's lexer state is shared with expressions."""
    return isinstance(value, Range) and isinstance(value.hi, Sub)


def parse_program(text: str, file: str, literal: Any) -> tuple[Any, ...]:
    """The statements of ``text``; raises Bail when Lark must decide."""
    if not _SOURCES:
        _load()
    # The parse makes many small objects and frees none: the cyclic collector would only rescan them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Parser(text, file, literal).statements("")
    finally:
        if collecting:
            gc.enable()
