"""Script text from bytes: UTF-8, or a parse error that points at the first byte that is not.

A script arrives as bytes (a file, standard input, ``-c`` through the process's arguments). Python would
either refuse the whole file with an internal error or quietly replace what it cannot read; a user gets
instead ``error[parse]`` naming the byte, with its line and column and a caret under it, like any other
syntax error.
"""

from __future__ import annotations

from grammar.nodes import Span
from pouchsh.errors import ParseError

__all__ = ["decode_source", "shown_text"]


def shown_text(data: bytes) -> str:
    """The text to show around an error in ``data``: each undecodable sequence as U+FFFD."""
    return data.decode("utf-8", errors="replace")


def decode_source(data: bytes, filename: str) -> str:
    """``data`` as text; raises ParseError with the span of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = e.start
        line_start = data.rfind(b"\n", 0, bad) + 1
        line = data.count(b"\n", 0, bad) + 1
        # Columns count characters, as every other span does; what precedes on the line is valid UTF-8.
        column = len(data[line_start:bad].decode("utf-8", errors="replace")) + 1
        span = Span(filename, bad, bad + 1, line, column, line, column + 1)
        raise ParseError(f"the script is not valid UTF-8: byte 0x{data[bad]:02x} at offset {bad} ({e.reason})",
                         span=span, hint="save the script as UTF-8") from None
