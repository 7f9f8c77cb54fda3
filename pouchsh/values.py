"""The value kinds of the pouch language and their units.

Values are plain Python objects so that every layer can build and read them without wrappers:

    null → None      bool → bool      int → int       float → float     string → str
    list → list      record → dict (str keys, ordered)       table → list of dicts
    size → Size (an int of bytes)     duration → Duration (an int of nanoseconds)
    stream → Stream (a lazy, once-only sequence: `events`, `logs -f`; filters consume it lazily)
    range → IntRange (``1..3``: lazy, walked as often as needed, a few bytes whatever its length)
    (inside a pipeline) → Lazy (a Stream over a range or a lazy list: `1..100000000 | where ... | first 3`
                          pulls three items; what is left at the end of the pipeline is collected)

A value that is made into a list (a range printed or sorted, a lazy list at the end of its pipeline, a
string or a list grown by ``+``) is bounded: past ``Limits.items`` items or ``Limits.text`` characters it
is refused with ``error[limit]`` before it is built (``collect``, ``check_items``, ``check_text``). The
bounds come from POUCHSH_MAX_ITEMS and POUCHSH_MAX_TEXT (``configure_limits``).

Size suffixes follow docker for the single letters (``512k``, ``64m``, ``1g`` are binary, as in
``--memory 64m``), SI for ``kB MB GB TB`` and IEC for ``KiB MiB GiB TiB``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ctrd.errors import InvalidArgument, Limit

__all__ = [
    "LIMITS",
    "Duration",
    "IntRange",
    "Lazy",
    "Limits",
    "Method",
    "Size",
    "Stream",
    "check_items",
    "check_text",
    "collect",
    "configure_limits",
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


class Lazy(Stream):
    """A Stream that stands for a finite list made lazily inside one pipeline (a filter over a range).

    Unlike a Stream from containerd it is a list to the user: at the end of its pipeline, and when it is
    piped into a command that does not pull items one by one, it is collected (bounded) into a list."""


class IntRange:
    """``lo..hi``, inclusive, by ``step``: a lazy sequence of ints that can be walked any number of times.

    A range whose end lies before its start (in the direction of its step) is empty: ``1..0`` runs a
    ``for`` body no time, as ``for i in 1..$n`` with ``$n = 0`` must."""

    __slots__ = ("range",)

    def __init__(self, lo: int, hi: int, step: int = 1) -> None:
        if step == 0:
            raise InvalidArgument("a range's step must not be 0")
        self.range = range(lo, hi + (1 if step > 0 else -1), step)

    @classmethod
    def of(cls, items: range) -> IntRange:
        """The IntRange of a Python range (a slice of another: ``skip``)."""
        out = cls.__new__(cls)
        out.range = items
        return out

    @property
    def lo(self) -> int:
        return self.range.start

    @property
    def hi(self) -> int:
        return self.range.stop - (1 if self.range.step > 0 else -1)

    @property
    def size(self) -> int:
        """How many items; unlike ``len()`` also past ``sys.maxsize`` (``1..99999999999999999999``)."""
        r = self.range
        if r.step > 0:
            return max(0, (r.stop - r.start + r.step - 1) // r.step)
        return max(0, (r.start - r.stop - r.step - 1) // -r.step)

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.range)

    def __contains__(self, item: object) -> bool:
        return type(item) is int and item in self.range

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IntRange):
            return self.range == other.range
        if isinstance(other, list):
            return len(other) == self.size and all(
                type(a) is int and a == b for a, b in zip(other, self.range))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.range)

    def __repr__(self) -> str:
        step = "" if self.range.step == 1 else f" step {self.range.step}"
        return f"{self.lo}..{self.hi}{step}"


class Limits:
    """How large a value may be made: ``items`` of a list or record, ``text`` characters of a string."""

    __slots__ = ("items", "text")

    def __init__(self, items: int = 10_000_000, text: int = 1024**3) -> None:
        self.items = items
        self.text = text


#: The process's bounds; ``configure_limits`` sets them from the environment when pouchsh starts.
LIMITS = Limits()

_ITEMS_VAR = "POUCHSH_MAX_ITEMS"
_TEXT_VAR = "POUCHSH_MAX_TEXT"


def configure_limits(env: Mapping[str, str]) -> None:
    """Read POUCHSH_MAX_ITEMS (a count) and POUCHSH_MAX_TEXT (a count of characters, or a size such as
    ``64MiB``); unset means the defaults. Raises InvalidArgument naming the variable for a bad value."""
    default = Limits()
    items, text = default.items, default.text
    raw = env.get(_ITEMS_VAR, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise InvalidArgument(f"{_ITEMS_VAR} must be a count of 1 or more, got {raw!r}")
        items = int(raw)
    raw = env.get(_TEXT_VAR, "").strip()
    if raw:
        try:
            text = int(parse_size(raw))
        except ValueError:
            raise InvalidArgument(f"{_TEXT_VAR} must be a size such as 64MiB or a count, got {raw!r}") from None
        if text < 1:
            raise InvalidArgument(f"{_TEXT_VAR} must be 1 or more, got {raw!r}")
    LIMITS.items, LIMITS.text = items, text


def _too_many(count: str, what: str) -> Limit:
    return Limit(f"{what} would hold {count} items, more than the {LIMITS.items} allowed",
                 hint=f"a range or stream can stay lazy (`| first n`, `| where ...`, `for`); "
                      f"or raise {_ITEMS_VAR}")


def check_items(count: int, what: str = "a list") -> None:
    """Refuse to make ``what`` with ``count`` items when that passes the bound."""
    if count > LIMITS.items:
        raise _too_many(str(count), what)


def check_text(length: int, what: str = "a string") -> None:
    """Refuse to make ``what`` of ``length`` characters when that passes the bound."""
    if length > LIMITS.text:
        raise Limit(f"{what} would be {length} characters long, more than the {LIMITS.text} allowed",
                    hint=f"raise {_TEXT_VAR} to allow more")


def collect(value: Any, what: str = "") -> Any:
    """A range or a Lazy (or any Stream) as a list, refused with ``error[limit]`` past the bound; any
    other value as it is. A Stream is read to its end (or to the bound) and closed."""
    if isinstance(value, IntRange):
        check_items(value.size, what or f"the range {value!r}")
        return list(value.range)
    if isinstance(value, Stream):
        out: list[Any] = []
        cap = LIMITS.items
        try:
            for item in value:
                if len(out) == cap:
                    raise _too_many(f"more than {cap}", what or "a list")
                out.append(item)
        finally:
            value.close()
        return out
    return value


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
        return "list" if isinstance(value, Lazy) else "stream"
    if isinstance(value, IntRange):
        return "range"
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "table"
        return "list"
    if callable(value):
        return "closure"
    return type(value).__name__


class Method:
    """A record's method (docker's ``{{.Label "com.example.k"}}`` on ps): called with the template's
    arguments (pouchsh.gotemplate). Only values the program puts in a record are callable; a template
    cannot make one. Here, not in gotemplate, because every listing row carries one: a plain ``ps -a``
    renders no template and need not import the template engine (≈ 3-6 ms, docs/PERFORMANCE.md)."""

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self.fn = fn
