"""``top`` shows docker's columns (the host's ``ps -ef``: UID PID PPID C STIME TTY TIME CMD) read from the
host's /proc for the container's pids, its records keeping those fields typed; ``network ls -q`` gives
ids as docker's does."""

from __future__ import annotations

import json
import re
import time

import pytest

from managers.hostside import TOP_COLUMNS, _cpu_time, _ps_start, _tty_name


def test_ps_formats_of_start_time_cpu_time_and_terminal() -> None:
    now = time.mktime((2026, 12, 7, 15, 30, 0, 0, 0, -1))
    assert _ps_start(now - 3600, now) == "14:30"  # the same day
    assert _ps_start(time.mktime((2026, 12, 6, 23, 59, 0, 0, 0, -1)), now) == "Dec06"  # the day before
    assert _ps_start(time.mktime((2025, 3, 1, 9, 0, 0, 0, 0, -1)), now) == "2025"
    assert (_cpu_time(0), _cpu_time(3723), _cpu_time(2 * 86400 + 61)) == ("00:00:00", "01:02:03", "2-00:01:01")
    assert (_tty_name(0), _tty_name(136 << 8 | 3), _tty_name(4 << 8 | 1), _tty_name(4 << 8 | 65)) == \
        ("?", "pts/3", "tty1", "ttyS1")
    assert _tty_name((137 << 8) | 2) == "pts/258"


@pytest.mark.containerd
def test_top_is_dockers_ps_ef_table_and_typed_records(shell) -> None:  # type: ignore[no-untyped-def]
    shell.run("run -d --name topbox busybox sh -c 'sleep 300 & exec sleep 301'")
    try:
        deadline = time.monotonic() + 30
        while shell.run("top topbox | length").strip() != "2":
            assert time.monotonic() < deadline, shell.run("top topbox")
            time.sleep(0.1)
        lines = shell.run("top topbox").splitlines()
        assert re.fullmatch(r"UID +PID +PPID +C +STIME +TTY +TIME +CMD", lines[0]), lines[0]
        assert any(re.fullmatch(r"0 +\d+ +\d+ +\d+ +(\d\d:\d\d|[A-Z][a-z]{2}\d\d) +\? +00:00:0\d +sleep 301", line)
                   for line in lines[1:]), lines
        rows = json.loads(shell.run("top topbox | to json"))
        assert all(tuple(row) == TOP_COLUMNS for row in rows)
        assert all(isinstance(row[k], int) for row in rows for k in ("uid", "pid", "ppid", "c"))
        # the records are typed: the first process is the task's own, the other its child
        init = int(shell.run("(inspect topbox).pid").strip())
        assert shell.run("top topbox | where cmd == 'sleep 301' | get pid | first").strip() == str(init)
        assert shell.run(f"top topbox | where ppid == {init} | get cmd | first").strip() == "sleep 300"
        # docker's ps options still reach the host's ps
        assert shell.run("top topbox -o pid,comm | get command").split() == ["sleep", "sleep"]
    finally:
        shell.run("rm -f topbox")


@pytest.mark.containerd
def test_network_ls_quiet_gives_short_and_full_ids_that_name_the_network(shell) -> None:  # type: ignore[no-untyped-def]
    shell.run("network create quietnet")
    try:
        full = shell.run("network ls --filter name=quietnet | get id | first").strip()
        assert re.fullmatch(r"[0-9a-f]{64}", full)
        assert shell.run("network ls -q --filter name=quietnet").strip() == full[:12]
        assert shell.run("network ls -q --no-trunc --filter name=quietnet").strip() == full
        # an id from -q names the network, so `network ls -q | network rm` lines port from docker
        assert shell.run(f"(network inspect {full[:12]}).name").strip() == "quietnet"
    finally:
        shell.run("network rm quietnet")
