"""A Pygments lexer for the pouch language, used by the REPL as you type and by ``pygmentize -l pouch``.

It is a regex lexer, not the parser: it must colour half-typed input quickly and never fail. It tracks
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

__all__ = ["PouchLexer"]

# A bracket, quote or separator ends a bare word (LANGUAGE.md §1); ``,`` separates list items.
_END = r"(?=\.\.|[\s|;()\[\]{},]|$)"
_NAME = r"[A-Za-z_][\w-]*"
_VAR = r"\$[A-Za-z_]\w*(?:\.[\w-]+\??)*\??"
_NUMBER = r"-?\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d|[kKmMgGtT]i?[bB]|[kKmMgGtT]|[bB])?" + _END
# Commands named by two words (``network create``): both words are the command.
_GROUPS = r"(?:container|image|volume|network|namespace|system)"
_STATEMENT_KEYWORDS = r"(?:if|while|return|exit|source|try|break|continue)\b"


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
            (rf"(?:true|false|null){_END}", Keyword.Constant),
            (_NUMBER, Number),
            (r"\.\.", Operator),
            (r"(--?[A-Za-z][\w.-]*)(=?)", bygroups(Name.Attribute, Operator)),
            (r"(?:==|!=|<=|>=|=~|!~|<|>|\+|-|\*|/|=)(?=\s)", Operator),
            (rf"(?:and|or|not|in|mod){_END}", Operator.Word),
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
