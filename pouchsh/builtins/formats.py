"""Text formats: `to json|yaml|csv`, `from json`, and `lines`.

Encoders write sizes as int bytes and durations as int nanoseconds, as ``--json`` does, so what a
script writes reads back as numbers any tool understands.
"""

from __future__ import annotations

import io
from typing import Any

from ctrd.errors import InvalidArgument
from pouchsh.builtins._input import passthrough
from pouchsh.cells import table_columns
from pouchsh.render import encode_json, to_jsonable
from pouchsh.signature import Example, Flag, command
from pouchsh.values import Stream, check_text, collect, type_name


def _jsonable(value: Any, cmd: str) -> Any:
    try:
        return to_jsonable(value)
    except TypeError as err:
        raise InvalidArgument(f"{cmd}: {err}") from None


@command(
    "to json",
    help="The input as JSON text (one line unless --indent is given)",
    flags=[Flag("indent", short="i", type="int", default=0, help="Indent nested values by this many spaces")],
    examples=[
        Example("echo {name: web, size: 1KiB} | to json", "Sizes are bytes", output='{"name":"web","size":1024}'),
        Example("[1 2] | to json --indent 2", "Indented", output="[\n  1,\n  2\n]"),
    ],
    input="any",
    category="formats",
)
def to_json(ctx: Any, indent: int | None) -> str:
    if indent is not None and indent < 0:
        raise InvalidArgument(f"to json: --indent must be 0 or more, got {indent}")
    try:
        text = encode_json(ctx.input, indent=indent or None)
    except TypeError as err:
        raise InvalidArgument(f"to json: {err}") from None
    check_text(len(text), "to json's text")
    return text


@command(
    "to yaml",
    help="The input as YAML text",
    examples=[Example("echo {name: web, ports: [80 443]} | to yaml", "A record", output="name: web\nports:\n- 80\n- 443")],
    input="any",
    category="formats",
)
def to_yaml(ctx: Any) -> str:
    import yaml  # type: ignore[import-untyped]

    data = _jsonable(ctx.input, "to yaml")
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip("\n")
    check_text(len(text), "to yaml's text")
    return str(text)


@command(
    "to csv",
    help="A table (or record, or list) as CSV text with a header line",
    description="Nested values are written as JSON inside their cell; null is an empty cell.",
    examples=[
        Example("[{name: web, n: 1} {name: db, n: 2}] | to csv", "A table", output="name,n\nweb,1\ndb,2"),
    ],
    input="any",
    category="formats",
)
def to_csv(ctx: Any) -> str:
    import csv

    value = ctx.input
    if isinstance(value, Stream):
        value = collect(value, "to csv's input")
    if isinstance(value, dict):
        rows = [value]
    elif isinstance(value, list):
        rows = [v if isinstance(v, dict) else {"value": v} for v in value]
    else:
        raise InvalidArgument(f"to csv: expected a table, record or list, got {type_name(value)}")
    columns = table_columns(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    text = out.getvalue().rstrip("\n")
    check_text(len(text), "to csv's text")
    return text


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return encode_json(value)
    return _jsonable(value, "to csv")


@command(
    "from json",
    help="Parse JSON text into values",
    examples=[Example("""echo '{"a": [1, 2]}' | from json | get a.1""", "Parse, then walk in", output="2")],
    input="any",
    category="formats",
)
def from_json(ctx: Any) -> Any:
    import json

    text = ctx.input
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise InvalidArgument(f"from json: expected a string, got {type_name(text)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"from json: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None


@command(
    "lines",
    help="Split text into a list of lines",
    description="A list of strings (or a stream, such as `logs -f`) gives all their lines in order.",
    examples=[Example('echo "a\\nb" | lines | length', "Two lines", output="2")],
    input="any",
    category="formats",
)
def lines(ctx: Any) -> Any:
    value = ctx.input
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, (list, Stream)):
        return passthrough(value, (line for chunk in value for line in _split(chunk)))
    raise InvalidArgument(f"lines: expected a string or a list of strings, got {type_name(value)}")


def _split(chunk: Any) -> list[str]:
    if not isinstance(chunk, str):
        raise InvalidArgument(f"lines: expected strings, got a {type_name(chunk)}")
    return chunk.splitlines()
