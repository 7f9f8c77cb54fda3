"""CPU time by process during a piece of work, from ``perf record -a`` samples (a helper, not a benchmark).

``with CpuProfile(roots={containerd_pid}) as profile: work()`` samples every CPU at ``hz`` (the
``cpu-clock`` software event, which a VM has) and records every fork, exec and exit. Afterwards
``profile.groups`` maps a process group ("containerd", "shim daemon", "runc", "runc init", "pouchsh",
"ctr" ...) to the CPU seconds its processes used. Only processes descended from ``roots`` (the
containerd) or from this process (the drivers it starts: pouchsh, xargs and ctr) count, so other work
on a shared machine stays out; it is reported apart as "not ours" (as is idle time). The fork tree
comes from the FORK records, which name the parent at fork time, so a shim daemon that re-parents
itself to init still counts as containerd's.

Why sampling and not BSD process accounting: acct(2) stores each exited process's CPU time in
1/100 s units, rounded down, and most processes here (runc, a shim's ``start``, ctr) live for a few
milliseconds of CPU; sampling at 2 kHz gives 0.5 ms per sample, and over 100 containers the error of
a per-container figure is a small fraction of a millisecond.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["CpuProfile", "available"]

PERF = shutil.which("perf") or "/usr/bin/perf"

_SAMPLE = re.compile(r"^\s*(.*?)\s+(-?\d+)/(-?\d+)\s+(\S+?):?\s*(.*)$")
_EXEC = re.compile(r"PERF_RECORD_COMM exec: (.*):(\d+)/(\d+)")
_FORK = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")


def available() -> bool:
    """Can this process sample every CPU (root, or a low ``perf_event_paranoid``)?"""
    if not os.path.exists(PERF):
        return False
    probe = subprocess.run([PERF, "stat", "-a", "-e", "cpu-clock", "--", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def group_of(comm: str, parent_is_root: bool) -> str:
    """The process group a sample's command name belongs to (``comm`` is at most 15 characters)."""
    if comm.startswith("containerd-shim"):
        # containerd runs `containerd-shim-runc-v2 start`, which starts the daemon and exits
        return "shim start" if parent_is_root else "shim daemon"
    if comm.startswith("runc:[") or comm == "exe":  # runc create re-executes /proc/self/exe as `runc init`
        return "runc init"
    if comm == "runc":
        return "runc"
    if comm == "ctr":
        return "ctr"
    if comm == "xargs":
        return "xargs"
    if comm.startswith("python"):
        return "pouchsh"
    return "other: " + comm


class CpuProfile:
    """Samples all CPUs while the ``with`` block runs; see the module docstring."""

    def __init__(self, roots: set[int], *, hz: int = 1999) -> None:
        self.roots = set(roots)
        self.hz = hz
        self.groups: defaultdict[str, float] = defaultdict(float)  # CPU seconds by group, our processes only
        self.execs: Counter[str] = Counter()  # how many programs of each name our processes exec'd
        self.not_ours = 0.0
        self.idle = 0.0
        self._dir = Path(tempfile.mkdtemp(prefix="pb-perf-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [PERF, "record", "-a", "-q", "-F", str(self.hz), "-e", "cpu-clock", "-o", str(self._dir / "perf.data")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        # perf writes the header once it is sampling; wait for it so the work is not started before
        data = self._dir / "perf.data"
        deadline = time.monotonic() + 10
        while not (data.exists() and data.stat().st_size > 0):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                raise RuntimeError(f"perf record did not start: {self._proc.communicate()[1].decode()[-500:]}")
            time.sleep(0.005)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(timeout=60)
        try:
            if kind is None:
                self._read()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def total(self) -> float:
        return sum(self.groups.values())

    def _read(self) -> None:
        out = subprocess.run(
            [PERF, "script", "-i", str(self._dir / "perf.data"), "--show-task-events", "-F", "comm,pid,tid,event"],
            capture_output=True, check=True,
        ).stdout.decode(errors="replace")
        me = os.getpid()
        ours: set[int] = set(self.roots)
        parent: dict[int, int] = {}
        program: dict[int, str] = {}  # the name a process exec'd (a thread's own name may differ)
        period = 1.0 / self.hz
        for line in out.splitlines():
            if "PERF_RECORD_FORK" in line:
                m = _FORK.search(line)
                if m is None:
                    continue
                pid, ppid = int(m.group(1)), int(m.group(3))
                if pid != ppid:  # a new process, not a thread
                    parent[pid] = ppid
                    if ppid in program:
                        program[pid] = program[ppid]
                    if ppid in ours or ppid == me:
                        ours.add(pid)
                continue
            if "PERF_RECORD_COMM exec:" in line:
                m = _EXEC.search(line)
                if m is not None:
                    program[int(m.group(2))] = m.group(1)
                    if int(m.group(2)) in ours:
                        self.execs[m.group(1)] += 1
                continue
            if "PERF_RECORD" in line:
                continue
            m = _SAMPLE.match(line)
            if m is None:
                continue
            comm, pid = m.group(1), int(m.group(2))
            if pid == 0:
                self.idle += period
            elif pid in ours and comm != "perf":
                group = "containerd" if pid in self.roots else group_of(comm, parent.get(pid) in self.roots)
                if group.startswith("other: ") and pid in program:
                    # a thread that named itself (grpc's event_engine in pouchsh): its process decides
                    group = group_of(program[pid], parent.get(pid) in self.roots)
                self.groups[group] += period
            else:
                self.not_ours += period

    def per_container_ms(self, n: int) -> dict[str, float]:
        """CPU ms per container by group, largest first."""
        return {g: s * 1000 / n for g, s in sorted(self.groups.items(), key=lambda kv: -kv[1])}
