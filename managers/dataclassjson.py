"""A dataclass again from its ``dataclasses.asdict`` after a JSON round trip, led by its field types.

JSON keeps dicts, lists and scalars: a nested dataclass comes back as a dict, a tuple as a list. The field
types say what each was, so ``from_plain`` rebuilds them (nested dataclasses, ``list[...]``,
``tuple[...]``, ``dict[..., ...]`` and ``X | None`` of those) and a new nested field needs no code.
Keys the dataclass does not have are left out (a file an older or newer pouchsh wrote); fields a file
does not have take their defaults.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

__all__ = ["from_plain"]

T = TypeVar("T")


@cache
def _field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field ``cls()`` takes; resolved once per class (get_type_hints evaluates
    every annotation string)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def from_plain(cls: type[T], data: Any) -> T:
    """``cls`` (a dataclass) from the dict ``asdict`` made of one, read back from JSON."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    types_ = _field_types(cls)
    return cls(**{name: _value(types_[name], value) for name, value in data.items() if name in types_})


def _value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _value(members[0], value)
        if any(_rebuilt(a) for a in members):
            # JSON does not say which member a value was: such a field needs a tag, not a guess
            raise TypeError(f"{tp}: a union of types that JSON does not keep apart")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_plain(tp, value)
    if origin is list:
        return [_value(args[0], item) for item in value] if args else list(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], item) for item in value)
        return tuple(_value(a, item) for a, item in zip(args, value, strict=True)) if args else tuple(value)
    if origin is dict:
        return {key: _value(args[1], item) for key, item in value.items()} if args else dict(value)
    return value


def _rebuilt(tp: Any) -> bool:
    """Whether a value of ``tp`` changes on the way back from JSON (so a union of it is ambiguous)."""
    return (dataclasses.is_dataclass(tp) and isinstance(tp, type)) or typing.get_origin(tp) in (list, tuple, dict)
