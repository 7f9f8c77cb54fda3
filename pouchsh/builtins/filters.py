"""Filters: commands that take a table or list from the pipe and give back part of it.

On a Stream (``events``, ``logs -f``), a range or a Lazy (a filter's output over a range) the filters that
can stay lazy do (``where``, ``select``, ``skip``); ``first n`` stops after n items and closes the stream,
``last n`` keeps n items at a time and ``length`` counts; the others read it to its end, within the bound
(see pouchsh.values).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ctrd.errors import InvalidArgument
from pouchsh.builtins._input import follow, items, key_function, materialize, passthrough, pulls
from pouchsh.cells import inline
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import LIMITS, IntRange, Stream, check_items, collect, type_name

_ROWS = "[{name: web, n: 3} {name: db, n: 1} {name: api, n: 2}]"


@command(
    "where",
    help="Keep the items for which a condition holds",
    description=(
        "The condition is a row condition, where a bare field name on the left stands for that field of "
        "each item (`where status == running`), or a closure that receives the item."
    ),
    params=[Param("condition", type="closure", help="Row condition or closure, true to keep the item")],
    examples=[
        Example(f"{_ROWS} | where n > 1", "Rows whose n is greater than 1", output="name  n\nweb   3\napi   2"),
        Example("[1 2 3 4] | where {|x| $x mod 2 == 0 }", "Even numbers, with a closure", output="2\n4"),
        Example("ps -a | where status == exited", "Stopped containers"),
    ],
    input="list",
    category="filters",
)
@pulls
def where(ctx: Any, condition: Any) -> Any:
    source = items(ctx, "where")
    return passthrough(source, (item for item in source if ctx.call(condition, item)))


@command(
    "select",
    help="Keep only the given fields of each row (or of a record)",
    params=[Param("fields", rest=True, help="Field names or cell paths (labels.app)")],
    examples=[
        Example(f"{_ROWS} | select name", "Only the name column", output="name\nweb\ndb\napi"),
        Example("echo {a: 1, b: 2, c: 3} | select c a", "Fields of a record, in the order given", output="c  3\na  1"),
    ],
    input="any",
    category="filters",
)
@pulls
def select(ctx: Any, fields: list[str]) -> Any:
    def pick(row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise InvalidArgument(f"select: expected records, got a {type_name(row)}")
        return {f: follow(row, f, "select") for f in fields}

    if isinstance(ctx.input, dict):
        return pick(ctx.input)
    source = items(ctx, "select")
    return passthrough(source, (pick(row) for row in source))


@command(
    "get",
    help="The value at a cell path: a field of a record, an item of a list, or a column of a table",
    description="`a.b.0` walks into nested values; a segment ending in `?` gives null instead of an error.",
    params=[Param("path", help="Cell path such as name, labels.app, ports.0")],
    examples=[
        Example("echo {name: web, labels: {app: shop}} | get labels.app", "A nested field", output="shop"),
        Example(f"{_ROWS} | get name", "A column as a list", output="web\ndb\napi"),
        Example(f"{_ROWS} | get 1.name", "A field of the second row", output="db"),
    ],
    input="any",
    category="filters",
)
def get(ctx: Any, path: str) -> Any:
    value = ctx.input
    if isinstance(value, Stream):
        value = materialize(ctx, "get")
    if value is None:
        raise InvalidArgument("get: there is no input to take a value from")
    return follow(value, path, "get")


@command(
    "sort-by",
    help="Sort items by a field, by a closure's result, or (with no key) by themselves",
    params=[Param("key", type="any", required=False, help="Field name, cell path or closure")],
    flags=[Flag("reverse", short="r", help="Largest first")],
    examples=[
        Example(f"{_ROWS} | sort-by n", "By a field", output="name  n\ndb    1\napi   2\nweb   3"),
        Example("[3 1 2] | sort-by --reverse", "Scalars, largest first", output="3\n2\n1"),
        Example("images | sort-by size -r", "Largest images first"),
    ],
    input="list",
    category="filters",
)
def sort_by(ctx: Any, key: Any, reverse: bool) -> list[Any]:
    rows = materialize(ctx, "sort-by")
    keyed = key_function(ctx, key, "sort-by")
    # Nulls go last either way, as a missing value is no answer to "which is larger".
    pairs = [(keyed(row), row) for row in rows]
    present = [pair for pair in pairs if pair[0] is not None]
    missing = [row for k, row in pairs if k is None]
    try:
        present.sort(key=lambda pair: pair[0], reverse=reverse)
    except TypeError:
        kinds = sorted({type_name(k) for k, _ in present})
        raise InvalidArgument(f"sort-by: cannot order values of different kinds ({', '.join(kinds)})") from None
    return [row for _, row in present] + missing


@command(
    "first",
    help="The first item, or a list of the first n items",
    description="Without n the item itself (null when there is none); with n a list. Stops reading a stream.",
    params=[Param("n", type="int", required=False, help="How many items")],
    examples=[
        Example("[a b c] | first", "The first item", output="a"),
        Example("[a b c] | first 2", "The first two", output="a\nb"),
        Example("events | first 3", "Wait for three events, then stop listening"),
    ],
    input="list",
    category="filters",
)
@pulls
def first(ctx: Any, n: int | None) -> Any:
    return _end(ctx, "first", n, itertools.islice)


@command(
    "last",
    help="The last item, or a list of the last n items",
    params=[Param("n", type="int", required=False, help="How many items")],
    examples=[
        Example("[a b c] | last", "The last item", output="c"),
        Example("[a b c] | last 2", "The last two", output="b\nc"),
    ],
    input="list",
    category="filters",
)
@pulls
def last(ctx: Any, n: int | None) -> Any:
    return _end(ctx, "last", n, _tail)


def _tail(source: Iterable[Any], count: int) -> Iterable[Any]:
    if isinstance(source, IntRange):
        return source.range[max(0, source.size - count):]
    if isinstance(source, list):
        return source[max(0, len(source) - count):]
    # One item more than the bound is enough to know that n items would pass it.
    kept = deque(source, maxlen=min(count, LIMITS.items + 1))
    check_items(len(kept), "last's result")
    return kept


@command(
    "skip",
    help="Everything but the first n items (n is 1 when not given)",
    params=[Param("n", type="int", required=False, default=1, help="How many items to drop")],
    examples=[Example("[a b c] | skip 2", "Drop two", output="c")],
    input="list",
    category="filters",
)
@pulls
def skip(ctx: Any, n: int | None) -> Any:
    count = 1 if n is None else n
    _non_negative("skip", count)
    source = items(ctx, "skip")
    if isinstance(source, IntRange):
        return IntRange.of(source.range[count:])  # computed, not walked
    return passthrough(source, itertools.islice(source, count, None))


@command(
    "length",
    help="The number of items",
    examples=[
        Example("[a b c] | length", "Three items", output="3"),
        Example("ps | where status == running | length", "How many containers run"),
    ],
    input="list",
    category="filters",
)
@pulls
def length(ctx: Any) -> int:
    source = items(ctx, "length")
    if isinstance(source, IntRange):
        return source.size
    if isinstance(source, list):
        return len(source)
    try:
        return sum(1 for _ in source)
    finally:
        if isinstance(source, Stream):
            source.close()


@command(
    "uniq",
    help="The items without repeats, in first-seen order",
    examples=[Example("[b a b c a] | uniq", "Each once", output="b\na\nc")],
    input="list",
    category="filters",
)
def uniq(ctx: Any) -> Any:
    source = items(ctx, "uniq")

    def unseen() -> Any:
        seen: set[Any] = set()
        for item in source:
            key = _hashable(item)
            if key not in seen:
                seen.add(key)
                yield item

    return passthrough(source, unseen())


@command(
    "group-by",
    help="A record of lists: the items grouped by a field or a closure's result",
    params=[Param("key", type="any", help="Field name, cell path or closure")],
    examples=[
        Example(
            "[{n: a, k: x} {n: b, k: y} {n: c, k: x}] | group-by k | get x | get n",
            "The names in group x",
            output="a\nc",
        ),
        Example("ps -a | group-by status", "Containers by status"),
    ],
    input="list",
    category="filters",
)
def group_by(ctx: Any, key: Any) -> dict[str, list[Any]]:
    keyed = key_function(ctx, key, "group-by")
    groups: dict[str, list[Any]] = {}
    for item in materialize(ctx, "group-by"):
        groups.setdefault(inline(keyed(item), top=False), []).append(item)
    return groups


@command(
    "reverse",
    help="The items in reverse order",
    examples=[Example("[a b c] | reverse", "Backwards", output="c\nb\na")],
    input="list",
    category="filters",
)
def reverse(ctx: Any) -> list[Any]:
    return materialize(ctx, "reverse")[::-1]


def _end(ctx: Any, cmd: str, n: int | None, take: Callable[[Iterable[Any], int], Iterable[Any]]) -> Any:
    """``first``/``last``: the item (null when none) without n, else a list of n; a stream is closed."""
    _non_negative(cmd, n)
    source = items(ctx, cmd)
    if isinstance(source, IntRange) and n is not None:
        check_items(min(n, source.size), f"{cmd}'s result")  # known before any item is made
    try:
        taken = collect(Stream(take(source, 1 if n is None else n)), f"{cmd}'s result")
    finally:
        if isinstance(source, Stream):
            source.close()
    if n is None:
        return taken[0] if taken else None
    return taken


def _non_negative(cmd: str, n: int | None) -> None:
    if n is not None and n < 0:
        raise InvalidArgument(f"{cmd}: n must be 0 or more, got {n}")


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return ("record", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_hashable(v) for v in value))
    return (type_name(value), value)
