"""The words and operators of the language, read from the grammar's terminals (pouch.lark).

The checker (names a ``let`` or ``def`` may not take), completion (keywords at a statement's start),
the highlighter and ``help`` take them from here, so a keyword or operator added to the grammar is
known to all of them.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["Vocabulary", "vocabulary"]

# The terminals whose strings are operators; each matches a few fixed spellings, then a lookahead.
_OPERATOR_TERMINALS = ("COMP_OP", "ADD_OP", "MUL_OP", "RANGE", "IN", "AND", "OR", "NOT")
_LITERAL_TERMINALS = frozenset({"TRUE", "FALSE", "NULL"})
_LOOKAHEAD = re.compile(r"\(\?=(?:[^()\\]|\\.|\[[^\]]*\]|\([^()]*\))*\)$")


class Vocabulary:
    """``keywords``: every keyword (a terminal that is a word: ``let if … true false null``);
    ``statement_keywords``: those that start a statement (``let if for … source``);
    ``literals``: ``true false null``; ``word_operators``: ``and or not in mod``;
    ``operators``: every operator's spelling (``== != … + - * / mod and or not in ..``)."""

    def __init__(self, keywords: frozenset[str], statement_keywords: tuple[str, ...], literals: tuple[str, ...],
                 operators: tuple[str, ...]) -> None:
        self.keywords = keywords
        self.statement_keywords = statement_keywords
        self.literals = literals
        self.operators = operators
        self.word_operators = tuple(op for op in operators if op.isalpha())
        self.symbol_operators = tuple(op for op in operators if not op.isalpha())


def spellings(regexp: str) -> tuple[str, ...]:
    """The fixed strings a terminal's regular expression matches: ``(?:==|!=)(?=\\s)`` → ``==``, ``!=``."""
    body = _LOOKAHEAD.sub("", regexp)
    if body.startswith("(?:") and body.endswith(")"):
        body = body[3:-1]
    out = []
    for alt in body.split("|"):
        text = re.sub(r"\\(.)", r"\1", alt)
        if not text or re.fullmatch(alt, text) is None:
            raise ValueError(f"not a fixed string: {alt!r}")
        out.append(text)
    return tuple(out)


@cache
def vocabulary() -> Vocabulary:
    from grammar.parser import current

    lark = current()
    words: dict[str, str] = {}
    for term in lark.terminals:
        pattern = term.pattern
        if pattern.type == "str" and pattern.value.isalpha():
            words[term.name] = pattern.value
    operators: list[str] = []
    for name in _OPERATOR_TERMINALS:
        pattern = lark.get_terminal(name).pattern
        operators.extend([pattern.value] if pattern.type == "str" else spellings(pattern.to_regexp()))
    at_start = lark.parse_interactive("", start="start").accepts()
    statement = tuple(sorted(w for name, w in words.items()
                             if name in at_start and name not in _LITERAL_TERMINALS and w not in operators))
    literals = tuple(sorted(words[name] for name in _LITERAL_TERMINALS))
    return Vocabulary(frozenset(words.values()), statement, literals, tuple(operators))
