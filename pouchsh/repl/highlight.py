"""Highlighting at the prompt: the Pygments lexer, plus unknown command names marked as you type.

The Pygments lexer knows where a command name stands but not which commands exist; this layer asks the
command table (and the session's ``def``s) and restyles a command word that names nothing, as fish and
Nushell do, so a typo shows before Enter. The second word of a two-word command (``network create``)
is judged together with the first.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer, PygmentsLexer

from pouchsh.lexer import PouchLexer

__all__ = ["UNKNOWN_COMMAND", "CommandAwareLexer"]

UNKNOWN_COMMAND = "class:unknown-command"
_FUNCTION = "pygments.name.function"


class CommandAwareLexer(Lexer):
    """`PouchLexer` through prompt_toolkit, with ``known(name)`` deciding which command words are real."""

    def __init__(self, known: Callable[[str], bool]) -> None:
        self._known = known
        self._pygments = PygmentsLexer(PouchLexer)

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        get_line = self._pygments.lex_document(document)

        def line(number: int) -> StyleAndTextTuples:
            return self._mark(get_line(number))

        return line

    def invalidation_hash(self) -> object:
        return self._pygments.invalidation_hash()

    def _mark(self, fragments: StyleAndTextTuples) -> StyleAndTextTuples:
        out: StyleAndTextTuples = []
        previous = ""  # the last word that is not blank, and whether it was a command word
        previous_was_command = False
        for fragment in fragments:
            style, text = fragment[0], fragment[1]
            if _FUNCTION in style and text.strip():
                pair = f"{previous} {text}" if previous_was_command else ""
                if previous != "def" and not (pair and self._known(pair)) and not self._known(text):
                    fragment = (f"{style} {UNKNOWN_COMMAND}", text)
                previous_was_command = True
            elif text.strip():
                previous_was_command = False
            if text.strip():
                previous = text.strip()
            out.append(fragment)
        return out
