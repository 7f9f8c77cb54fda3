"""The pouch grammar: source text → AST with spans. It knows nothing of commands, values or running.

Public API::

    parse(text, filename="<input>", *, reference=False) -> Program
                                                    # raises SyntaxErrors (every error, each with a span)
    is_complete(text) -> bool                       # REPL: is a block, bracket, string or `|`/`\\` open?
    tokens(text) -> list[Token]                     # the tokens the parser sees, for completion/highlighting
    word_at(text, cursor) -> WordAt                 # the word under the cursor and its role (completion)
    to_source(node) -> str                          # AST → source that parses back to an equal AST

Nodes are in :mod:`grammar.nodes`. ``pouch.lark`` defines the syntax; the Lark parser built from it
(grammar/lalr.py, loaded on first use) reports errors and serves completion, and a hand-written fast path
(grammar/fastparse.py) reads valid programs into the same AST (``reference=True`` skips it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grammar.nodes import Program, Span
from grammar.parser import SyntaxErrors, SyntaxIssue, is_complete, parse

if TYPE_CHECKING:
    from grammar.completion import Token, WordAt, tokens, word_at
    from grammar.printer import to_source

__all__ = [
    "Program", "Span", "SyntaxErrors", "SyntaxIssue", "Token", "WordAt", "is_complete", "parse", "to_source",
    "tokens", "word_at",
]

# What a script run does not need loads on first use (the REPL's completion, the printer).
_LAZY = {"Token": "grammar.completion", "WordAt": "grammar.completion", "tokens": "grammar.completion",
         "word_at": "grammar.completion", "to_source": "grammar.printer"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'grammar' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
