"""The JSON-lines log writer (no containerd needed)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ctrd.errors import InvalidArgument
from ctrd.logger import MAX_LINE, JsonLogWriter, format_time, rotated_files

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def all_records(path: Path) -> list[dict]:
    return [r for f in rotated_files(path) for r in read_records(f)]


def test_lines_split_per_stream_and_partial_kept_until_newline(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonLogWriter(log)
    w.write("stdout", b"one\ntw")
    w.write("stderr", b"E1\n")
    w.write("stdout", b"o\n")
    w.write("stdout", b"tail")
    w.close()
    records = read_records(log)
    assert [(r["stream"], r["log"]) for r in records] == [
        ("stdout", "one\n"),
        ("stderr", "E1\n"),
        ("stdout", "two\n"),
        ("stdout", "tail"),
    ]
    assert all(RFC3339_NANO.match(r["time"]) for r in records)
    assert log.read_text().startswith('{"log":"one\\n","stream":"stdout","time":"')


def test_long_lines_are_cut_and_bad_utf8_replaced(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonLogWriter(log)
    w.write("stdout", b"x" * (MAX_LINE * 2 + 5) + b"\n" + b"\xff\n")
    w.close()
    pieces = [r["log"] for r in read_records(log)]
    assert [len(p) for p in pieces] == [MAX_LINE, MAX_LINE, 6, 2]
    assert "".join(pieces[:3]) == "x" * (MAX_LINE * 2 + 5) + "\n"
    assert pieces[3] == "\ufffd\n"


def test_rotation_keeps_max_file_files_and_loses_only_the_oldest(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonLogWriter(log, max_size=300, max_file=3)
    for i in range(40):
        w.write("stdout", f"line{i:02d}\n".encode())
    w.close()
    files = rotated_files(log)
    assert [f.name for f in files] == ["c.log.2", "c.log.1", "c.log"]
    assert not (tmp_path / "c.log.3").exists()
    assert all(f.stat().st_size <= 300 for f in files)
    lines = [r["log"] for r in all_records(log)]
    # the kept lines are the newest ones, contiguous and in order
    assert lines == [f"line{i:02d}\n" for i in range(40 - len(lines), 40)]
    assert 3 < len(lines) < 40


def test_the_current_file_exists_at_every_step_of_a_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader (logs -f, a test polling the log) never finds the current file missing: every file
    system call of the writer leaves it in place."""
    import ctrd.logger

    log = tmp_path / "c.log"
    gaps: list[str] = []

    class Watched:
        def __getattr__(self, name: str) -> object:
            real = getattr(os, name)
            if not callable(real) or name in ("stat", "fstat", "path"):
                return real

            def call(*args: object, **kwargs: object) -> object:
                result = real(*args, **kwargs)
                if started and not log.exists():
                    gaps.append(name)
                return result

            return call

    started = False
    w = JsonLogWriter(log, max_size=200, max_file=3)
    w.write("stdout", b"first\n")
    started = True
    monkeypatch.setattr(ctrd.logger, "os", Watched())
    for i in range(30):
        w.write("stdout", f"line{i:02d}\n".encode())
    w.close()
    assert len(rotated_files(log)) == 3
    assert gaps == []


def test_partial_since_says_when_an_unfinished_line_has_waited(tmp_path: Path) -> None:
    w = JsonLogWriter(tmp_path / "c.log")
    assert w.partial_since is None
    w.write("stdout", b"prompt> ")
    first = w.partial_since
    assert first is not None
    w.write("stderr", b"half")
    assert w.partial_since == first  # the oldest one counts
    w.write("stdout", b"done\n")
    assert w.partial_since == first  # stderr's is still held
    w.flush()
    assert w.partial_since is None
    assert [r["log"] for r in read_records(tmp_path / "c.log")] == ["prompt> done\n", "half"]
    w.close()


def test_max_file_one_truncates(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    w = JsonLogWriter(log, max_size=200, max_file=1)
    for i in range(20):
        w.write("stderr", f"e{i}\n".encode())
    w.close()
    assert rotated_files(log) == [log]
    assert log.stat().st_size <= 200
    assert read_records(log)[-1]["log"] == "e19\n"


def test_two_writers_share_rotation(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    a = JsonLogWriter(log, max_size=250, max_file=10)
    b = JsonLogWriter(log, max_size=250, max_file=10)
    for i in range(30):
        (a if i % 2 else b).write("stdout", f"n{i:02d}\n".encode())
    a.close()
    b.close()
    assert [r["log"] for r in all_records(log)] == [f"n{i:02d}\n" for i in range(30)]


def test_bad_limits_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        JsonLogWriter(tmp_path / "c.log", max_size=0)
    with pytest.raises(InvalidArgument):
        JsonLogWriter(tmp_path / "c.log", max_file=0)


def test_format_time() -> None:
    assert format_time(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"
