"""The words and operators of the language, read from the grammar (pouch.lark).

The checker (names a ``let`` or ``def`` may not take), completion (keywords at a statement's start), the
highlighter and ``help`` take them from here, so a keyword or operator added to the grammar is known to
all of them. They are read from the grammar's text, not from the built parser, so that the REPL's
highlighter has them before Lark is loaded; tests/lang/test_parser_properties.py holds them to the
parser's own terminals and parse table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

__all__ = ["Vocabulary", "vocabulary"]

# The terminals whose strings are operators (the others that are words are keywords).
_OPERATOR_TERMINALS = ("COMP_OP", "ADD_OP", "MUL_OP", "RANGE", "IN", "AND", "OR", "NOT")
_LITERAL_TERMINALS = ("TRUE", "FALSE", "NULL")
_TERMINAL = re.compile(r"^([A-Z][A-Z_]*)(?:\.-?\d+)?:[ \t]*(.+)$", re.M)
_RULE = re.compile(r"^[?!]?(\w+):(.*(?:\n[ \t]+\|.*)*)", re.M)
_STRING = re.compile(r'"((?:\\.|[^"\\])*)"')


@dataclass(frozen=True)
class Vocabulary:
    """``keywords``: every keyword (a terminal that is a word: ``let if … true false null``);
    ``statement_keywords``: those that start a statement (``let if for … source``);
    ``literals``: ``true false null``; ``operators``: every operator's spelling
    (``== != … + - * / mod .. in and or not``), split into ``word_operators`` and ``symbol_operators``."""

    keywords: frozenset[str]
    statement_keywords: tuple[str, ...]
    literals: tuple[str, ...]
    operators: tuple[str, ...]

    @property
    def word_operators(self) -> tuple[str, ...]:
        return tuple(op for op in self.operators if op.isalpha())

    @property
    def symbol_operators(self) -> tuple[str, ...]:
        return tuple(op for op in self.operators if not op.isalpha())


def read(grammar_text: str) -> Vocabulary:
    """The vocabulary of a grammar: its string terminals, and the first terminal of each statement rule."""
    terminals = {name: _STRING.findall(body) for name, body in _TERMINAL.findall(grammar_text)}
    words = {name: found[0] for name, found in terminals.items()
             if len(found) == 1 and found[0].isalpha() and _is_single_string(grammar_text, name)}
    operators = [s for name in _OPERATOR_TERMINALS for s in terminals[name]]
    rules = {name: body for name, body in _RULE.findall(grammar_text)}
    statement = set()
    for alternative in rules["_statement"].split("|"):
        first = rules.get(alternative.strip(), "").split()
        if first and first[0] in words and first[0] not in _OPERATOR_TERMINALS:
            statement.add(words[first[0]])
    return Vocabulary(frozenset(words.values()), tuple(sorted(statement)),
                      tuple(words[name] for name in _LITERAL_TERMINALS), tuple(operators))


def _is_single_string(grammar_text: str, name: str) -> bool:
    """Whether terminal ``name`` is defined as one string and nothing else (``LET: "let"``)."""
    return re.search(rf'^{name}(?:\.-?\d+)?:[ \t]*"[^"]*"[ \t]*$', grammar_text, re.M) is not None


@cache
def vocabulary() -> Vocabulary:
    from grammar.paths import GRAMMAR_PATH

    with open(GRAMMAR_PATH, encoding="utf-8") as f:
        return read(f.read())
