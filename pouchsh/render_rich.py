"""Terminal display of tables and records, drawn with rich.

Imported only when a value is shown on a terminal, so rich never costs start-up for scripts and pipes.
Cells are rich ``Text`` objects, never markup: a container named ``[bold]`` must print as it is named.

A table is laid out to the terminal's width the way Nushell does it, so a wide ``ps`` stays readable:
every cell is one line (a nested record or list in a table cell is written inline), a cell too long
for its column is cut with an ellipsis rather than folded into slivers, and when the columns do not fit
even at their narrowest, the rightmost ones are left out behind a final ``…`` column and a hint line.
A record (``inspect``) keeps its nested records and tables drawn out, each nested table fitted to what
is left beside the field names.
"""

from __future__ import annotations

import shutil
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from pouchsh.cells import Grid, inline, is_numeric, is_table, table_columns

__all__ = ["fit_columns", "fit_grid", "render", "render_grid", "render_table"]

# Below this depth nested tables and records are drawn inline: deeper nesting is unreadable in a cell.
_MAX_NESTING = 2
# Between two columns: a space of padding on each side of the box's (blank or ruled) divider.
_GAP = 3
# A column is not narrowed below this (or below its header); past that, columns are left out instead.
_MIN_COLUMN = 10
_MORE = "…"
_RECORD_PADDING = 2


def render(value: dict[str, Any] | list[dict[str, Any]], *, width: int | None = None) -> str:
    """A table or a record as terminal text (with ANSI styles); other values need no rich."""
    width = width or shutil.get_terminal_size().columns
    if isinstance(value, list):
        return _print(_top_table(value, width), width)
    return _print(_record(value, 0, width), width) if value else ""


def render_table(rows: list[dict[str, Any]], *, width: int | None = None) -> str:
    width = width or shutil.get_terminal_size().columns
    return _print(_top_table(rows, width), width) if rows else ""


def render_grid(grid: Grid, *, width: int | None = None) -> str:
    """A listing in docker's columns (pouchsh.views), fitted to the terminal: ids, times and states
    keep their width; commands and ports give way first, images and names last, and only when the
    terminal has no room for them whole."""
    width = width or shutil.get_terminal_size().columns
    lines = [[_one(cell) for cell in row] for row in grid.rows]
    natural = [max(cell_len(h), *(cell_len(row[i]) for row in lines)) for i, h in enumerate(grid.headers)]
    widths, shown = fit_grid(grid.headers, natural, grid.cut, width)
    table = Table(box=None, header_style="bold", show_edge=False, pad_edge=False, padding=(0, _GAP, 0, 0))
    for header, w in zip(grid.headers[:shown], widths):
        table.add_column(_cut(header, w), width=w, no_wrap=True)
    more = shown < len(grid.headers)
    if more:
        table.add_column(_MORE, width=cell_len(_MORE), no_wrap=True)
    for row in lines:
        table.add_row(*(_cut(text, w) for text, w in zip(row, widths)), *([Text(_MORE, style="dim")] if more else []))
    if not more:
        return _print(table, width)
    hidden = len(grid.headers) - shown
    hint = Text(f"{hidden} more column{'s' if hidden > 1 else ''}; use --format or `select` to choose",
                style="dim", no_wrap=True, overflow="ellipsis")
    return _print(Group(table, hint), width)


def fit_grid(headers: list[str], natural: list[int], cut: list[int], width: int) -> tuple[list[int], int]:
    """Widths for a listing's columns: all at their natural width if they fit; else the columns that
    may be cut give way, those of order 1 before those of order 2, each no narrower than its header or
    ``_MIN_COLUMN``; what still does not fit is left to ``fit_columns`` (which drops columns)."""
    room = width - _GAP * (len(natural) - 1)
    widths = list(natural)
    for order in (1, 2):
        if sum(widths) <= room:
            return widths, len(widths)
        give = [i for i, c in enumerate(cut) if c == order]
        floors = [min(natural[i], max(cell_len(headers[i]), _MIN_COLUMN)) for i in give]
        free = room - sum(w for i, w in enumerate(widths) if i not in give)
        if give and sum(floors) <= free:
            for i, w in zip(give, _narrow([natural[i] for i in give], floors, free)):
                widths[i] = w
            return widths, len(widths)
        for i, f in zip(give, floors):  # not enough even so: these at their narrowest, then the next
            widths[i] = f
    return fit_columns(headers, natural, width)


