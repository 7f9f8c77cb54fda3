"""The display of values: what a user sees of a value that nothing captured.

Three modes, chosen by the caller (the evaluator knows whether stdout is a terminal and whether
``--json`` was given):

- **terminal** — tables as aligned tables with a header, records as key/value, lists one item per line,
  sizes and durations in human units. Drawn with rich, imported only on this path (start-up matters).
- **plain** (stdout is not a terminal) — the same layout as text a CI log can hold and grep: a table is a
  header line of field names and aligned columns (numbers right-aligned, no truncation), a record is
  ``key  value`` lines, nested values are written inline (``{a: 1, b: x}``, ``[80/tcp, 443/tcp]``).
- **json** — one JSON document per value, on one line; sizes are int bytes, durations int nanoseconds.

Null displays nothing in every mode. A Stream is displayed item by item as items arrive (`display`):
one line per item — a record as ``key=value`` pairs (logfmt), in JSON mode one document per item; a
``Frames`` stream (``stats``) on a terminal is one table redrawn in place (pouchsh.livetable). A range
is shown as the list it stands for, made within the bound (``error[limit]`` past it; pouchsh.values).
"""

from __future__ import annotations

import io
import math
from typing import IO, Any

from pouchsh.cells import Grid, inline, is_numeric, is_table, one_line, table_columns, tabwrite
from pouchsh.livetable import Frames, show_live
from pouchsh.values import IntRange, Stream, collect

__all__ = ["display", "encode_json", "render", "render_table", "to_jsonable"]


def render(value: Any, *, terminal: bool = False, json: bool = False, width: int | None = None) -> str:
    """The text shown for ``value``, without a trailing newline; empty for null.

    A Stream is consumed here; to show its items as they arrive use `display`.
    """
    if value is None:
        return ""
    if isinstance(value, IntRange):
        value = collect(value)
    if isinstance(value, Stream):
        return "\n".join(line for item in value if (line := _stream_line(item, json=json)))
    if isinstance(value, Grid):
        if terminal:
            from pouchsh import render_rich

            return render_rich.render_grid(value, width=width)
        return _plain_grid(value)
    if json:
        return encode_json(value)
    if terminal and (is_table(value) or (isinstance(value, dict) and value)):
        from pouchsh import render_rich

        return render_rich.render(value, width=width)
    return _plain(value)


def display(
    value: Any, out: IO[str] | IO[bytes], *, terminal: bool = False, json: bool = False,
    width: int | None = None,
) -> None:
    """Write ``value`` to ``out`` (a text or binary stream) followed by a newline; nothing for null.

    Stream items are written and flushed one at a time, so ``events`` and ``logs -f`` show as they come.
    """
    write = _writer(out)
    if terminal and not json and isinstance(value, Frames):
        show_live(value, write, lambda rows: render_table(rows, terminal=True, width=width))
        return
    if isinstance(value, Stream):
        for item in value:
            line = _stream_line(item, json=json)
            if line:
                write(line + "\n")
        return
    text = render(value, terminal=terminal, json=json, width=width)
    if text:
        write(text + "\n")


def render_table(value: Any, *, terminal: bool = False, width: int | None = None) -> str:
    """``value`` drawn as a table whatever its kind: a record is one row, a scalar list one ``value`` column."""
    if isinstance(value, (Stream, IntRange)):
        value = collect(value)
    if value is None:
        rows: list[Any] = []
    elif isinstance(value, dict):
        rows = [value]
    elif isinstance(value, list):
        rows = [v if isinstance(v, dict) else {"value": v} for v in value]
    else:
        rows = [{"value": value}]
    if terminal:
        from pouchsh import render_rich

        return render_rich.render_table(rows, width=width)
    return _plain_table(rows)


# ---------------------------------------------------------------------------------------------- helpers


def _writer(out: IO[Any]) -> Any:
    if isinstance(out, io.TextIOBase):

        def write_text(text: str) -> None:
            out.write(text)
            out.flush()

        return write_text

    def write_bytes(text: str) -> None:
        out.write(text.encode("utf-8", "replace"))
        out.flush()

    return write_bytes


# ------------------------------------------------------------------------------------------------ plain


def _plain(value: Any) -> str:
    if is_table(value):
        return _plain_table(value)
    if isinstance(value, dict):
        return _plain_record(value)
    if isinstance(value, list):
        return "\n".join(inline(item) for item in value)
    if isinstance(value, str):
        return value
    return inline(value)


def _plain_table(rows: list[dict[str, Any]]) -> str:
    columns = table_columns(rows)
    if not columns:
        return ""
    # column by column: one pass over a column's values gives its cells, width, alignment and padding
    titles = [one_line(c) for c in columns]
    padded: list[list[str]] = []
    for title, c in zip(titles, columns):
        values = [row.get(c) for row in rows]
        # a one-line string (most cells) is its own text: tested here, not in a call per cell
        column = [v if type(v) is str and "\n" not in v and "\r" not in v else inline(v) for v in values]
        column.insert(0, title)
        width = max(map(len, column))
        if all(v is None or is_numeric(v) for v in values):
            padded.append([t.rjust(width) for t in column])
        else:
            padded.append([t.ljust(width) for t in column])
    return "\n".join(["  ".join(parts).rstrip() for parts in zip(*padded)])


def _plain_grid(grid: Grid) -> str:
    """docker's own layout (Go's tabwriter, minimum width 10, padding 3), so a CI log reads as docker's."""
    lines = ["\t".join(one_line(c).replace("\t", " ") for c in row) for row in [grid.headers, *grid.rows]]
    return "\n".join(line.rstrip() for line in tabwrite(lines))


def _plain_record(record: dict[str, Any]) -> str:
    if not record:
        return ""
    keys = [one_line(k) for k in record]
    width = max(len(k) for k in keys)
    return "\n".join(f"{k.ljust(width)}  {inline(v)}".rstrip() for k, v in zip(keys, record.values()))


def _stream_line(item: Any, *, json: bool) -> str:
    if json:
        return "" if item is None else encode_json(item)
    if isinstance(item, dict):
        return " ".join(f"{k}={_logfmt(v)}" for k, v in item.items())
    if isinstance(item, str):
        return item
    return inline(item)


def _logfmt(value: Any) -> str:
    text = inline(value)
    if text == "" or any(ch in text for ch in ' "='):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


# ------------------------------------------------------------------------------------------------- json


def to_jsonable(value: Any) -> Any:
    """The value as plain JSON data: sizes as int bytes, durations as int nanoseconds, a stream as a list.

    Non-finite floats become null (JSON has no NaN). Raises TypeError for what has no JSON form (a
    closure); callers turn that into their own error.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, Stream, IntRange)):
        return [to_jsonable(v) for v in collect(value)]
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def encode_json(value: Any, *, indent: int | None = None) -> str:
    """JSON text of a value (see `to_jsonable`); one line unless ``indent`` is given."""
    import json

    data = to_jsonable(value)
    if indent:
        return json.dumps(data, ensure_ascii=False, indent=indent)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
