"""Parsing a source: the fast path first, the Lark parser where it gives up, every syntax error collected.

Valid programs are read by the hand-written fast path (grammar/fastparse.py); Lark (grammar/lalr.py)
parses what it gives up on and reports syntax errors. Lark is imported on the first such use only, so
a script that parses on the fast path starts without it.

Syntax errors are collected, not only the first: after an error the parser blanks out the top-level
statement that holds it (keeping newlines, so every position stays true) and parses again, up to
:data:`MAX_ERRORS` times.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from grammar import fastparse
from grammar.nodes import Literal, Program, Span, maker

if TYPE_CHECKING:
    from lark import Lark, Token

__all__ = ["MAX_ERRORS", "SyntaxErrors", "SyntaxIssue", "build", "configure", "is_complete", "parse"]

GRAMMAR_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pouch.lark")
MAX_ERRORS = 10

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
    return _state.source  # type: ignore[no-any-return]


def _number(text: str) -> tuple[float | int, str]:
    i = len(text)
    while not text[i - 1].isdigit():
        i -= 1
    return (float(text[:i]) if "." in text[:i] else int(text[:i])), text[i:]


_literal = maker(Literal)  # both parsers make every literal here


def make_literal(kind: str, text: str, span: Span) -> Literal:
    """A literal from its terminal (NUMBER SIZE DURATION TRUE FALSE NULL) and text."""
    if kind == "NUMBER":
        if "." in text:
            return _literal(span, "float", float(text), text)
        return _literal(span, "int", int(text), text)
    if kind == "SIZE":
        n, unit = _number(text)
        return _literal(span, "size", int(n * _SIZE_UNITS[unit.lower()]), text)
    if kind == "DURATION":
        n, unit = _number(text)
        return _literal(span, "duration", int(n * _DURATION_UNITS[unit]), text)
    if kind == "NULL":
        return _literal(span, "null", None, text)
    return _literal(span, "bool", kind == "TRUE", text)


# ------------------------------------------------------------------------------------------ the Lark parser


def build(strict: bool = False) -> Lark:
    """A new Lark parser. ``strict=True`` (tests) makes Lark refuse any grammar conflict or regex collision."""
    from grammar import lalr

    return lalr.build(strict)


def configure(*, strict: bool) -> None:
    """Use a strict Lark parser from now on (the test suite does this)."""
    from grammar import lalr

    lalr.configure(strict=strict)


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


def _parse_once(text: str, file: str, fast: bool) -> tuple[Any, ...]:
    _state.source = _Source(text, file)
    try:
        if fast:
            try:
                return fastparse.parse_program(text, file, make_literal)
            except (fastparse.Bail, SyntaxIssue):
                pass
        from grammar import lalr

        return lalr.parse_body(text)
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
            except SyntaxIssue as e:
                issue = e
            else:
                if issues:
                    raise SyntaxErrors(issues)
                end = Span(filename, 0, len(text), 1, 1, text.count("\n") + 1, 1)
                return Program(end, body, filename, text)
            issues.append(issue)
            blanked = _blank(work, issue.span) if len(issues) < MAX_ERRORS else None
            if blanked is None or (issue.message.startswith("`") and issue.message.endswith("is not closed")):
                raise SyntaxErrors(issues)
            work = blanked
    finally:
        _state.source = outer


def is_complete(text: str) -> bool:
    """False when the input stops inside an open block, bracket, string or ``$(``, or after a trailing
    ``|`` or ``\\``: the REPL then asks for another line. Invalid input is complete (it is submitted
    and its error shown)."""
    from grammar import lalr

    return lalr.is_complete(text)


def lex(text: str) -> list[Token]:
    """The tokens of ``text`` as the parser sees them (ignored ones left out), as far as it parses;
    never raises. Used for completion and for error messages."""
    from grammar import lalr

    return lalr.lex(text)
