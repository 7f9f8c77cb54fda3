"""The value kinds of the pouch language and their units.

Values are plain Python objects so that every layer can build and read them without wrappers:

    null → None      bool → bool      int → int       float → float     string → str
    list → list      record → dict (str keys, ordered)       table → list of dicts
    size → Size (an int of bytes)     duration → Duration (an int of nanoseconds)
    stream → Stream (a lazy, once-only sequence: `events`, `logs -f`; filters consume it lazily)

Size suffixes follow docker for the single letters (``512k``, ``64m``, ``1g`` are binary, as in
``--memory 64m``), SI for ``kB MB GB TB`` and IEC for ``KiB MiB GiB TiB``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "Duration",
    "Size",
    "Stream",
    "format_duration",
    "format_size",
    "parse_duration",
    "parse_size",
    "type_name",
]

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_DURATION_UNITS: dict[str, int] = {
    "ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60 * 1_000_000_000, "h": 3600 * 1_000_000_000, "d": 86400 * 1_000_000_000,
}
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgGtT](?:i?[bB])?|[bB])$")
DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)$")


class Size(int):
    """A number of bytes."""

    def __repr__(self) -> str:
        return f"Size({int(self)})"

    def __str__(self) -> str:
        return format_size(self)


class Duration(int):
    """A span of time in nanoseconds."""

    @property
    def seconds(self) -> float:
        return int(self) / 1e9

    def __repr__(self) -> str:
        return f"Duration({int(self)})"

    def __str__(self) -> str:
        return format_duration(self)


class Stream:
    """A lazy sequence that can be walked once. Closing it closes the producer (ending a subscription)."""

    def __init__(self, items: Iterable[Any], *, close: Any = None) -> None:
        self._it: Iterator[Any] = iter(items)
        self._close = close

    def __iter__(self) -> Iterator[Any]:
        return self._it

    def __next__(self) -> Any:
        return next(self._it)

    def close(self) -> None:
        closer = getattr(self._it, "close", None)
        if closer is not None:
            closer()
        if self._close is not None:
            self._close()
            self._close = None


def parse_size(text: str) -> Size:
    """``"64MiB"`` → Size(67108864); a plain number is bytes. Raises ValueError on anything else."""
    t = text.strip()
    if t.isdigit():
        return Size(int(t))
    m = SIZE_RE.match(t)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 512k, 64MiB, 1GB)")
    try:
        return Size(int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]))
    except OverflowError:  # float("9" * 400) is inf
        raise ValueError(f"size out of range: {text!r}") from None


def parse_duration(text: str) -> Duration:
    """``"500ms"`` → Duration(500000000); a plain number is seconds, as docker's ``--time``."""
    t = text.strip()
    try:
        return Duration(int(float(t) * 1_000_000_000))
    except (ValueError, OverflowError):  # "inf" and "1e400" parse as floats, then cannot be ints
        pass
    m = DURATION_RE.match(t)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 10s, 2m, 1h)")
    try:
        return Duration(int(float(m.group(1)) * _DURATION_UNITS[m.group(2)]))
    except OverflowError:
        raise ValueError(f"duration out of range: {text!r}") from None


def format_size(n: int) -> str:
    """Human units, IEC: ``0 B``, ``512 B``, ``1.5 KiB``, ``64 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B" or value == int(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(ns: int) -> str:
    """Human units, largest first: ``500ms``, ``10s``, ``2m 30s``, ``1h``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit in ("ms", "us", "ns"):
            if ns >= _DURATION_UNITS[unit]:
                q = ns / _DURATION_UNITS[unit]
                return f"{sign}{q:g}{unit}"
    parts = []
    for unit in ("d", "h", "m", "s"):
        q, ns = divmod(ns, _DURATION_UNITS[unit])
        if q:
            parts.append(f"{q}{unit}")
    if ns:
        parts.append(f"{ns // 1_000_000}ms")
    return sign + " ".join(parts)


def type_name(value: Any) -> str:
    """The language's name for a value's kind, as error messages and ``describe`` print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Size):
        return "size"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, Stream):
        return "stream"
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "table"
        return "list"
    if callable(value):
        return "closure"
    return type(value).__name__
