"""Turning an argument into the type its parameter or flag declares.

The checker calls this on arguments known before the run (words and literals) and reports a failure as a
check error; the evaluator calls it on the rest as they are computed and raises ``invalid-argument``.
"""

from __future__ import annotations

from typing import Any

from ctrd.errors import InvalidArgument
from pouchsh.values import Duration, IntRange, Size, Stream, collect, parse_duration, parse_size, type_name

__all__ = ["STRING_TYPES", "coerce"]

#: Declared types whose values are strings (the named ones complete live in the REPL).
STRING_TYPES = frozenset({"string", "path", "container", "image", "volume", "network", "namespace"})

_ARTICLE = {"int": "an int", "image": "an image", "any": "any value"}


def _expects(typ: str) -> str:
    return _ARTICLE.get(typ, f"a {typ}")


def coerce(value: Any, typ: str, choices: tuple[str, ...] = ()) -> Any:
    """``value`` as a ``typ``; raises InvalidArgument with a message that names what was expected."""
    out = _coerce(value, typ)
    if choices and out not in choices:
        raise InvalidArgument(f"expected one of {', '.join(choices)}, got {out!r}")
    return out


def _fail(value: Any, typ: str, detail: str = "") -> InvalidArgument:
    shown = repr(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else type_name(value)
    return InvalidArgument(f"expected {_expects(typ)}, got {shown}{detail}")


def _coerce(value: Any, typ: str) -> Any:
    if typ == "any":
        return value
    if typ == "template":
        from pouchsh.gotemplate import Template, parse

        if isinstance(value, Template):
            return value
        if not isinstance(value, str):
            raise _fail(value, "string")
        return parse(value)
    if typ in STRING_TYPES:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (Size, Duration)):
            return str(int(value))
        if isinstance(value, (int, float)):
            return str(value)
        raise _fail(value, typ)
    if typ == "int":
        if isinstance(value, bool):
            raise _fail(value, typ)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _fail(value, typ) from None
        raise _fail(value, typ)
    if typ in ("float", "number"):
        if isinstance(value, bool):
            raise _fail(value, typ)
        if isinstance(value, (int, float)):
            return value if typ == "number" else float(value)
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise _fail(value, typ) from None
            return int(number) if typ == "number" and number.is_integer() and "." not in value else number
        raise _fail(value, typ)
    if typ in ("bool", "switch"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _fail(value, "bool")
    if typ == "size":
        if isinstance(value, (Duration, bool)):
            raise _fail(value, typ)
        if isinstance(value, (int, float)):
            return Size(int(value))
        if isinstance(value, str):
            try:
                return parse_size(value)
            except ValueError:
                raise _fail(value, typ, " (use e.g. 512k, 64MiB, 1GB)") from None
        raise _fail(value, typ)
    if typ == "duration":
        if isinstance(value, Duration):
            return value
        if isinstance(value, (Size, bool)):
            raise _fail(value, typ)
        if isinstance(value, (int, float)):
            return Duration(int(value * 1_000_000_000))
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError:
                raise _fail(value, typ, " (use e.g. 500ms, 10s, 2m, 1h)") from None
        raise _fail(value, typ)
    if typ == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, (tuple, Stream, IntRange)):
            return list(collect(value))
        raise _fail(value, typ)
    if typ == "record":
        if isinstance(value, dict):
            return value
        raise _fail(value, typ)
    if typ == "closure":
        if callable(value):
            return value
        raise _fail(value, typ)
    raise InvalidArgument(f"unknown type {typ!r}")
