"""docker's ``--format``: the subset of Go's text/template that scripts written for docker use.

``lex`` → ``parse`` → ``Template.render``. What is understood::

    {{.ID}} {{.State.Status}} {{.}} {{$}} {{$v}}         fields of the record, the record, variables
    {{json .}} {{join .Args " "}} {{lower .Name}}        docker's functions and Go's builtins (_FUNCS)
    {{.Label "k"}}                                       a method the record offers (ps, volume/network ls)
    {{index .Labels "k"}} {{printf "%-10s" .Name}}       index, printf (verbs s v d q t x f e g)
    {{if …}}…{{else if …}}…{{else}}…{{end}}              and {{with …}}, {{range …}} / {{range $k, $v := …}}
    {{.Name | upper}} {{(index .Ports 0).HostPort}}      pipes, parenthesised pipelines
    {{- trim -}}                                         whitespace trimming

A template is script input: it can read fields of the value it is given and call the functions listed
in ``_FUNCS`` (and the record's own ``Method`` values), nothing else; no Python attribute is ever looked
up (a record is a dict; a field is a key). The text it makes is bounded by POUCHSH_MAX_TEXT
(``check_text``) as it grows, and its nesting by ``_MAX_DEPTH``. Every error is an InvalidArgument
naming the template's line and column, as Go's ``template: :1:5: …`` does.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ctrd.errors import InvalidArgument
from pouchsh.values import Duration, Method, Size, check_text

__all__ = ["Method", "Template", "go_text", "parse"]

_MAX_DEPTH = 64


# ------------------------------------------------------------------------------------------------ lexer


@dataclass(frozen=True)
class Token:
    kind: str  # text, field, var, ident, string, number, bool, nil, pipe, lparen, rparen, declare, comma, end
    value: Any
    pos: int


_ACTION_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<declare>:?=)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})


def lex(text: str, start: int = 0) -> list[Token]:
    """The template's text pieces and action tokens from ``start`` on; each action ends with an ``end``
    token. Positions count from the start of ``text``, so errors point into what the user wrote."""
    out: list[Token] = []
    pos = start
    while pos < len(text):
        start = text.find("{{", pos)
        if start < 0:
            out.append(Token("text", _escapes(text[pos:]), pos))
            break
        chunk = text[pos:start]
        inner = start + 2
        if text.startswith("-", inner) and inner + 1 < len(text) and text[inner + 1] in " \t\r\n":
            chunk = chunk.rstrip(" \t\r\n")
            inner += 1
        if chunk:
            out.append(Token("text", _escapes(chunk), pos))
        if text.startswith("/*", _skip_space(text, inner)):
            close = text.find("*/", inner)
            finish = text.find("}}", close) if close >= 0 else -1
            if finish < 0:
                raise _error(text, start, "unclosed comment")
            pos = _after_action(text, finish)
            continue
        pos = _lex_action(text, inner, start, out)
    return out


def _escapes(text: str) -> str:
    """docker's: a ``\\t`` or ``\\n`` written in the template's text is a tab or a newline (scripts
    write ``'table {{.ID}}\\t{{.Names}}'`` in single quotes)."""
    return text.replace("\\t", "\t").replace("\\n", "\n")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _after_action(text: str, close: int) -> int:
    """Past ``}}`` at ``close``; a ``-}}`` trims the whitespace that follows."""
    end = close + 2
    if close > 0 and text[close - 1] == "-" and close > 1 and text[close - 2] in " \t\r\n":
        end = _skip_space(text, end)
    return end


def _lex_action(text: str, pos: int, start: int, out: list[Token]) -> int:
    while True:
        if pos >= len(text):
            raise _error(text, start, "unclosed action")
        if text.startswith("}}", pos) or (text.startswith("-}}", pos) and text[pos - 1] in " \t\r\n"):
            close = pos if text.startswith("}}", pos) else pos + 1
            out.append(Token("end", None, pos))
            return _after_action(text, close)
        m = _ACTION_TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos, f"unexpected {text[pos]!r} in action")
        kind = m.lastgroup
        assert kind is not None
        word = m.group()
        if kind == "field":
            out.append(Token("field", tuple(word.split(".")[1:]) if word != "." else (), pos))
        elif kind == "var":
            name, *chain = word.split(".")
            out.append(Token("var", (name, tuple(chain)), pos))
        elif kind == "string":
            out.append(Token("string", _unquote(text, pos, word), pos))
        elif kind == "char":
            out.append(Token("number", ord(_unquote(text, pos, '"' + word[1:-1] + '"')[:1] or "\0"), pos))
        elif kind == "number":
            out.append(Token("number", _number(text, pos, word), pos))
        elif kind == "ident":
            if word in ("true", "false"):
                out.append(Token("bool", word == "true", pos))
            elif word == "nil":
                out.append(Token("nil", None, pos))
            else:
                out.append(Token("ident", word, pos))
        elif kind != "space":
            out.append(Token(kind, word, pos))
        pos = m.end()


def _unquote(text: str, pos: int, word: str) -> str:
    if word.startswith("`"):
        return word[1:-1]
    try:
        value = json.loads(word)
    except ValueError:
        raise _error(text, pos, f"bad string {word}") from None
    return str(value)


def _number(text: str, pos: int, word: str) -> int | float:
    try:
        return int(word, 0)
    except ValueError:
        try:
            return float(word)
        except ValueError:
            raise _error(text, pos, f"bad number {word}") from None


# ------------------------------------------------------------------------------------------------ parser


@dataclass(frozen=True)
class Operand:
    kind: str  # field, var, literal, func, pipeline
    value: Any
    pos: int
    chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cmd:
    args: tuple[Operand, ...]
    pos: int


@dataclass(frozen=True)
class Pipe:
    decl: tuple[str, ...]
    cmds: tuple[Cmd, ...]
    pos: int


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Action:
    pipe: Pipe


@dataclass(frozen=True)
class Branch:
    kind: str  # if, with, range
    pipe: Pipe
    body: tuple[Any, ...]
    orelse: tuple[Any, ...]


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i] if self.i < len(self.tokens) else Token("eof", None, len(self.text))

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok: Token, message: str) -> InvalidArgument:
        return _error(self.text, tok.pos, message)

    def nodes(self, closers: tuple[str, ...]) -> tuple[tuple[Any, ...], str, Token]:
        """Nodes up to one of ``closers`` (``end``, ``else``) or the end of the text."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(self.peek(), f"nested more than {_MAX_DEPTH} deep")
        out: list[Any] = []
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                if closers:
                    raise self.fail(tok, "unexpected end of template: missing {{end}}")
                self.depth -= 1
                return tuple(out), "eof", tok
            if tok.kind == "text":
                self.take()
                out.append(Text(tok.value))
                continue
            word = tok.value if tok.kind == "ident" else None
            if word in ("end", "else"):
                if word not in closers:
                    raise self.fail(tok, f"unexpected {{{{{word}}}}}")
                self.take()
                self.depth -= 1
                return tuple(out), word, tok
            if word in ("if", "with", "range"):
                self.take()
                out.append(self.branch(word, tok))
                continue
            if word in _KEYWORDS:
                raise self.fail(tok, f"{{{{{word}}}}} is not supported")
            out.append(Action(self.pipeline(tok.pos, allow_decl=True)))
            self.expect_end()

    def expect_end(self) -> None:
        tok = self.take()
        if tok.kind != "end":
            raise self.fail(tok, f"unexpected {_describe(tok)} in action")

    def branch(self, kind: str, tok: Token) -> Branch:
        pipe = self.pipeline(tok.pos, allow_decl=kind == "range", pair=kind == "range")
        self.expect_end()
        body, closer, _ = self.nodes(("end", "else"))
        orelse: tuple[Any, ...] = ()
        if closer == "else":
            nxt = self.peek()
            if nxt.kind == "ident" and nxt.value == "if" and kind == "if":
                self.take()
                orelse = (self.branch("if", nxt),)  # else if: the inner branch consumes the one {{end}}
            else:
                self.expect_end()
                orelse, _, _ = self.nodes(("end",))
                self.expect_end()
                return Branch(kind, pipe, body, orelse)
            return Branch(kind, pipe, body, orelse)
        self.expect_end()
        return Branch(kind, pipe, body, orelse)

    def pipeline(self, pos: int, *, allow_decl: bool = False, pair: bool = False) -> Pipe:
        decl: list[str] = []
        if allow_decl and self.peek().kind == "var":
            save = self.i
            names = [self.take().value]
            if pair and self.peek().kind == "comma":
                self.take()
                if self.peek().kind != "var":
                    raise self.fail(self.peek(), "expected a variable after ','")
                names.append(self.take().value)
            if self.peek().kind == "declare" and all(not chain for _, chain in names):
                self.take()
                decl = [name for name, _ in names]
            else:
                self.i = save
        cmds = [self.command()]
        while self.peek().kind == "pipe":
            self.take()
            cmds.append(self.command())
        return Pipe(tuple(decl), tuple(cmds), pos)

    def command(self) -> Cmd:
        args: list[Operand] = []
        start = self.peek()
        while self.peek().kind not in ("end", "pipe", "rparen", "eof"):
            args.append(self.operand())
        if not args:
            raise self.fail(start, "missing value for command")
        return Cmd(tuple(args), start.pos)

    def operand(self) -> Operand:
        tok = self.take()
        if tok.kind == "field":
            return Operand("field", None, tok.pos, tok.value)
        if tok.kind == "var":
            name, chain = tok.value
            return Operand("var", name, tok.pos, chain)
        if tok.kind in ("string", "number", "bool", "nil"):
            return Operand("literal", tok.value, tok.pos)
        if tok.kind == "ident":
            if tok.value not in _FUNCS:
                raise self.fail(tok, f'function "{tok.value}" not defined')
            return Operand("func", tok.value, tok.pos)
        if tok.kind == "lparen":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise self.fail(tok, f"nested more than {_MAX_DEPTH} deep")
            pipe = self.pipeline(tok.pos)
            close = self.take()
            if close.kind != "rparen":
                raise self.fail(close, "unclosed left paren")
            self.depth -= 1
            chain: tuple[str, ...] = ()
            nxt = self.peek()
            if nxt.kind == "field" and nxt.pos == close.pos + 1 and nxt.value:
                chain = self.take().value  # (index .Ports 0).HostPort
            return Operand("pipeline", pipe, tok.pos, chain)
        raise self.fail(tok, f"unexpected {_describe(tok)} in operand")


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "}}"
    if tok.kind == "eof":
        return "end of template"
    return repr(tok.value) if tok.value is not None else tok.kind


