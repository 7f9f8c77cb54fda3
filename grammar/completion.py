"""What a completer or highlighter needs from the grammar: the tokens of half-typed input, and the word
under the cursor with its role.

    >>> word_at("ps -a | where sta", 17)
    WordAt(prefix='sta', start=14, end=17, role='argument', command=('where',), index=0)

Roles: ``command`` (first word of a call: complete command names), ``flag`` (starts with ``-``: complete
the flags of the command), ``variable`` (starts with ``$``), ``argument`` (anything else in a call),
``none`` (inside a string or a comment, or where no word can go). ``command`` holds the words of the call
before the cursor (``("network", "create")``: resolve the command with ``CommandTable.match``) and
``index`` how many of them follow the first, flags and their values included.
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar import parser

__all__ = ["Token", "WordAt", "tokens", "word_at"]

_WORD_END = set(" \t\r\n|;()[]{}\"'")
# Tokens after which a new call starts.
_CALL_START = {"PIPE", "_NL", "_SEMI", "LBRACE", "LPAR", "EQUALS", "RBRACE", "ELSE", "TRY"}


@dataclass(frozen=True, slots=True)
class Token:
    """``type`` is the grammar's terminal name (WORD, VAR, STRING_DQ, PIPE, LET, ...)."""

    type: str
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WordAt:
    prefix: str
    start: int
    end: int
    role: str
    command: tuple[str, ...] = ()
    index: int = 0


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` as far as it parses, comments and white space left out. Never raises."""
    return [Token(t.type, str(t), t.start_pos or 0, t.end_pos or 0) for t in parser.lex(text)]


def word_at(text: str, cursor: int) -> WordAt:
    """The word that ends at ``cursor`` (possibly empty) and what it is."""
    start = cursor
    while start > 0 and text[start - 1] not in _WORD_END:
        start -= 1
    end = cursor
    while end < len(text) and text[end] not in _WORD_END:
        end += 1
    prefix = text[start:cursor]
    before = tokens(text[:start])
    if _inside_string_or_comment(text[:start]):
        return WordAt(prefix, start, end, "none")
    if prefix.startswith("$"):
        return WordAt(prefix, start, end, "variable")
    words: list[str] = []
    for tok in reversed(before):
        if tok.type in _CALL_START:
            break
        words.append(tok.text)
    words.reverse()
    if not words:
        return WordAt(prefix, start, end, "command")
    if any(t.type in ("LET", "FOR", "DEF", "IF", "WHILE") for t in before[-len(words):]):
        return WordAt(prefix, start, end, "none")
    role = "flag" if prefix.startswith("-") else "argument"
    return WordAt(prefix, start, end, role, (words[0],) + tuple(words[1:]), len(words) - 1)


def _inside_string_or_comment(text: str) -> bool:
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'" and (i == 0 or text[i - 1] in _WORD_END or text[i - 1] in "=:"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;"):
            nl = text.find("\n", i)
            if nl < 0:
                return True
            i = nl
        i += 1
    return bool(quote)
