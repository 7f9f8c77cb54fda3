"""``attach`` gets the container's output live from the log collector (ctrd.logd.subscribe), against
the real containerd: output without a newline shows at once even when the collector holds unfinished
lines back from the log for an hour (so it cannot have come through the log), a reader that never
reads stalls neither the log of its container nor of another, and a collector killed with -9 under an
attach is followed by the log (started again) without a gap in the log and with the exit status at
the end."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrd import logd
from tests.containers.conftest import spawned
from tests.ctrd.test_logd import _zombie, collector_pid
from tests.ctrd.test_logd_live import collector_pid_of, start_slow_collector
from tests.support.poll import poll

pytestmark = pytest.mark.containerd

#: output that never ends a line: only the live stream shows it while the log holds it back
TICKS = 'i=0; while [ ! -e /stop ]; do printf "tick$i "; i=$((i+1)); sleep 0.2; done; exit 4'
LINES = 'i=0; while [ ! -e /stop ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done; exit 3'


class _Reader:
    """A subprocess whose stdout is a pipe read here, with deadlines."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        self.seen = b""

    def read_until(self, pattern: bytes, deadline: float = 60) -> bytes:
        assert self.proc.stdout is not None
        end = time.monotonic() + deadline
        while not re.search(pattern, self.seen):
            left = end - time.monotonic()
            assert left > 0, f"{pattern!r} never came: {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"{pattern!r} never came before the end: {self.seen[-500:]!r} {self.proc.stderr.read()!r}"  # type: ignore[union-attr]
                self.seen += chunk
        return self.seen

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


@pytest.fixture
def run_pouchsh(busybox_image: str, invocation: Any) -> Iterator[Any]:
    with spawned(invocation, _Reader) as start:
        yield start


@pytest.fixture
def slow_collector(roots: tuple[Path, Path]) -> Iterator[subprocess.Popen[bytes]]:
    """The data root's collector, started before any container, with an hour's partial-line delay."""
    proc = start_slow_collector(*roots)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_output_without_a_newline_shows_at_once(pouchsh: Any, run_pouchsh: Any, slow_collector: Any,
                                                roots: tuple[Path, Path]) -> None:
    assert pouchsh(f"run -d --name ticks busybox sh -c '{TICKS}'").returncode == 0
    a = run_pouchsh("attach ticks; echo status=$status")
    seen = a.read_until(rb"tick\d+ tick\d+ ")  # two ticks: the second written after the attach began
    assert b"\n" not in seen
    log = next(roots[0].glob("containers/*/*/*-json.log"), None)
    assert log is None or b"tick" not in log.read_bytes()  # held back from the log: it came live
    assert pouchsh("exec ticks touch /stop").returncode == 0
    a.read_until(rb"status=4\n")  # the exit status after the last of its output
    assert a.proc.wait(30) == 0
    # and the log gets the line whole at the end
    logs = pouchsh("logs ticks")
    assert re.fullmatch(rb"(tick\d+ )+\n?", logs.stdout), logs.stdout[-200:]  # (the shell ends what it shows)


def test_a_reader_that_never_reads_stalls_no_log(pouchsh: Any, run_pouchsh: Any) -> None:
    flood = "head -c 8388608 /dev/zero | tr '\\\\0' x; echo; echo flood-done; exec sleep 600"
    assert pouchsh("run -d --name other --network none busybox sh -c 'sleep 2; echo other-done; exec sleep 600'; "
                   f"run -d --name flood --network none --log-opt max-size=64m busybox sh -c \"sleep 2; {flood}\"").returncode == 0
    stuck = run_pouchsh("attach --sig-proxy=false flood")  # its stdout: a pipe nobody reads
    logs = {name: Path(pouchsh(f"(inspect {name}).log_path").stdout.decode().strip()) for name in ("flood", "other")}
    poll(lambda: all(p.exists() for p in logs.values()) and b"flood-done" in logs["flood"].read_bytes()
         and b"other-done" in logs["other"].read_bytes(), "both logs complete", timeout=120)
    assert stuck.proc.poll() is None  # still attached (blocked on its own output), and nobody waited for it
    assert pouchsh("logs flood").stdout == b"x" * (8 << 20) + b"\nflood-done\n"


def test_a_collector_killed_under_an_attach(pouchsh: Any, run_pouchsh: Any, roots: tuple[Path, Path]) -> None:
    assert pouchsh(f"run -d --name lines busybox sh -c '{LINES}'").returncode == 0
    a = run_pouchsh("attach lines; echo status=$status")
    a.read_until(rb"line \d+\n")
    pid = poll(lambda: collector_pid(roots[0]), "the collector")
    os.kill(pid, signal.SIGKILL)
    poll(lambda: _zombie(pid) or not os.path.exists(f"/proc/{pid}"), "the collector killed")
    # attach goes on from the log (its follower starts a collector again)
    count = len(re.findall(rb"line \d+\n", a.seen))
    a.read_until(rb"(line \d+\n){%d}" % (count + 5))
    assert collector_pid(roots[0]) not in (None, pid)
    assert pouchsh("exec lines touch /stop").returncode == 0
    out = a.read_until(rb"status=3\n")
    assert a.proc.wait(30) == 0
    numbers = [int(n) for n in re.findall(rb"line (\d+)\n", out)]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)  # nothing twice, in order
    # the log lost nothing: what the container wrote while no collector ran waited in its pipe
    logged = [int(n) for n in re.findall(rb"line (\d+)\n", pouchsh("logs lines").stdout)]
    assert logged == list(range(len(logged))) and logged[-1] >= numbers[-1]
    # live again for the next attach (a subscription to the new collector)
    assert os.path.exists(logd.live_path(roots[1]))


def test_an_older_collector_is_followed_through_the_log(pouchsh: Any, run_pouchsh: Any, roots: tuple[Path, Path]) -> None:
    old = start_slow_collector(*roots, live=False)  # answers datagrams, serves no live stream
    try:
        assert pouchsh(f"run -d --name lines busybox sh -c '{LINES}'").returncode == 0
        a = run_pouchsh("attach lines; echo status=$status")
        first = a.read_until(rb"line \d+\n")
        a.read_until(rb"(line \d+\n){%d}" % (len(re.findall(rb"line \d+\n", first)) + 3))
        assert pouchsh("exec lines touch /stop").returncode == 0
        out = a.read_until(rb"status=3\n")
        numbers = [int(n) for n in re.findall(rb"line (\d+)\n", out)]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # from the log: none missing
        assert collector_pid_of(roots[0]) == old.pid  # it was the one serving
    finally:
        old.send_signal(signal.SIGTERM)
        old.wait(30)

