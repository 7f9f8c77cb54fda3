"""``--filter KEY=VALUE`` of the list, prune and events verbs: parsing, the one combining rule, and
the matchers they share.

Each manager names the keys it knows and says what one ``KEY=VALUE`` means for its objects; ``matches``
combines them the way docker does for every verb: different keys must all hold (AND), the values given
for one key are alternatives (OR), except ``label``, where every label given must be there (docker's
``label=a --filter label=b`` wants both). The common tests (a name substring, an id prefix, a label
``KEY`` or ``KEY=VALUE``, a true/false switch) are here so they mean the same everywhere. Values given
for one key are collected in order: ``{"label": ["a", "b=1"], "name": ["web"]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from ctrd.errors import InvalidArgument

__all__ = ["id_matches", "label_matches", "matches", "name_matches", "parse_filters", "truth"]

T = TypeVar("T")


def parse_filters(
    items: Iterable[str] | None, known: Sequence[str], what: str, *, switches: Sequence[str] = ()
) -> dict[str, list[str]]:
    """``["label=a", "name=web"]`` into ``{key: [values]}``. A key not in ``known``, or a value of a
    key in ``switches`` that is not true/false, is refused at once, before anything is listed (``what``
    names the objects in the message: "volumes")."""
    out: dict[str, list[str]] = {}
    for item in items or ():
        key, eq, value = str(item).partition("=")
        if not eq or not key:
            raise InvalidArgument(f"invalid filter {item!r}: use KEY=VALUE")
        if key not in known:
            raise InvalidArgument(f"unknown filter {key!r} for {what}: use {', '.join(known)}")
        if key in switches:
            truth(key, value)
        out.setdefault(key, []).append(value)
    return out


def matches(filters: Mapping[str, Sequence[T]], test: Callable[[str, T], bool]) -> bool:
    """Whether an object passes ``filters`` (``parse_filters``' result, or the same keys mapped to
    prepared values), ``test(key, value)`` saying whether one value of one key holds for it."""
    for key, values in filters.items():
        combine = all if key == "label" else any
        if not combine(test(key, value) for value in values):
            return False
    return True


def name_matches(name: str, wanted: str) -> bool:
    """``name=PART``: the name contains PART, as docker's name filter."""
    return wanted in name


def id_matches(object_id: str, wanted: str) -> bool:
    """``id=PREFIX``: the id starts with PREFIX."""
    return object_id.startswith(wanted)


def label_matches(labels: Mapping[str, str], wanted: str) -> bool:
    """``label=KEY`` (the label is set) or ``label=KEY=VALUE`` (set to VALUE)."""
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def truth(key: str, value: str) -> bool:
    """A switch filter such as ``dangling=true``: true/1 or false/0."""
    text = value.lower()
    if text not in ("true", "1", "false", "0"):
        raise InvalidArgument(f"filter {key} takes true or false, not {value!r}")
    return text in ("true", "1")
