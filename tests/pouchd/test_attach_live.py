"""``docker attach`` through pouchd gets the live stream the shell's ``attach`` gets
(managers.attach.follow_output): output without a newline shows at once with a collector that holds
unfinished lines back from the log for an hour, and the attach ends with the container's exit code."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.ctrd.test_logd_live import start_slow_collector
from tests.pouchd.conftest import DOCKER, Daemon

pytestmark = pytest.mark.containerd

TICKS = 'i=0; while [ ! -e /stop ]; do printf "tick$i "; i=$((i+1)); sleep 0.2; done; exit 4'


@pytest.fixture(scope="module")
def slow(daemon: Daemon) -> Iterator[None]:
    proc = start_slow_collector(daemon.root, daemon.run)
    yield
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _read_until(proc: subprocess.Popen[bytes], pattern: bytes, seen: bytes = b"", deadline: float = 60) -> bytes:
    assert proc.stdout is not None
    end = time.monotonic() + deadline
    while not re.search(pattern, seen):
        left = end - time.monotonic()
        assert left > 0, f"{pattern!r} never came: {seen[-300:]!r}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"{pattern!r} never came before the end: {seen[-300:]!r}"
            seen += chunk
    return seen


def test_docker_attach_shows_output_without_a_newline_at_once(daemon: Daemon, slow: None) -> None:
    daemon.docker("run", "-d", "--name", "pticks", "busybox", "sh", "-c", TICKS, check=True)
    attach = subprocess.Popen([DOCKER, "attach", "--no-stdin", "pticks"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=daemon.env())
    try:
        seen = _read_until(attach, rb"tick\d+ tick\d+ ")
        assert b"\n" not in seen
        log = next(daemon.root.glob("containers/*/*/*-json.log"), None)
        assert log is None or b"tick" not in log.read_bytes()  # held back from the log: it came live
        daemon.docker("exec", "pticks", "touch", "/stop", check=True)
        assert attach.wait(60) == 4  # the container's exit code, as docker attach ends
    finally:
        if attach.poll() is None:
            attach.kill()
        attach.wait()
        daemon.docker("rm", "-f", "pticks")
