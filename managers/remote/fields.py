"""The fields of pouchd's records, taken only with the type they should have (a record comes from another
host), and the references sent back to it, checked so that a name cannot add path segments to a request."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from ctrd.errors import InvalidArgument

#: a container or image reference sent in a path: a name, an id (prefix), or an image reference
REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,511}\Z")
#: a container's or exec's id from pouchd, sent back in a path: hex only (a name may hold a slash)
ID = re.compile(r"[0-9a-f]{12,64}\Z")


def checked_ref(ref: Any, what: str = "container") -> str:
    text = str(ref)
    if not REF.match(text) or ".." in text:
        raise InvalidArgument(f"{what} {text[:100]!r}: not a name, id or reference pouchsh sends to pouchd")
    return text


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def as_iso(seconds: Any) -> str:
    value = as_int(seconds)
    if value is None or value <= 0:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def docker_filters(filters: Iterable[str]) -> dict[str, list[str]]:
    """pouchsh's ``--filter key=value`` list as docker's ``{"key": ["value", …]}``."""
    out: dict[str, list[str]] = {}
    for item in filters:
        key, eq, value = str(item).partition("=")
        if not eq or not key:
            raise InvalidArgument(f"--filter {item!r}: expected key=value")
        out.setdefault(key, []).append(value)
    return out
