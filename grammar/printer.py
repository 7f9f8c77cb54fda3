"""AST → source. The output parses back to an equal AST (spans aside); words, strings and literals are
printed as they were written, so a round trip keeps them."""

from __future__ import annotations

from typing import Any

from grammar.nodes import (
    Assign,
    Binary,
    Block,
    Break,
    Closure,
    Command,
    Continue,
    Def,
    Exit,
    External,
    For,
    If,
    Let,
    ListExpr,
    Literal,
    Member,
    Not,
    ParamDecl,
    Pipeline,
    Program,
    Range,
    RecordExpr,
    Return,
    Source,
    Str,
    Sub,
    Transaction,
    Try,
    Var,
    While,
    Word,
)

__all__ = ["to_source"]

_INDENT = "    "


def to_source(node: Any) -> str:
    if isinstance(node, Program):
        return "".join(_stmt(s, 0) + "\n" for s in node.body)
    if isinstance(node, Block):
        return _block(node, 0)
    return _stmt(node, 0)


def _block(block: Block, depth: int) -> str:
    if not block.body:
        return "{ }"
    inner = "".join(_INDENT * (depth + 1) + _stmt(s, depth + 1) + "\n" for s in block.body)
    return "{\n" + inner + _INDENT * depth + "}"


def _path(path: tuple[Member, ...]) -> str:
    return "".join(f".{m.key}{'?' if m.optional else ''}" for m in path)


def _stmt(s: Any, depth: int) -> str:
    if isinstance(s, Let):
        return f"let {s.name} = {_expr(s.value, depth)}"
    if isinstance(s, Assign):
        return f"{_expr(s.target, depth)} = {_expr(s.value, depth)}"
    if isinstance(s, If):
        out = f"if {_expr(s.cond, depth)} {_block(s.then, depth)}"
        if isinstance(s.orelse, If):
            out += " else " + _stmt(s.orelse, depth)
        elif s.orelse is not None:
            out += " else " + _block(s.orelse, depth)
        return out
    if isinstance(s, For):
        return f"for {s.var} in {_expr(s.iterable, depth)} {_block(s.body, depth)}"
    if isinstance(s, While):
        return f"while {_expr(s.cond, depth)} {_block(s.body, depth)}"
    if isinstance(s, Def):
        params = ", ".join(_param(p, depth) for p in s.params)
        return f"def {s.name} [{params}] {_block(s.body, depth)}"
    if isinstance(s, Try):
        out = f"try {_block(s.body, depth)}"
        if s.handler is not None:
            name = f" {s.catch_name}" if s.catch_name else ""
            out += f" catch{name} {_block(s.handler, depth)}"
        return out
    if isinstance(s, Transaction):
        return f"transaction {_block(s.body, depth)}"
    if isinstance(s, Return):
        return "return" if s.value is None else f"return {_expr(s.value, depth)}"
    if isinstance(s, Break):
        return "break"
    if isinstance(s, Continue):
        return "continue"
    if isinstance(s, Exit):
        return "exit" if s.code is None else f"exit {_expr(s.code, depth)}"
    if isinstance(s, Source):
        return f"source {_expr(s.path, depth)}"
    return _expr(s, depth)


def _param(p: ParamDecl, depth: int) -> str:
    if p.kind == "rest":
        out = f"...{p.name}"
    elif p.kind == "flag":
        out = f"--{p.name}" + (f"(-{p.short})" if p.short else "")
    else:
        out = p.name + ("?" if p.optional and p.default is None else "")
    if p.type:
        out += f": {p.type}"
    if p.default is not None:
        out += f" = {_expr(p.default, depth)}"
    return out


def _expr(e: Any, depth: int) -> str:
    if isinstance(e, (Literal, Word, Str)):
        return e.text
    if isinstance(e, Var):
        return f"${e.name}{_path(e.path)}"
    if isinstance(e, Pipeline):
        return " | ".join(_expr(x, depth) for x in e.elements)
    if isinstance(e, Command):
        return " ".join([e.name.text, *(_expr(a, depth) for a in e.args)])
    if isinstance(e, External):
        return " ".join([f"^{e.program}", *(_expr(a, depth) for a in e.args)])
    if isinstance(e, ListExpr):
        return "[" + ", ".join(_expr(x, depth) for x in e.items) + "]"
    if isinstance(e, RecordExpr):
        if not e.fields:
            return "{}"
        return "{" + ", ".join(f"{_key(k)}: {_expr(v, depth)}" for k, v in e.fields) + "}"
    if isinstance(e, Closure):
        params = f"|{', '.join(e.params)}| " if e.params else ""
        if not e.body.body:
            return "{" + params.rstrip() + " }" if params else "{ }"
        body = _block(e.body, depth)
        return "{" + params + body[1:]
    if isinstance(e, Sub):
        return f"({_expr(e.pipeline, depth)}){_path(e.path)}"
    if isinstance(e, Range):
        return f"{_expr(e.lo, depth)}..{_expr(e.hi, depth)}"
    if isinstance(e, Binary):
        return f"{_expr(e.left, depth)} {e.op} {_expr(e.right, depth)}"
    if isinstance(e, Not):
        return f"not {_expr(e.operand, depth)}"
    raise TypeError(f"cannot print {type(e).__name__}")


def _key(k: str) -> str:
    if k and (k[0].isalpha() or k[0] == "_") and all(c.isalnum() or c in "_-" for c in k):
        return k
    return '"' + k.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'
