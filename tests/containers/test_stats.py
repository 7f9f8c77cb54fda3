"""``stats``: samples from containerd's task metrics and the host's /proc, as a table, a stream of
records, and a live table on a terminal."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ctrd.tasks import _V1, _V2, _block_io
from managers.options import CreateOptions
from managers.stats import row
from pouchsh.livetable import Frames
from pouchsh.render import display


def _field(number: int, payload: bytes | int) -> bytes:
    """A protobuf field: varint for an int, length-delimited for bytes."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_block_io_sums_v1_entries_by_operation() -> None:
    entries = b"".join(
        _field(1, _field(1, op.encode()) + _field(3, 8) + _field(5, value))
        for op, value in [("Read", 100), ("Write", 7), ("Read", 23), ("Total", 130), ("Sync", 5)]
    )
    assert _block_io(_V1, _field(5, entries)) == {"block_read": 123, "block_write": 7}


def test_block_io_sums_v2_devices() -> None:
    usage = b"".join(_field(1, _field(1, 8) + _field(3, r) + _field(4, w)) for r, w in [(10, 1), (5, 2)])
    assert _block_io(_V2, _field(6, usage)) == {"block_read": 15, "block_write": 3}
    assert _block_io(_V2, b"\xff\xff") == {"block_read": 0, "block_write": 0}  # truncated: nothing, no error


def test_cpu_percent_is_the_share_of_host_time_times_cpus() -> None:
    before = {"id": "a", "name": "a", "cpu_ns": 1_000, "system_cpu_ns": 10_000, "online_cpus": 2,
              "memory_bytes": 50, "memory_limit": 200}
    after = {**before, "cpu_ns": 3_000, "system_cpu_ns": 20_000}
    assert row(after, before)["cpu_percent"] == 40.0
    assert row(after, None)["cpu_percent"] == 0.0
    assert row(after, before)["memory_percent"] == 25.0
    stopped = {**after, "running": False, "memory_bytes": None}
    assert row(stopped, before)["cpu_percent"] is None and row(stopped, before)["memory_percent"] is None


def test_a_live_table_is_redrawn_in_place_on_a_terminal() -> None:
    frames = [[{"name": "web", "pids": 1}], [{"name": "web", "pids": 2}], [{"name": "web", "pids": 3}]]
    out = io.StringIO()
    display(Frames(iter(frames)), out, terminal=True, width=80)
    text = out.getvalue()
    assert text.count("\x1b[") >= 2 and "\x1b[J" in text  # the cursor goes back up over the last frame
    out = io.StringIO()
    display(Frames(iter(frames)), out, terminal=False)
    assert out.getvalue().splitlines() == ["name=web pids=1", "name=web pids=2", "name=web pids=3"]


containerd = pytest.mark.containerd


@containerd
def test_samples_of_a_busy_container(mgr: Any) -> None:
    mgr.containers.run(CreateOptions.parse("busybox", ["sh", "-c", "while :; do :; done"], name="busy"), detach=True)
    mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "60"], name="idle"), detach=True)
    first = {s["name"]: s for s in mgr.containers.stats([])}
    assert set(first) == {"busy", "idle"}
    busy = first["busy"]
    assert busy["pids"] >= 1 and busy["memory_bytes"] > 0 and busy["memory_limit"] > 0
    assert isinstance(busy["block_read"], int) and isinstance(busy["block_write"], int)
    assert isinstance(busy["net_rx"], int) and isinstance(busy["net_tx"], int)
    # The CPU percentage needs two samples: poll until the busy loop has been given CPU time.
    import time

    deadline = time.monotonic() + 60
    while True:
        second = {s["name"]: s for s in mgr.containers.stats(["busy"])}
        if second["busy"]["cpu_ns"] > busy["cpu_ns"] and second["busy"]["system_cpu_ns"] > busy["system_cpu_ns"]:
            break
        assert time.monotonic() < deadline, "the busy container never got CPU time"
        time.sleep(0.1)  # the poll's interval, not a wait for an event
    assert row(second["busy"], busy)["cpu_percent"] > 0


@containerd
def test_stats_from_the_language(pouchsh: Any) -> None:
    assert pouchsh("run -d --name web busybox sleep 60; run --name done busybox true").returncode == 0
    result = pouchsh("stats --no-stream", extra=["--json"])
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["web"] and len(rows[0]["id"]) == 12
    assert set(rows[0]) >= {"cpu_percent", "memory_usage", "memory_limit", "memory_percent", "net_rx", "net_tx",
                            "block_read", "block_write", "pids"}
    # A stream of records in a pipeline, like events'.
    result = pouchsh("stats web | first 2 | get pids", extra=["--json"])
    assert result.returncode == 0, result.stderr
    assert [p >= 1 for p in json.loads(result.stdout)] == [True, True]
    # Every container with -a; a stopped one has empty figures.
    result = pouchsh("stats -a --no-stream --no-trunc | where name == done", extra=["--json"])
    (stopped,) = json.loads(result.stdout)
    assert stopped["cpu_percent"] is None and len(stopped["id"]) == 64
    # Piped in: the containers of the selection; an empty selection samples nothing.
    assert json.loads(pouchsh("ps | stats --no-stream | get name", extra=["--json"]).stdout) == ["web"]
    assert json.loads(pouchsh("ps | where name == none | stats --no-stream", extra=["--json"]).stdout) == []


@containerd
def test_stats_bad_input_is_a_clear_error(pouchsh: Any) -> None:
    assert pouchsh("run --name done busybox true").returncode == 0
    for script, kind in [("stats --no-stream nosuch", "not-found"), ("stats --no-stream done", "conflict"),
                         ("stats done", "conflict")]:
        result = pouchsh(script)
        assert result.returncode != 0 and f"error[{kind}]" in result.stderr.decode(), (script, result.stderr)
        assert b"Traceback" not in result.stderr
