"""One value as one cell: the text a table cell or a record field shows, and what makes a list a table.

Shared by the plain renderer (pouchsh.render) and the terminal's (pouchsh.render_rich), which render
imports only when it draws for a terminal; kept below both so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pouchsh.values import Duration, IntRange, Size, Stream, collect, format_duration, format_size

__all__ = ["Grid", "inline", "is_numeric", "is_table", "one_line", "table_columns", "tabwrite"]


class Grid:
    """A listing as its view shows it (pouchsh.views): docker's headers over rows of text cells, and
    for each column the order in which it gives up width on a narrow terminal (0: never)."""

    __slots__ = ("cut", "headers", "rows")

    def __init__(self, headers: list[str], rows: list[list[str]], cut: list[int]) -> None:
        self.headers = headers
        self.rows = rows
        self.cut = cut


def is_table(value: Any) -> bool:
    """A non-empty list whose items are all records: displayed as a table."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def table_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every field of the rows, in the order fields first appear; a row may lack some."""
    rows = rows if isinstance(rows, list) else list(rows)
    if rows:
        # the usual table (records of one kind, as a command returns them): the first row's fields
        keys = rows[0].keys()
        if all(row.keys() == keys for row in rows):
            return list(keys)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def inline(value: Any, *, top: bool = True) -> str:
    """One-line text of a value, as a table cell or a record field shows it.

    At the top a null is empty and a string is itself; inside a list or record a null is ``null``.
    Newlines are shown as ``\\n`` so that one value stays one line.
    """
    kind = type(value)  # the common cells first, by exact type (bool and Size are ints too)
    if kind is str:
        return one_line(value)
    if kind is int:
        return str(value)
    if value is None:
        return "" if top else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Size):
        return format_size(value)
    if isinstance(value, Duration):
        return format_duration(value)
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{one_line(k)}: {inline(v, top=False)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v, top=False) for v in value) + "]"
    if isinstance(value, Stream):
        return "<stream>"
    if isinstance(value, IntRange):
        return inline(collect(value), top=top)
    if isinstance(value, (int, float)):
        return str(value)
    return f"<{type(value).__name__}>"


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def is_numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tabwrite(lines: Iterable[str]) -> list[str]:
    """Go's tabwriter as docker sets it up (minimum width 10, padding 3): tab-separated cells aligned in
    columns; the last cell of a line is not padded."""
    rows = [line.split("\t") for line in lines]
    widths: list[int] = []
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    widths = [max(10, w + 3) for w in widths]
    return ["".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])) + cells[-1] for cells in rows]
