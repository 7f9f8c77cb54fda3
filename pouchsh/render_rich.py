"""Terminal display of tables and records, drawn with rich.

Imported only when a value is shown on a terminal, so rich never costs start-up for scripts and pipes.
Cells are rich ``Text`` objects, never markup: a container named ``[bold]`` must print as it is named.
"""

from __future__ import annotations

import shutil
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from pouchsh.render import inline, is_numeric, is_table, table_columns

__all__ = ["render", "render_table"]

# Below this depth nested tables and records are drawn inline: deeper nesting is unreadable in a cell.
_MAX_NESTING = 2


def render(value: dict[str, Any] | list[dict[str, Any]], *, width: int | None = None) -> str:
    """A table or a record as terminal text (with ANSI styles); other values need no rich."""
    if isinstance(value, list):
        return _print(_table(value, 0), width)
    return _print(_record(value, 0), width) if value else ""


def render_table(rows: list[dict[str, Any]], *, width: int | None = None) -> str:
    return _print(_table(rows, 0), width) if rows else ""


def _print(renderable: RenderableType, width: int | None) -> str:
    console = Console(
        width=width or shutil.get_terminal_size().columns,
        force_terminal=True,
        highlight=False,
        markup=False,
        emoji=False,
    )
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().rstrip("\n")


def _table(rows: list[dict[str, Any]], depth: int) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD if depth == 0 else box.MINIMAL,
        header_style="bold",
        show_edge=False,
        pad_edge=False,
    )
    columns = table_columns(rows)
    for name in columns:
        numeric = all(row.get(name) is None or is_numeric(row.get(name)) for row in rows)
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(name), depth) for name in columns))
    return table


def _record(record: dict[str, Any], depth: int) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in record.items():
        grid.add_row(Text(key), _cell(value, depth))
    return grid


def _cell(value: Any, depth: int) -> RenderableType:
    if depth + 1 < _MAX_NESTING:
        if is_table(value):
            return _table(value, depth + 1)
        if isinstance(value, dict) and value:
            return _record(value, depth + 1)
    if value is None:
        return Text("")
    return Text(inline(value))
