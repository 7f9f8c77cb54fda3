"""What the filters share: reading the piped input as items, cell paths, and closure-or-field keys.

A command marked ``@pulls`` is given a range or a Lazy as it is, and must read it item by item (or by
its length); every other command is given it collected into a list, within the bound (see
pouchsh.values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ctrd.errors import InvalidArgument
from pouchsh.values import IntRange, Lazy, Stream, collect, type_name

__all__ = ["follow", "items", "key_function", "materialize", "passthrough", "pulls"]

_F = TypeVar("_F", bound=Callable[..., Any])


def pulls(fn: _F) -> _F:
    """Mark a command that reads its input item by item, so a range or Lazy reaches it uncollected."""
    fn.pulls_input = True  # type: ignore[attr-defined]
    return fn


def items(ctx: Any, cmd: str) -> Iterable[Any]:
    """The piped input as items: a list, a range or a Stream (left lazy). Null is no items."""
    value = ctx.input
    if value is None:
        return []
    if isinstance(value, (list, Stream, IntRange)):
        return value
    raise InvalidArgument(f"{cmd}: expected a table or list, got {type_name(value)}")


def materialize(ctx: Any, cmd: str) -> list[Any]:
    """The piped input as a list, within the bound; a Stream is read to its end and closed."""
    source = items(ctx, cmd)
    if isinstance(source, (Stream, IntRange)):
        return collect(source, f"{cmd}'s input")  # type: ignore[no-any-return]
    return list(source)


def passthrough(source: Iterable[Any], produce: Iterator[Any]) -> list[Any] | Stream:
    """A filter's result in the input's shape: a Stream stays lazy (closing it closes the input), and
    so does a range or a Lazy, as a Lazy."""
    if isinstance(source, (Lazy, IntRange)):
        return Lazy(produce, close=getattr(source, "close", None))
    if isinstance(source, Stream):
        return Stream(produce, close=source.close)
    return collect(Lazy(produce))  # type: ignore[no-any-return]


def follow(value: Any, path: str, cmd: str) -> Any:
    """The value at a cell path: ``name``, ``labels.app``, ``ports.0``, ``a.b?`` (null when missing).

    A numeric segment indexes a list; a name segment on a list is taken from each item (a column).
    """
    for segment in path.split("."):
        optional = segment.endswith("?")
        name = segment[:-1] if optional else segment
        if not name:
            raise InvalidArgument(f"{cmd}: bad cell path {path!r}")
        value = _step(value, name, optional, path, cmd)
    return value


def _step(value: Any, name: str, optional: bool, path: str, cmd: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        if optional:
            return None
        fields = ", ".join(value) or "none"
        raise InvalidArgument(f"{cmd}: no field {name!r} in the record (its fields: {fields})")
    if isinstance(value, list):
        if name.lstrip("-").isdigit():
            index = int(name)
            if -len(value) <= index < len(value):
                return value[index]
            if optional:
                return None
            raise InvalidArgument(f"{cmd}: index {index} is out of range (the list has {len(value)} items)")
        column = []
        for row, item in enumerate(value):
            if isinstance(item, dict) and name not in item and not optional:
                raise InvalidArgument(f"{cmd}: row {row} has no field {name!r}")
            column.append(_step(item, name, optional, path, cmd))
        return column
    if optional:
        return None
    raise InvalidArgument(f"{cmd}: cannot take {name!r} of a {type_name(value)} (in path {path!r})")


def key_function(ctx: Any, key: Any, cmd: str) -> Callable[[Any], Any]:
    """A string (or int) key is a cell path into each item; a closure is called with the item."""
    if key is None:
        return lambda item: item
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if isinstance(key, str):
        return lambda item: follow(item, key, cmd)
    if callable(key):
        return lambda item: ctx.call(key, item)
    raise InvalidArgument(f"{cmd}: the key must be a field name or a closure, got {type_name(key)}")