@dataclass(frozen=True)
class Template:
    """A parsed template; ``table`` when it began with docker's ``table`` keyword (a header row and
    tab-aligned columns)."""

    source: str
    nodes: tuple[Any, ...]
    table: bool = False

    def render(self, data: Any, *, strict: bool = True) -> str:
        """The text for ``data``. ``strict``: a field a record lacks is an error (docker's listings are Go
        structs); otherwise it prints ``<no value>`` (docker's inspect reads JSON into maps)."""
        out = _Out()
        _Exec(self.source, out, strict).nodes(self.nodes, data, {"$": data})
        return "".join(out.parts)


def parse(source: str) -> Template:
    """Parse a ``--format`` template; raises InvalidArgument naming the position of what is wrong."""
    table = False
    start = 0
    if source.startswith("table") and source[5:6] in ("", " ", "\t"):
        table, start = True, _skip_space(source, 5)
    nodes, _, _ = _Parser(source, lex(source, start)).nodes(())
    return Template(source, nodes, table)


# --------------------------------------------------------------------------------------------- evaluator


class _Out:
    __slots__ = ("length", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def write(self, text: str) -> None:
        self.length += len(text)
        check_text(self.length, "the formatted output")
        self.parts.append(text)


_MISSING = object()


class _Exec:
    def __init__(self, source: str, out: _Out, strict: bool) -> None:
        self.source = source
        self.out = out
        self.strict = strict

    def fail(self, pos: int, message: str) -> InvalidArgument:
        return _error(self.source, pos, message)

    def nodes(self, nodes: tuple[Any, ...], dot: Any, scope: dict[str, Any]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.write(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot, scope)
                if not node.pipe.decl:
                    self.out.write(go_text(value))
            else:
                self.branch(node, dot, scope)

    def branch(self, node: Branch, dot: Any, scope: dict[str, Any]) -> None:
        inner = dict(scope)
        if node.kind == "range":
            value = self.pipe(Pipe((), node.pipe.cmds, node.pipe.pos), dot, inner)
            items = _range_items(value, lambda: self.fail(node.pipe.pos, f"range can't iterate over {go_text(value)}"))
            first = next(items, _MISSING)  # walked lazily: `range 100000000000` is bounded by the output
            if first is _MISSING:
                self.nodes(node.orelse, dot, inner)
                return
            for key, item in itertools.chain((first,), items):
                if len(node.pipe.decl) == 1:
                    inner[node.pipe.decl[0]] = item
                elif len(node.pipe.decl) == 2:
                    inner[node.pipe.decl[0]], inner[node.pipe.decl[1]] = key, item
                self.nodes(node.body, item, inner)
            return
        value = self.pipe(node.pipe, dot, inner)
        if truth(value):
            self.nodes(node.body, value if node.kind == "with" else dot, inner)
        else:
            self.nodes(node.orelse, dot, inner)

    def pipe(self, pipe: Pipe, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, scope, value)
        for name in pipe.decl:
            scope[name] = value
        return value

    def command(self, cmd: Cmd, dot: Any, scope: dict[str, Any], piped: Any) -> Any:
        head, rest = cmd.args[0], cmd.args[1:]
        extra = () if piped is _MISSING else (piped,)
        if head.kind == "func":
            args = [self.operand(a, dot, scope) for a in rest] + list(extra)
            try:
                return _FUNCS[head.value](*args)
            except InvalidArgument as e:
                raise self.fail(head.pos, f'error calling {head.value}: {e.message}') from None
            except TypeError:
                raise self.fail(head.pos, f"wrong number of args for {head.value}: got {len(args)}") from None
        if head.kind == "field" and (rest or extra):
            target = self.operand(head, dot, scope)
            if not isinstance(target, Method):
                raise self.fail(head.pos, f"can't give argument to non-function .{'.'.join(head.chain)}")
            args = [self.operand(a, dot, scope) for a in rest] + list(extra)
            try:
                return target.fn(*args)
            except TypeError:
                raise self.fail(head.pos, f"wrong number of args for {target.name}: got {len(args)}") from None
        if rest or extra:
            raise self.fail(head.pos, "can't give argument to a non-function")
        value = self.operand(head, dot, scope)
        if isinstance(value, Method):  # a method named without arguments is called with none
            try:
                return value.fn()
            except TypeError:
                raise self.fail(head.pos, f"wrong number of args for {value.name}: got 0") from None
        return value

    def operand(self, op: Operand, dot: Any, scope: dict[str, Any]) -> Any:
        if op.kind == "literal":
            return op.value
        if op.kind == "field":
            return self.follow(dot, op.chain, op.pos)
        if op.kind == "var":
            if op.value not in scope:
                raise self.fail(op.pos, f"undefined variable: {op.value}")
            return self.follow(scope[op.value], op.chain, op.pos)
        if op.kind == "pipeline":
            return self.follow(self.pipe(op.value, dot, dict(scope)), op.chain, op.pos)
        raise self.fail(op.pos, f"{op.value} is a function: call it with its arguments")

    def follow(self, value: Any, chain: tuple[str, ...], pos: int) -> Any:
        for i, name in enumerate(chain):
            if isinstance(value, dict):
                if name in value:
                    value = value[name]
                    continue
                if not self.strict and i == len(chain) - 1:
                    return _MISSING
                raise self.fail(pos, f"can't evaluate field {name} in {'.'.join(('', *chain[:i])) or 'the value'}")
            if value is None:
                raise self.fail(pos, f"nil pointer evaluating .{'.'.join(chain[: i + 1])}")
            raise self.fail(pos, f"can't evaluate field {name} in type {_go_type(value)}")
        return value


def _range_items(value: Any, fail: Callable[[], InvalidArgument]) -> Iterator[tuple[Any, Any]]:
    if value is None:
        return
    if isinstance(value, dict):
        for key in sorted(value, key=str):  # Go visits a map's keys in sorted order
            yield key, value[key]
        return
    if isinstance(value, (list, tuple)):
        yield from enumerate(value)
        return
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        yield from ((i, i) for i in range(value))
        return
    raise fail()


# ------------------------------------------------------------------------------------------- Go's values


def truth(value: Any) -> bool:
    """Go's: false, 0, nil and empty strings, lists and maps are false."""
    if value is None or value is _MISSING:
        return False
    if isinstance(value, Method):
        return True
    return bool(value)


def go_text(value: Any) -> str:
    """``fmt.Sprint``'s text of a value: ``[a b]`` for a list, ``map[k:v]`` for a map, ``<nil>`` for nil."""
    if value is None or value is _MISSING:
        return "<no value>" if value is _MISSING else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (Size, Duration)):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        shown = sorted((k for k, v in value.items() if not isinstance(v, Method)), key=str)
        return "map[" + " ".join(f"{go_text(k)}:{go_text(value[k])}" for k in shown) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    return f"<{type(value).__name__}>"


def _go_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return "interface {}"


def _json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items() if not isinstance(x, Method)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (Size, Duration)):
            return int(v)
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, Method):
            return None
        return v

    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            # a missing key gives the zero value of docker's map[string]string (labels): ""
            value = value.get(key, value.get(str(key), "") if not isinstance(key, str) else "")
        elif isinstance(value, (list, tuple, str)):
            if isinstance(key, bool) or not isinstance(key, int):
                raise InvalidArgument(f"cannot index slice/array with type {_go_type(key)}")
            if not 0 <= key < len(value):
                raise InvalidArgument(f"index out of range: {key}")
            value = value[key]
        elif value is None:
            raise InvalidArgument("index of untyped nil")
        else:
            raise InvalidArgument(f"can't index item of type {_go_type(value)}")
    return value


