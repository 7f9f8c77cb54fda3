"""Time arguments with docker's meaning, in one place: ``logs --since/--until``, ``events --since/--until``
and the ``until=`` filters all read a time through `parse_time`.

docker's rules (its ``GetTimestamp``): a duration (``10m``, ``1h30m``, ``1.5h``; pouchsh also takes
``2d``) is that long before now; a number is Unix seconds (``1700000000``, ``1700000000.5``); otherwise an
RFC 3339 time (``2026-12-06T10:00:00Z``, ``…+02:00``, with up to nine fraction digits), or a shorter form
(``2026-12-06T10:00``, ``2026-12-06``). A time written without a zone is the local time, as docker's is.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from ctrd.errors import InvalidArgument

__all__ = ["parse_time"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
            "d": 86400 * 10**9}
_UNIX = re.compile(r"\d+(?:\.\d{1,9})?")
_STAMP = re.compile(
    r"(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE
)


def parse_time(value: object, flag: str, *, now_ns: int | None = None, forward: bool = False) -> int | None:
    """``value`` as Unix nanoseconds; None for no value. ``forward``: a duration counts from now on
    (``events --until 30s``: containerd keeps no history, so only a time ahead makes sense there).
    Raises InvalidArgument naming ``flag`` for what is none of the forms."""
    if value is None or value == "":
        return None
    now = time.time_ns() if now_ns is None else now_ns
    if isinstance(value, int) and not isinstance(value, bool):  # the language's Duration, in ns
        return now + int(value) if forward else now - int(value)
    text = str(value).strip()
    span = _duration_ns(text)
    if span is not None:
        return now + span if forward else now - span
    if _UNIX.fullmatch(text):
        whole, _, frac = text.partition(".")
        return int(whole) * 10**9 + int(frac.ljust(9, "0") or 0)
    stamp = _stamp_ns(text)
    if stamp is None:
        raise InvalidArgument(
            f"{flag} {text!r}: expected a duration (10m), Unix seconds or an RFC 3339 time (2026-12-06T10:00:00Z)"
        )
    return stamp


def _duration_ns(text: str) -> int | None:
    """A Go duration's nanoseconds (``1h30m``, ``1.5s``, ``-`` not allowed); None when it is not one."""
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return int(total) if pos else None


def _stamp_ns(text: str) -> int | None:
    m = _STAMP.fullmatch(text)
    if m is None:
        return None
    day, hm, seconds, fraction, zone = m.groups()
    shown = f"{day}T{hm or '00:00'}:{seconds or '00'}"
    if zone:
        zone = "+00:00" if zone.upper() == "Z" else (zone if ":" in zone else zone[:3] + ":" + zone[3:])
    try:
        moment = datetime.fromisoformat(shown + (zone or ""))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # no zone written: the local time, as docker reads it
    return int(moment.timestamp()) * 10**9 + int((fraction or "0").ljust(9, "0"))
