"""Hostile container output against the host's log collector (ctrd.logd): huge lines, binary junk and
floods give bounded records, bounded files and a bounded collector; its files are root's alone."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from ctrd import logd
from ctrd.logger import MAX_LINE
from tests.ctrd.test_logd import collector_pid
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _files(log: Path) -> list[Path]:
    return sorted(log.parent.glob(log.name + ".*[0-9]"), reverse=True) + ([log] if log.exists() else [])


def _records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in _files(log) for line in f.read_bytes().splitlines()]


def test_huge_lines_and_binary_junk_become_bounded_valid_records(shell: Any, facade: Any) -> None:
    # 1 MiB without a newline, then random bytes (invalid UTF-8, NULs, escapes), then a marker.
    script = ("head -c 1048576 /dev/zero | tr '\\\\0' A; head -c 65536 /dev/urandom; printf '\\\\nend-marker\\\\n'; "
              "exec sleep 600")
    shell.run(f'run -d --name junk --network none busybox sh -c "{script}"')
    log = Path(facade.containers.inspect("junk")["log_path"])
    poll(lambda: log.exists() and b"end-marker" in log.read_bytes(), "the marker logged", timeout=120)
    records = _records(log)  # every line parses: json.loads raised otherwise
    assert all(len(r["log"].encode("utf-8")) <= 3 * MAX_LINE for r in records)  # U+FFFD is 3 bytes
    assert all(len(r["log"]) <= MAX_LINE for r in records)
    assert sum(r["log"].count("A") for r in records) >= 1 << 20  # nothing dropped on the way
    pid = collector_pid(Path(facade.root))
    assert pid is not None and _rss_mib(pid) < 64


def test_a_flood_is_rotated_and_the_collector_stays_small(shell: Any, facade: Any) -> None:
    shell.run("run -d --name flood --network none --log-opt max-size=64k --log-opt max-file=3 busybox "
              "sh -c 'yes flooding-the-log-with-a-longish-line | head -n 400000; echo flood-done; exec sleep 600'")
    log = Path(facade.containers.inspect("flood")["log_path"])
    poll(lambda: log.exists() and b"flood-done" in log.read_bytes(), "the flood logged", timeout=240)
    files = _files(log)
    assert len(files) == 3
    assert all(f.stat().st_size <= 64 * 1024 for f in files)
    pid = collector_pid(Path(facade.root))
    assert pid is not None and _rss_mib(pid) < 64


def test_the_collectors_files_are_roots_alone(shell: Any, facade: Any, roots: tuple[Path, Path]) -> None:
    shell.run("run -d --name quiet --network none busybox sleep 600")
    cid = facade.containers.inspect("quiet")["id"]
    directory = roots[0] / "containers" / facade.namespace / cid
    poll(lambda: collector_pid(roots[0]), "collector running")
    for name in ("stdout.fifo", "stderr.fifo"):
        st = os.lstat(directory / name)
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    for path in (directory / logd.CONFIG, roots[0] / "logd.lock", Path(logd.socket_path(roots[1]))):
        st = os.lstat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, path
    for path in (directory, Path(logd.socket_path(roots[1])).parent):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
