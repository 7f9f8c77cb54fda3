"""The pouch grammar: source text → AST with spans. It knows nothing of commands, values or running.

Public API::

    parse(text, filename="<input>", *, reference=False) -> Program
                                                    # raises SyntaxErrors (every error, each with a span)
    is_complete(text) -> bool                       # REPL: is a block, bracket, string or `|`/`\\` open?
    tokens(text) -> list[Token]                     # the tokens the parser sees, for completion/highlighting
    word_at(text, cursor) -> WordAt                 # the word under the cursor and its role (completion)
    to_source(node) -> str                          # AST → source that parses back to an equal AST

Nodes are in :mod:`grammar.nodes`. ``pouch.lark`` defines the syntax; the Lark parser built from it
(grammar/parser.py) reports errors and serves completion, and a hand-written fast path
(grammar/fastparse.py) reads valid programs into the same AST (``reference=True`` skips it).
"""

from __future__ import annotations

from grammar.completion import Token, WordAt, tokens, word_at
from grammar.nodes import Program, Span
from grammar.parser import SyntaxErrors, SyntaxIssue, is_complete, parse
from grammar.printer import to_source

__all__ = [
    "Program", "Span", "SyntaxErrors", "SyntaxIssue", "Token", "WordAt", "is_complete", "parse", "to_source",
    "tokens", "word_at",
]
