"""The display of values: plain text, JSON, terminal, and streams item by item."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from pouchsh.cells import inline
from pouchsh.render import display, encode_json, render, render_table
from pouchsh.values import Duration, Size, Stream

TABLE = [
    {"id": "abc123", "name": "web", "size": Size(5 * 1024**2), "up": Duration(90 * 10**9)},
    {"id": "d", "name": "db", "size": Size(12), "ports": ["80/tcp", "443/tcp"]},
]


def test_plain_table_has_a_header_aligned_columns_and_numbers_right():
    assert render(TABLE) == (
        "id      name   size      up  ports\n"
        "abc123  web   5 MiB  1m 30s\n"
        "d       db     12 B          [80/tcp, 443/tcp]"
    )


def test_plain_record_is_key_value_with_nested_values_inline():
    record = {"name": "web", "labels": {"app": "shop", "tier": None}, "mounts": [], "n": None}
    assert render(record) == "name    web\nlabels  {app: shop, tier: null}\nmounts  []\nn"


def test_plain_scalars_and_lists():
    assert render(None) == ""
    assert render(True) == "true"
    assert render(Size(1536)) == "1.5 KiB"
    assert render(Duration(500_000_000)) == "500ms"
    assert render(["a", 1, None, {"k": "v"}]) == "a\n1\n\n{k: v}"
    assert render("multi\nline") == "multi\nline"
    assert render({"note": "two\nlines"}) == "note  two\\nlines"


def test_json_is_one_line_per_value_with_integer_units():
    assert render(TABLE[:1], json=True) == '[{"id":"abc123","name":"web","size":5242880,"up":90000000000}]'
    assert render(None, json=True) == ""
    assert encode_json({"a": [1]}, indent=2) == '{\n  "a": [\n    1\n  ]\n}'


def test_terminal_table_draws_text_not_markup():
    text = render([{"name": "[bold]x", "n": 1}], terminal=True, width=60)
    assert "[bold]x" in text and "name" in text
    assert "\x1b[" in text  # styled header


def test_terminal_record_shows_nested_table():
    text = render({"name": "web", "mounts": [{"src": "/a", "dst": "/b"}]}, terminal=True, width=60)
    assert "src" in text and "/a" in text and "web" in text


def test_terminal_scalars_and_lists_need_no_rich():
    code = (
        "import sys; from pouchsh.render import render; "
        "assert render(['a', 1], terminal=True) == 'a\\n1'; "
        "assert render({'a': 1}) == 'a  1'; render([1], json=True); "
        "assert 'rich' not in sys.modules, 'rich imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_render_table_of_records_lists_and_scalars():
    assert render_table([1, 22]) == "value\n    1\n   22"
    assert render_table({"a": 1}) == "a\n1"
    assert render_table(None) == ""


def test_display_writes_stream_items_as_they_arrive():
    out = io.StringIO()
    written: list[str] = []

    def items():
        yield {"type": "container", "action": "start", "name": "my web"}
        written.append(out.getvalue())
        yield "plain line"

    display(Stream(items()), out)
    assert written == ['type=container action=start name="my web"\n']
    assert out.getvalue().endswith("plain line\n")


def test_display_stream_as_json_lines_to_a_binary_stream():
    out = io.BytesIO()
    display(Stream(iter([{"a": Size(1)}, "x", None])), out, json=True)
    assert out.getvalue() == b'{"a":1}\n"x"\n'


def test_display_of_null_writes_nothing():
    out = io.StringIO()
    display(None, out)
    display([], out)
    assert out.getvalue() == ""


def _ps_rows(count: int) -> list[dict]:
    """Rows shaped like ``ps --no-trunc``: 13 fields, 64-character ids, nested ports, labels and networks."""
    return [
        {
            "id": f"{i:x}" * 64,
            "name": f"web-{i}",
            "image": "docker.io/library/busybox:latest",
            "command": "httpd -f -p 80 -h /www",
            "created": "2025-01-02T15:04:05Z",
            "status": "running",
            "state": "Up 2 minutes",
            "ports": [{"host_ip": "0.0.0.0", "host_port": 8080 + i, "container_port": 80, "protocol": "tcp"}],
            "labels": {"app": "shop", "tier": "web", "owner": "team-a"},
            "networks": {"bridge": {"ip": f"10.4.0.{i + 2}", "mac": "aa:bb:cc:dd:ee:ff"}},
            "pid": 1234 + i,
            "exit_code": 0,
            "size": Size(123456 * (i + 1)),
        }
        for i in range(1, count + 1)
    ]


@pytest.mark.parametrize("width", [100, 160])
def test_a_wide_terminal_table_keeps_every_cell_on_its_row(width):
    rows = _ps_rows(3)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", render(rows, terminal=True, width=width)).splitlines()
    assert all(len(line) <= width for line in lines)
    header, rule, *body = lines
    assert set(rule) == {"─"}
    hint = [line for line in body if "more column" in line]
    body = [line for line in body if line not in hint]
    assert len(body) == len(rows)  # one line a row: nothing folded onto a next line
    shown = header.split()
    assert shown[:3] == ["id", "name", "image"] and len(shown) >= 6
    if len(shown) < 13:  # columns left out: a final … column and one hint line saying how many
        hidden = 13 - (len(shown) - 1)
        assert shown[-1] == "…" and len(hint) == 1 and hint[0].startswith(f"{hidden} more column")
        assert hint[0].endswith("; use `select` to choose")
    else:
        assert not hint
    for row, line in zip(rows, body):
        cells = line.split("   ")
        cells = [c.strip() for c in cells if c.strip()]
        fields = [f for f in shown if f != "…"]
        assert len(cells) == len(shown)
        for field, cell in zip(fields, cells):
            full = inline(row[field])
            assert cell == full or (cell.endswith("…") and full.startswith(cell[:-1])), (field, cell)
            assert len(cell) >= min(len(full), len(field), 6)  # cut with an ellipsis, never a sliver


def test_a_narrow_terminal_still_shows_the_first_column():
    text = re.sub(r"\x1b\[[0-9;]*m", "", render(_ps_rows(1), terminal=True, width=12))
    lines = text.splitlines()
    assert len(lines) == 4 and lines[2].startswith("1111") and all(len(line) <= 12 for line in lines)
