"""``ps`` records built from a container and its task (no containerd): ports only while a container
runs, the command from its label or its spec alike, times read from /proc and formatted as before."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from managers import records

PORTS = '[{"host_ip":"127.0.0.1","host_port":8080,"container_port":80,"protocol":"tcp"}]'
T = datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=UTC)


def container(**labels: str) -> Any:
    return SimpleNamespace(
        id="a" * 64, image="busybox", created_at=T, spec={"process": {"args": ["httpd", "-f", "-p", "80"]}},
        labels={"pouchsh/name": "web", "pouchsh/ports": PORTS, **labels},
    )


def task(status: str, pid: int = 1) -> Any:
    return SimpleNamespace(status=status, pid=pid, exit_status=0, exited_at=None)


def test_ports_show_only_while_the_container_runs() -> None:
    c = container()
    assert records.build_record(c, task("running"))["ports"][0]["host_port"] == 8080
    assert records.build_record(c, task("paused"))["ports"][0]["host_port"] == 8080
    assert records.build_record(c, task("stopped"))["ports"] == []
    assert records.build_record(c, task("created"))["ports"] == []
    assert records.build_record(container(**{"pouchsh/started": "true"}), None)["ports"] == []
    assert records.ports_of(c)[0]["container_port"] == 80  # what `port` reads


def test_command_from_the_label_equals_the_command_from_the_spec() -> None:
    from_spec = container()
    from_label = container(**{"pouchsh/command": '["httpd","-f","-p","80"]'})
    for trunc in (True, False):
        for _ in range(2):  # the second time from the remembered label text
            assert records.build_record(from_label, None, trunc=trunc)["command"] == (
                records.build_record(from_spec, None, trunc=trunc)["command"]
            )
    long = container(**{"pouchsh/command": '["sh","-c","echo a very long command line"]'})
    assert records.build_record(long, None, trunc=True)["command"] == "sh -c 'echo a very …"
    assert records.build_record(container(**{"pouchsh/command": "{oops"}), None)["command"] == "httpd -f -p 80"


def test_times_are_formatted_in_utc_with_microseconds() -> None:
    assert records.build_record(container(), None)["created"] == "2026-01-01T12:00:00.000005Z"
    other_zone = container()
    other_zone.created_at = T.astimezone(timezone(timedelta(hours=2)))
    assert records.build_record(other_zone, None)["created"] == "2026-01-01T12:00:00.000005Z"


def test_started_at_reads_a_live_process_and_refuses_the_rest() -> None:
    started = records.started_at(os.getpid())
    assert started is not None and 0 <= time.time() - started < 24 * 3600
    assert records.started_at(0) is None
    assert records.started_at(2**22 + 1) is None  # above pid_max: no such process