def _len(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise InvalidArgument(f"len of type {_go_type(value)}")


def _join(items: Any, sep: str) -> str:
    if isinstance(items, str):
        return items
    if not isinstance(items, (list, tuple)):
        raise InvalidArgument(f"join needs a list, got {_go_type(items)}")
    text = _str_arg(sep).join(go_text(i) for i in items)
    check_text(len(text), "the formatted output")
    return text


def _str_arg(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"expected a string, got {_go_type(value)}")
    return value


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise InvalidArgument("missing argument for comparison")
    return any(_same(first, o) for o in others)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and isinstance(a, bool) == isinstance(b, bool):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        raise InvalidArgument(f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")
    return bool(a == b)


def _order(a: Any, b: Any) -> int:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    if not numbers and not (isinstance(a, str) and isinstance(b, str)):
        raise InvalidArgument(f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")
    return (a > b) - (a < b)


def _and(*args: Any) -> Any:
    if not args:
        raise TypeError
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    if not args:
        raise TypeError
    for a in args:
        if truth(a):
            return a
    return args[-1]


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: Any, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs scripts use: %s %v %d %q %t %x %X %f %e %g and %%."""
    fmt = _str_arg(fmt)
    values = list(args)
    out: list[str] = []
    last = 0
    used = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[last:m.start()])
        last = m.end()
        flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if used >= len(values):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = values[used]
        used += 1
        text = _verb(verb, value, precision)
        w = int(width) if width and width != "*" else 0
        if w > 4096:
            raise InvalidArgument("printf width over 4096")
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and verb in "dxXfeg" and text[:1] != "-":
            text = text.rjust(w, "0")
        else:
            text = text.rjust(w)
        out.append(text)
    out.append(fmt[last:])
    if used < len(values):
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(v)}={go_text(v)}" for v in values[used:]) + ")")
    text = "".join(out)
    check_text(len(text), "the formatted output")
    return text


def _verb(verb: str, value: Any, precision: str | None) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if verb in "sv":
        text = go_text(value)
        return text[: int(precision)] if precision and verb == "s" else text
    if verb == "q":
        return json.dumps(go_text(value), ensure_ascii=False)
    if verb == "t" and isinstance(value, bool):
        return go_text(value)
    if verb == "d" and number and float(value).is_integer():
        return str(int(value))
    if verb in "xX":
        if number and float(value).is_integer():
            text = format(int(value), "x")
        elif isinstance(value, str):
            text = value.encode().hex()
        else:
            return f"%!{verb}({_go_type(value)}={go_text(value)})"
        return text.upper() if verb == "X" else text
    if verb in "feg" and number:
        digits = int(precision) if precision else 6
        return format(float(value), f".{digits}{verb}") if verb != "g" else _go_float(float(value))
    return f"%!{verb}({_go_type(value)}={go_text(value)})"


def _truncate(text: Any, length: int) -> str:
    text = go_text(text)
    return text[:length] if isinstance(length, int) and length >= 0 else text


def _pad(text: Any, before: int, after: int) -> str:
    if not all(isinstance(n, int) and 0 <= n <= 4096 for n in (before, after)):
        raise InvalidArgument("pad needs counts from 0 to 4096")
    return " " * before + go_text(text) + " " * after


#: Every function a template can call: docker's template functions and Go's builtins.
_FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": _join,
    "split": lambda text, sep: _str_arg(text).split(_str_arg(sep)) if sep else list(_str_arg(text)),
    "lower": lambda text: go_text(text).lower(),
    "upper": lambda text: go_text(text).upper(),
    "title": lambda text: go_text(text).title(),
    "truncate": _truncate,
    "pad": _pad,
    "printf": _printf,
    "print": lambda *args: "".join(go_text(a) for a in args),
    "println": lambda *args: " ".join(go_text(a) for a in args) + "\n",
    "index": _index,
    "len": _len,
    "eq": _eq,
    "ne": lambda a, b: not _same(a, b),
    "lt": lambda a, b: _order(a, b) < 0,
    "le": lambda a, b: _order(a, b) <= 0,
    "gt": lambda a, b: _order(a, b) > 0,
    "ge": lambda a, b: _order(a, b) >= 0,
    "and": _and,
    "or": _or,
    "not": lambda a: not truth(a),
}


def _error(text: str, pos: int, message: str) -> InvalidArgument:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return InvalidArgument(f"template: {line}:{col}: {message}")
