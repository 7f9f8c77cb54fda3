"""A command given on pouchsh's own command line, ``pouchsh run -d busybox sleep 60``, as a program.

Each word of the shell's argv becomes one plain word of the call, as it is: it is never read again as
pouch source, so ``pouchsh run busybox sh -c 'echo $HOME; exit 3'`` hands the container that text as
one argument, and no word can turn into a variable, a subexpression or a second statement. The
checker then treats the words exactly as it treats bare words in a script (flags, flag values coerced
to their types, positionals).

The program's text, shown under an error with a caret, writes each word as pouch would need it written;
it is only shown, never parsed.
"""

from __future__ import annotations

import re

from grammar.nodes import Command, Pipeline, Program, Span, Word
from pouchsh.signature import CommandTable

__all__ = ["call_program", "names_command"]

#: words shown as they are; anything else is shown as a double-quoted pouch string
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\t": "\\t"}


def names_command(word: str, table: CommandTable) -> bool:
    """Whether ``pouchsh WORD ...`` means the command WORD rather than a script file.

    A word with a ``/`` or ending in ``.pouch`` is always a file, so ``./run`` runs a script named
    ``run``. A bare command name always means the command, whatever files the working directory holds:
    a file planted there must not change what ``pouchsh ps`` does."""
    if "/" in word or word.endswith(".pouch") or word.startswith("-"):
        return False
    return table.match([word]) is not None or table.is_prefix(word)


def call_program(words: list[str], filename: str) -> Program:
    """The one-statement program that calls ``words[0]`` (and the command words after it, as the
    checker reads them) with the rest of ``words`` as its arguments."""
    nodes: list[Word] = []
    shown: list[str] = []
    offset = 0
    for word in words:
        text = _shown(word)
        start = offset + (1 if shown else 0)
        span = Span(filename, start, start + len(text), 1, start + 1, 1, start + len(text) + 1)
        nodes.append(Word(span, text, (word,)))
        shown.append(text)
        offset = span.end
    source = " ".join(shown)
    whole = Span(filename, 0, len(source), 1, 1, 1, len(source) + 1)
    call = Command(whole, nodes[0], tuple(nodes[1:]))
    return Program(whole, (Pipeline(whole, (call,)),), filename, source)


def _shown(word: str) -> str:
    if _PLAIN.fullmatch(word):
        return word
    out = []
    for ch in word:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or ch == "\x7f" or "\x80" <= ch <= "\x9f":
            out.append(f"\\x{ord(ch):02x}")  # shown only: a terminal must not act on it
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
