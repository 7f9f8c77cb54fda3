"""The pouch grammar: source text → AST with spans. It knows nothing of commands, values or running.

Public API::

    parse(text, filename="<input>") -> Program      # raises SyntaxErrors (every error, each with a span)
    parse_condition(text, start, end, filename) -> Expr   # a row condition (`where size > 1MiB`)
    is_complete(text) -> bool                       # REPL: is a block, bracket, string or `|`/`\\` open?
    tokens(text) -> list[Token]                     # the tokens the parser sees, for completion/highlighting
    word_at(text, cursor) -> WordAt                 # the word under the cursor and its role (completion)
    to_source(node) -> str                          # AST → source that parses back to an equal AST
    KEYWORDS, STATEMENT_KEYWORDS, LITERALS          # the language's words, read from the grammar
    OPERATORS, WORD_OPERATORS, SYMBOL_OPERATORS     # and its operators' spellings

Nodes are in :mod:`grammar.nodes`. ``pouch.lark`` defines the syntax, and the Lark LALR parser built from
it (grammar/parser.py) is the only parser: it reads programs, row conditions and ``$( )`` inside strings,
reports syntax errors, decides whether REPL input is complete and gives completion its tokens. Its tables
and Lark's engine are generated into grammar/_lark.py (``make grammar``, grammar/generate.py), so that a
run imports one module rather than the ``lark`` package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grammar.errors import SyntaxErrors, SyntaxIssue
from grammar.nodes import Program, Span

if TYPE_CHECKING:
    from grammar.parser import MAX_DEPTH, is_complete, parse, parse_condition
    from grammar.completion import Token, WordAt, tokens, word_at
    from grammar.printer import to_source

    KEYWORDS: frozenset[str]
    STATEMENT_KEYWORDS: tuple[str, ...]
    LITERALS: tuple[str, ...]
    OPERATORS: tuple[str, ...]
    WORD_OPERATORS: tuple[str, ...]
    SYMBOL_OPERATORS: tuple[str, ...]

__all__ = [
    "KEYWORDS", "LITERALS", "MAX_DEPTH", "OPERATORS", "STATEMENT_KEYWORDS", "SYMBOL_OPERATORS", "WORD_OPERATORS",
    "Program", "Span", "SyntaxErrors", "SyntaxIssue", "Token", "WordAt", "is_complete", "parse", "parse_condition",
    "to_source", "tokens", "word_at",
]

# Loaded on first use: the parser (and with it Lark's engine: the REPL's highlighter needs only the vocabulary
# before its first prompt), completion's helpers, the printer.
_LAZY = {"parse": "grammar.parser", "parse_condition": "grammar.parser", "is_complete": "grammar.parser",
         "MAX_DEPTH": "grammar.parser", "Token": "grammar.completion", "WordAt": "grammar.completion", "tokens": "grammar.completion",
         "word_at": "grammar.completion", "to_source": "grammar.printer"}
# The vocabulary is read from the built parser, on first use.
_VOCABULARY = {"KEYWORDS": "keywords", "STATEMENT_KEYWORDS": "statement_keywords", "LITERALS": "literals",
               "OPERATORS": "operators", "WORD_OPERATORS": "word_operators", "SYMBOL_OPERATORS": "symbol_operators"}


def __getattr__(name: str) -> Any:
    if name in _VOCABULARY:
        from grammar.vocabulary import vocabulary

        value = getattr(vocabulary(), _VOCABULARY[name])
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'grammar' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