def _one(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")


def fit_columns(headers: list[str], natural: list[int], width: int) -> tuple[list[int], int]:
    """Column widths for a table ``width`` cells wide, and how many columns are shown.

    ``natural`` is each column's widest cell (headers included). All columns at their natural width
    if they fit; otherwise the widest are narrowed alike (never below ``_MIN_COLUMN`` or the header);
    if even that is too wide, columns are dropped from the right, leaving room for the ``…`` column.
    """
    floors = [min(n, max(cell_len(h), _MIN_COLUMN)) for h, n in zip(headers, natural)]
    for shown in range(len(natural), 0, -1):
        room = width - _GAP * (shown - 1)
        if shown < len(natural):
            room -= _GAP + cell_len(_MORE)
        if sum(floors[:shown]) <= room or shown == 1:  # one column always shows, cut to what there is
            room = max(1, room)
            return _narrow(natural[:shown], [min(f, room) for f in floors[:shown]], room), shown
    return [], 0


def _narrow(natural: list[int], floors: list[int], room: int) -> list[int]:
    """The natural widths, the widest cut to one common cap, the largest that makes them fit ``room``."""
    if sum(natural) <= room:
        return natural
    low, high = 0, max(natural)  # the cap: widths are max(floor, min(natural, cap))
    while low < high:
        cap = (low + high + 1) // 2
        if sum(max(f, min(n, cap)) for n, f in zip(natural, floors)) <= room:
            low = cap
        else:
            high = cap - 1
    widths = [max(f, min(n, low)) for n, f in zip(natural, floors)]
    # Hand the cells left over by the integer cap to the columns that were cut, left to right.
    spare = room - sum(widths)
    for i, (n, w) in enumerate(zip(natural, widths)):
        if spare <= 0:
            break
        extra = min(spare, n - w)
        widths[i] += extra
        spare -= extra
    return widths


def _print(renderable: RenderableType, width: int) -> str:
    console = Console(width=width, force_terminal=True, highlight=False, markup=False, emoji=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().rstrip("\n")


def _top_table(rows: list[dict[str, Any]], width: int) -> RenderableType:
    table, hidden = _table(rows, 0, width)
    if not hidden:
        return table
    hint = Text(
        f"{hidden} more column{'s' if hidden > 1 else ''}; use `select` to choose",
        style="dim", no_wrap=True, overflow="ellipsis",
    )
    return Group(table, hint)


def _table(rows: list[dict[str, Any]], depth: int, width: int) -> tuple[Table, int]:
    """The rows as a table fitted to ``width``, and how many columns were left out."""
    columns = table_columns(rows)
    cells = [[_line(row.get(name)) for name in columns] for row in rows]
    natural = [max(cell_len(name), *(cell_len(line[i]) for line in cells)) for i, name in enumerate(columns)]
    widths, shown = fit_columns(columns, natural, width)
    table = Table(
        box=box.SIMPLE_HEAD if depth == 0 else box.MINIMAL,
        header_style="bold",
        show_edge=False,
        pad_edge=False,
    )
    for name, w in zip(columns[:shown], widths):
        numeric = all(row.get(name) is None or is_numeric(row.get(name)) for row in rows)
        table.add_column(_cut(name, w), justify="right" if numeric else "left", width=w, no_wrap=True)
    more = shown < len(columns)
    if more:
        table.add_column(_MORE, width=cell_len(_MORE), no_wrap=True)
    for line in cells:
        texts = [_cut(text, w) for text, w in zip(line, widths)]
        table.add_row(*texts, *([Text(_MORE, style="dim")] if more else []))
    return table, len(columns) - shown


def _record(record: dict[str, Any], depth: int, width: int) -> Table:
    grid = Table.grid(padding=(0, _RECORD_PADDING))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    room = max(1, width - max(cell_len(key) for key in record) - _RECORD_PADDING)
    for key, value in record.items():
        grid.add_row(Text(key), _cell(value, depth, room))
    return grid


def _cell(value: Any, depth: int, width: int) -> RenderableType:
    """A record's value: a nested table or record drawn out while shallow enough, else one line."""
    if depth + 1 < _MAX_NESTING:
        if is_table(value):
            return _table(value, depth + 1, width)[0]
        if isinstance(value, dict) and value:
            return _record(value, depth + 1, width)
    return Text(_line(value))


def _line(value: Any) -> str:
    return "" if value is None else inline(value)


def _cut(text: str, width: int) -> Text:
    cell = Text(text)
    cell.truncate(width, overflow="ellipsis")
    return cell
