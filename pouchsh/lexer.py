"""A Pygments lexer for the pouch language, used by the REPL as you type and by ``pygmentize -l pouch``.

It is a regex lexer, not the parser: it must colour half-typed input quickly and never fail (and it is
ready before the parser is loaded, for the first prompt). Its keywords and operators are the grammar's
(grammar/vocabulary.py reads them from pouch.lark). It tracks
just enough state to tell a command word from an argument, so that ``run --name for busybox`` shows
``for`` as an argument while ``for i in 1..3 { ... }`` shows it as a keyword (LANGUAGE.md §1: keywords
are keywords only where a statement allows them).

States: ``root`` is command position (start of a statement, after ``|``, inside ``{ }``, ``( )`` and
``$( )``); ``args`` is the rest of a command or expression; ``list`` is inside ``[ ]``; ``dqs`` is a
double-quoted string. A closing bracket seen in ``args`` pops both ``args`` and the ``root`` its opener
pushed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import re

from pygments.lexer import RegexLexer, bygroups, default, include
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from grammar.vocabulary import vocabulary

__all__ = ["PouchLexer"]


def _alternatives(strings: tuple[str, ...] | list[str]) -> str:
    """A regex alternation of ``strings``, longest first (so ``<=`` is tried before ``<``)."""
    return "(?:" + "|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True)) + ")"


_WORDS = vocabulary()

# A bracket, quote or separator ends a bare word (LANGUAGE.md §1); ``,`` separates list items.
_END = r"(?=\.\.|[\s|;()\[\]{},]|$)"
_NAME = r"[A-Za-z_][\w-]*"
_VAR = r"\$[A-Za-z_]\w*(?:\.[\w-]+\??)*\??"
_NUMBER = r"-?\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d|[kKmMgGtT]i?[bB]|[kKmMgGtT]|[bB])?" + _END
# Commands named by two words (``network create``): both words are the command.
_GROUPS = r"(?:container|image|volume|network|namespace|system)"
# let, def and for have rules of their own below (they name a variable or a command).
_STATEMENT_KEYWORDS = _alternatives([k for k in _WORDS.statement_keywords if k not in ("let", "def", "for")]) + r"\b"
_LITERALS = _alternatives(_WORDS.literals) + _END
_WORD_OPERATORS = _alternatives(_WORDS.word_operators) + _END
# `=` binds (`let x = 1`); it is no operator in an expression, but shows as one.
_SYMBOL_OPERATORS = _alternatives([op for op in _WORDS.symbol_operators if op != ".."] + ["="]) + r"(?=\s)"


class PouchLexer(RegexLexer):
    """Lexer for pouch scripts (``.pouch``) and the pouchsh prompt."""

    name = "Pouch"
    aliases: ClassVar[list[str]] = ["pouch", "pouchsh"]
    filenames: ClassVar[list[str]] = ["*.pouch"]
    mimetypes: ClassVar[list[str]] = ["text/x-pouch"]

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t\r]+", Whitespace),
            (r"\\\n", Text),
            (r";", Punctuation),
            (r"#.*$", Comment.Single),
            (r"\|", Operator),
            (r"=(?=\s)", Operator),
            (r"[)}\]]", Punctuation, "#pop"),
            include("openers"),
            (rf"(let)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (rf"(def)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Function), "args"),
            (
                rf"(for)(\s+)({_NAME})(\s+)(in)\b",
                bygroups(Keyword, Whitespace, Name.Variable, Whitespace, Keyword),
                "args",
            ),
            (_STATEMENT_KEYWORDS, Keyword, "args"),
            (rf"({_NAME})(:)(?=\s)", bygroups(Name.Label, Punctuation), "args"),
            (r"\^[^\s|;()\[\]{}]+", Name.Builtin, "args"),
            (rf"({_GROUPS})([ \t]+)([a-z][\w-]*)", bygroups(Name.Function, Whitespace, Name.Function), "args"),
            (rf"[A-Za-z_][\w.-]*{_END}", Name.Function, "args"),
            default("args"),
        ],
        "args": [
            (r"\n", Whitespace, "#pop"),
            (r";", Punctuation, "#pop"),
            (r"\|", Operator, "#pop"),
            (r"[ \t\r]+", Whitespace),
            (r"\\\n", Text),
            (r"#.*$", Comment.Single),
            (r"[)}]", Punctuation, "#pop:2"),
            (r"\]", Punctuation),
            include("openers"),
            (r"(else)(\s+)(if)\b", bygroups(Keyword, Whitespace, Keyword)),
            (r"else(?=\s*\{)", Keyword),
            (rf"(catch)(\s+)({_NAME})(?=\s*\{{)", bygroups(Keyword, Whitespace, Name.Variable)),
            (r"catch(?=\s*\{)", Keyword),
            (rf"({_NAME})(:)(?=\s)", bygroups(Name.Label, Punctuation)),
            include("values"),
        ],
        "list": [
            (r"\]", Punctuation, "#pop"),
            (r"\s+", Whitespace),
            (r"#.*$", Comment.Single),
            include("openers"),
            (r"[)}]", Punctuation),
            (r"[:|;]", Punctuation),
            include("values"),
        ],
        "openers": [
            (r"(\{)(\s*)(\|)([^|]*)(\|)", bygroups(Punctuation, Whitespace, Punctuation, Name.Variable, Punctuation), "root"),
            (r"\{", Punctuation, "root"),
            (r"\$?\(", Punctuation, "root"),
            (r"\[", Punctuation, "list"),
        ],
        "values": [
            (r'"', String.Double, "dqs"),
            (r"'[^']*'?", String.Single),
            (r"\$\{[^}]*\}?", Name.Variable),
            (_VAR, Name.Variable),
            (_LITERALS, Keyword.Constant),
            (_NUMBER, Number),
            (r"\.\.", Operator),
            (r"(--?[A-Za-z][\w.-]*)(=?)", bygroups(Name.Attribute, Operator)),
            (_SYMBOL_OPERATORS, Operator),
            (_WORD_OPERATORS, Operator.Word),
            (r",", Punctuation),
            (r"[^\s|;()\[\]{}\"'$#,][^\s|;()\[\]{}\"',]*", Text),
            (r".", Text),
        ],
        "dqs": [
            (r'"', String.Double, "#pop"),
            (r"\\.", String.Escape),
            (r"\$\(", String.Interpol, "root"),
            (r"\$\{[^}\"]*\}?", String.Interpol),
            (r"\$[A-Za-z_]\w*(?:\.[\w-]+\??)*", String.Interpol),
            (r'[^"\\$]+', String.Double),
            (r"[$\\]", String.Double),
        ],
    }
