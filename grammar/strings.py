"""Splitting a string or bare word into literal text and interpolated expressions.

The lexer takes a whole ``"..."`` as one token (see pouch.lark); this second stage finds ``$name``,
``${name}``, ``$name.field.0`` and ``$(pipeline)`` inside it. ``$(...)`` is parsed with the grammar's
``interp`` start symbol by the callback the parser passes in, at its true offset in the file, so errors
inside it point at the right column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from grammar.errors import SyntaxIssue
from grammar.nodes import Member, Span, Var

__all__ = ["split_double", "split_single", "split_word"]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "$": "$", "'": "'"}
# In strings a field name has no hyphen, so "$name-$i" reads as $name, "-", $i.
_VAR_RE = re.compile(r"\$([A-Za-z_]\w*)((?:\.(?:[A-Za-z_]\w*|\d+)\??)*)")
_BRACED_RE = re.compile(r"\$\{([A-Za-z_]\w*)((?:\.(?:[A-Za-z_][\w-]*|\d+)\??)*)\}")

_PLAIN = re.compile(r"[$\"'\\]")

SpanAt = Callable[[int, int], Span]
ParseSub = Callable[[int, int], Any]


def parse_path(text: str) -> tuple[Member, ...]:
    """``.a.0.b?`` → members."""
    members = []
    for part in text.split(".")[1:]:
        optional = part.endswith("?")
        key = part[:-1] if optional else part
        members.append(Member(int(key) if key.isdigit() else key, optional))
    return tuple(members)


def _close_paren(text: str, i: int) -> int:
    """Index of the ``)`` that closes the ``(`` at ``i``, skipping nested parens and quotes; -1 if none."""
    depth = 0
    quote = ""
    n = len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


class _Parts:
    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.buf: list[str] = []

    def text(self, s: str) -> None:
        self.buf.append(s)

    def expr(self, e: Any) -> None:
        if self.buf:
            self.parts.append("".join(self.buf))
            self.buf = []
        self.parts.append(e)

    def done(self) -> tuple[Any, ...]:
        if self.buf or not self.parts:
            self.parts.append("".join(self.buf))
        return tuple(self.parts)


def _dollar(body: str, i: int, base: int, out: _Parts, span_at: SpanAt, parse_sub: ParseSub) -> int:
    """Handle a ``$`` at ``body[i]``; returns the index after what it consumed."""
    if body.startswith("$(", i):
        j = _close_paren(body, i + 1)
        if j < 0:
            raise SyntaxIssue("`$(` is not closed", span_at(base + i, base + i + 2))
        out.expr(parse_sub(base + i + 2, base + j))
        return j + 1
    m = _BRACED_RE.match(body, i) or _VAR_RE.match(body, i)
    if m is None:
        out.text("$")
        return i + 1
    out.expr(Var(span_at(base + i, base + m.end()), m.group(1), parse_path(m.group(2))))
    return m.end()


def split_double(body: str, base: int, span_at: SpanAt, parse_sub: ParseSub) -> tuple[Any, ...]:
    """Parts of the inside of a ``"..."`` string that starts at offset ``base`` in the file."""
    out = _Parts()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            nxt = body[i + 1]
            out.text(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        elif c == "$":
            i = _dollar(body, i, base, out, span_at, parse_sub)
        else:
            j = i + 1
            while j < n and body[j] not in "\\$":
                j += 1
            out.text(body[i:j])
            i = j
    return out.done()


def split_single(body: str) -> tuple[Any, ...]:
    return (body,)


def split_word(text: str, base: int, span_at: SpanAt, parse_sub: ParseSub) -> tuple[Any, ...]:
    """Parts of a bare word: ``$x`` interpolates, quoted segments lose their quotes (a double-quoted one
    interpolates), and a backslash keeps the next character as it is."""
    if _PLAIN.search(text) is None:
        return (text,)
    out = _Parts()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.text(text[i + 1])
            i += 2
        elif c == "$":
            i = _dollar(text, i, base, out, span_at, parse_sub)
        elif c == "'":
            j = text.index("'", i + 1)
            out.text(text[i + 1 : j])
            i = j + 1
        elif c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            for part in split_double(text[i + 1 : j], base + i + 1, span_at, parse_sub):
                out.expr(part) if not isinstance(part, str) else out.text(part)
            i = j + 1
        else:
            out.text(c)
            i += 1
    return out.done()
