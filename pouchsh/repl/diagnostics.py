"""Colour for the language's error text at the prompt.

The language renders every error one way (`pouchsh.errors.format_error`: ``error[KIND]: message``, the
``-->`` location, the source line and a caret line); the REPL keeps that text and only colours it: the
headline red, the location and gutter blue, the quoted source line through the pouch lexer, the caret
red, ``= help`` cyan. Only the REPL does this, so scripts' error output stays plain for CI logs.
"""

from __future__ import annotations

import re

__all__ = ["highlight_error"]

RED, BOLD_RED, BLUE, CYAN, RESET = "\x1b[31m", "\x1b[1;31m", "\x1b[34m", "\x1b[36m", "\x1b[0m"

_HEADLINE = re.compile(r"^(error\[[\w-]+\]:)(.*)$")
_LOCATION = re.compile(r"^(\s*-->)(.*)$")
_SOURCE = re.compile(r"^(\d+ \| )(.*)$")
_CARET = re.compile(r"^(\s* \| )(\s*)(\^+)\s*$")
_GUTTER = re.compile(r"^(\s* \|)\s*$")
_HELP = re.compile(r"^(\s*= help:)(.*)$")


def highlight_error(text: str) -> str:
    """``text`` from format_error with ANSI colours added; the characters shown are unchanged."""
    return "\n".join(_line(line) for line in text.split("\n"))


def _line(line: str) -> str:
    if m := _HEADLINE.match(line):
        return f"{BOLD_RED}{m[1]}{RESET}\x1b[1m{m[2]}{RESET}"
    if m := _LOCATION.match(line):
        return f"{BLUE}{m[1]}{RESET}{m[2]}"
    if m := _CARET.match(line):
        return f"{BLUE}{m[1]}{RESET}{m[2]}{BOLD_RED}{m[3]}{RESET}"
    if m := _GUTTER.match(line):
        return f"{BLUE}{m[1]}{RESET}"
    if m := _SOURCE.match(line):
        from pygments import highlight
        from pygments.formatters.terminal import TerminalFormatter

        from pouchsh.lexer import PouchLexer

        code = highlight(m[2], PouchLexer(), TerminalFormatter()).rstrip("\n")
        return f"{BLUE}{m[1]}{RESET}{code}"
    if m := _HELP.match(line):
        return f"{CYAN}{m[1]}{RESET}{m[2]}"
    return line
