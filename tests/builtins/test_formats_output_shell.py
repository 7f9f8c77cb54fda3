"""Formats, output commands, shell commands and help, called directly."""

from __future__ import annotations

import os
import threading

import pytest

from ctrd.errors import Interrupted, InvalidArgument, NotFound
from pouchsh.values import Duration, Size, Stream
from tests.builtins.builtin_ctx import FakeContext, invoke


def test_to_json_writes_sizes_and_durations_as_integers():
    value = {"name": "web", "size": Size(1024), "up": Duration(1_500_000_000), "f": float("nan")}
    assert invoke("to json", input=value) == '{"name":"web","size":1024,"up":1500000000,"f":null}'
    assert invoke("to json", input=[1, 2], indent=2) == "[\n  1,\n  2\n]"


def test_to_json_refuses_a_closure():
    with pytest.raises(InvalidArgument, match="to json: a function has no JSON form"):
        invoke("to json", input=[lambda: 1])


def test_from_json_round_trips_and_reports_position():
    assert invoke("from json", input='{"a": [1, 2.5, null, true]}') == {"a": [1, 2.5, None, True]}
    with pytest.raises(InvalidArgument, match="from json: invalid JSON at line 1 column 6"):
        invoke("from json", input='{"a":}')
    with pytest.raises(InvalidArgument, match="from json: expected a string, got list"):
        invoke("from json", input=[1])


def test_to_yaml_and_csv():
    assert invoke("to yaml", input={"name": "web", "size": Size(2)}) == "name: web\nsize: 2"
    table = [{"name": "web", "ports": [80], "note": "a,b"}, {"name": "db", "x": None}]
    assert invoke("to csv", input=table) == 'name,ports,note,x\nweb,[80],"a,b",\ndb,,,'
    assert invoke("to csv", input=["a", "b"]) == "value\na\nb"
    with pytest.raises(InvalidArgument, match="to csv: expected a table, record or list, got int"):
        invoke("to csv", input=1)


def test_lines_from_text_lists_and_streams():
    assert invoke("lines", input="a\nb\n") == ["a", "b"]
    assert invoke("lines", input=["a\nb", "c"]) == ["a", "b", "c"]
    out = invoke("lines", input=Stream(iter(["x\ny"])))
    assert isinstance(out, Stream) and list(out) == ["x", "y"]
    with pytest.raises(InvalidArgument, match="lines: expected a string or a list of strings, got int"):
        invoke("lines", input=4)


def test_echo_is_its_arguments():
    assert invoke("echo") is None
    assert invoke("echo", "a") == "a"
    assert invoke("echo", "a", 1) == ["a", 1]


def test_print_displays_each_argument_or_its_input():
    ctx = FakeContext()
    assert invoke("print", "a", {"b": 1}, ctx=ctx) is None
    assert ctx.displayed == ["a", {"b": 1}]
    ctx = FakeContext([1, 2])
    invoke("print", ctx=ctx)
    assert ctx.displayed == [[1, 2]]


def test_print_to_stderr_is_plain_text():
    ctx = FakeContext()
    invoke("print", "careful", ctx=ctx, stderr=True)
    assert ctx.stderr.getvalue() == b"careful\n" and ctx.displayed == []


def test_table_forces_a_table():
    assert invoke("table", input=["a", "b"]) == "value\na\nb"
    assert invoke("table", input={"name": "web", "n": 1}) == "name  n\nweb   1"


def test_sleep_waits_and_is_interruptible():
    ctx = FakeContext()
    assert invoke("sleep", Duration(1_000_000), ctx=ctx) is None
    ctx.cancel.set()
    with pytest.raises(Interrupted):
        invoke("sleep", Duration(3600 * 10**9), ctx=ctx)
    with pytest.raises(InvalidArgument, match="must not be negative"):
        invoke("sleep", Duration(-1))


def test_sleep_wakes_when_cancelled_from_another_thread():
    ctx = FakeContext()
    threading.Timer(0.05, ctx.cancel.set).start()
    with pytest.raises(Interrupted):
        invoke("sleep", Duration(3600 * 10**9), ctx=ctx)


def test_env_is_a_sorted_table():
    assert invoke("env", ctx=FakeContext(env={"B": "2", "A": "1"})) == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]


def test_cd_changes_ctx_cwd_and_back(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "file").write_text("")
    ctx = FakeContext(cwd=str(tmp_path), env={"HOME": "/"})
    invoke("cd", "sub", ctx=ctx)
    assert ctx.cwd == str(tmp_path / "sub") and ctx.env["PWD"] == ctx.cwd
    invoke("cd", "..", ctx=ctx)
    assert ctx.cwd == str(tmp_path)
    invoke("cd", "-", ctx=ctx)
    assert ctx.cwd == str(tmp_path / "sub")
    invoke("cd", ctx=ctx)
    assert ctx.cwd == "/"
    with pytest.raises(NotFound, match="cd: no such directory: nope"):
        invoke("cd", "nope", ctx=FakeContext(cwd=str(tmp_path)))
    with pytest.raises(InvalidArgument, match="cd: not a directory: file"):
        invoke("cd", "file", ctx=FakeContext(cwd=str(tmp_path)))
    assert os.getcwd() != str(tmp_path / "sub")


def test_help_lists_shows_and_suggests():
    overview = invoke("help")
    assert "filters:" in overview and "  where " in overview and "help COMMAND" in overview
    text = invoke("help", "sort-by")
    assert "Usage:\n  sort-by [flags] [key]" in text
    assert "-r, --reverse" in text and "-h, --help" in text and "> [3 1 2] | sort-by --reverse" in text
    assert "to json" in invoke("help", "to")
    with pytest.raises(NotFound, match="help: no command named 'wher' \\(did you mean 'where'\\?\\)"):
        invoke("help", "wher")
