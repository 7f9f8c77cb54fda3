"""Secret values in source text: where they sit, and how whatever shows source hides them.

A flag declared ``secret`` (``login --password``) binds a value that is never shown again. The checker
records the place of each such value as it binds it (``Secrets.add``), and whatever shows source or
arguments asks here first:

- an error's excerpt (``pouchsh.errors.format_error``) prints ``***`` in its place, its carets moved
  to match (``Secrets.mask_line``);
- ``--dry-run`` prints ``***`` for the value (``pouchsh.dryrun``);
- the REPL keeps an input that holds one out of its history file (``pouchsh.repl.session``).

A source that does not parse binds nothing, so for it the places are guessed from its words
(``Secrets.guess``): what follows a secret flag's spelling on a line that names a command with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grammar.nodes import Span
    from pouchsh.signature import CommandTable

__all__ = ["MASK", "MaskedLine", "Secrets"]

MASK = "***"

#: line, column, end line, end column: 1-based, the end exclusive (a Span without its offsets)
_Place = tuple[int, int, int, int]
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class MaskedLine:
    """One source line with its secret runs replaced by ``***``."""

    text: str
    #: the replaced runs, as 0-based [start, end) indexes into the original line, in order
    runs: tuple[tuple[int, int], ...] = ()

    def index(self, original: int, *, end: bool = False) -> int:
        """Where 0-based ``original`` of the unmasked line falls in ``text``: inside a replaced run, at
        the mask's start (or, for the end of a range, the mask's end)."""
        shift = 0
        for start, stop in self.runs:
            if original <= start:
                break
            if original < stop:
                return start + shift + (len(MASK) if end else 0)
            shift += len(MASK) - (stop - start)
        return original + shift


class Secrets:
    """The places of secret values in each source, by file name."""

    def __init__(self) -> None:
        self._places: dict[str, list[_Place]] = {}

    def add(self, span: Span) -> None:
        self._places.setdefault(span.file, []).append((span.line, span.column, span.end_line, span.end_column))

    def forget(self, file: str) -> None:
        """Drop what is known of ``file``, whose text is about to be read anew."""
        self._places.pop(file, None)

    def holds(self, file: str) -> bool:
        return bool(self._places.get(file))

    def mask_line(self, file: str, number: int, text: str) -> MaskedLine:
        """Line ``number`` (1-based) of ``file``, whose text is ``text``, with each secret in it masked."""
        runs = []
        for line, column, end_line, end_column in self._places.get(file, ()):
            if line <= number <= end_line:
                start = column - 1 if line == number else 0
                stop = end_column - 1 if end_line == number else len(text)
                start, stop = max(0, start), min(len(text), stop)
                if stop > start:
                    runs.append((start, stop))
        if not runs:
            return MaskedLine(text)
        merged: list[tuple[int, int]] = []
        for start, stop in sorted(runs):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
            else:
                merged.append((start, stop))
        pieces, at = [], 0
        for start, stop in merged:
            pieces += [text[at:start], MASK]
            at = stop
        pieces.append(text[at:])
        return MaskedLine("".join(pieces), tuple(merged))

    def guess(self, text: str, file: str, table: CommandTable) -> None:
        """Record the likely secrets of a source that did not parse: on each line that names a command
        with secret flags, the word after a secret flag's spelling (``-p pw``) or the rest of a word
        that carries its value (``--password=pw``, ``-ppw``)."""
        spellings: set[str] = set()
        names: set[str] = set()
        for cmd in table.commands():
            secret = [f for f in cmd.flags if f.secret]
            if secret:
                names.update(n.split()[-1] for n in (cmd.name, *cmd.aliases))
                spellings.update(s for f in secret for s in f.spellings())
        if not spellings:
            return
        for number, line in enumerate(text.split("\n"), 1):
            words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(line)]
            if not any(w in names for _, _, w in words):
                continue
            for i, (start, stop, word) in enumerate(words):
                cut = _value_start(word, spellings)
                if cut is None:
                    continue
                if cut < len(word):
                    self._places.setdefault(file, []).append((number, start + cut + 1, number, stop + 1))
                elif i + 1 < len(words):
                    after = words[i + 1]
                    self._places.setdefault(file, []).append((number, after[0] + 1, number, after[1] + 1))


def _value_start(word: str, spellings: set[str]) -> int | None:
    """Where a secret value starts inside ``word``: its length when the value is the next word, None
    when the word is no secret flag."""
    if word in spellings:
        return len(word)
    name, eq, _ = word.partition("=")
    if eq and name in spellings and name.startswith("--"):
        return len(name) + 1
    if not word.startswith("--") and word[:2] in spellings:
        return 2
    return None
