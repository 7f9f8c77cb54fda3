"""The shim's logger as the shim runs it: the launcher, fds 3/4/5, SIGTERM; and what it imports.

No containerd: the test plays the shim (pipes on fds 3 and 4, a ready pipe on fd 5)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ctrd import logger
from ctrd.logger import logger_launcher

# Modules that each cost a millisecond or more of every container's start (pathlib brings re, fnmatch
# and urllib.parse; signal brings enum); the logger's path must not import them.
HEAVY = {"pathlib", "re", "enum", "selectors", "signal", "typing", "json", "collections", "urllib.parse"}


def _start(launcher: str, log: Path) -> tuple[int, int, int]:
    """Spawn the launcher with the shim's layout (fd 3 stdout, 4 stderr, 5 ready); (pid, out_w, err_w)
    once it has signalled ready."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()
    # moved above 5 first, so one dup2 cannot clobber a descriptor another still reads from
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (out_r, err_r, ready_w)]
    for fd in (out_r, err_r, ready_w):
        os.close(fd)
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in zip(high, (3, 4, 5), strict=True)]
    argv = [launcher, "path", str(log), "max-size", "1000000", "max-file", "2"]
    pid = os.posix_spawn(launcher, argv, dict(os.environ), file_actions=actions)
    for fd in high:
        os.close(fd)
    assert os.read(ready_r, 1) == b"", "the logger closes fd 5 when it is ready"
    os.close(ready_r)
    return pid, out_w, err_w


def _exit_status(pid: int) -> int:
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the logger did not exit")
        time.sleep(0.01)


def _records(log: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_launcher_copies_both_streams_until_eof(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "c-json.log"
    pid, out_w, err_w = _start(logger_launcher(tmp_path / "bin"), log)
    os.write(out_w, b"one\ntwo\n")
    os.write(err_w, b"oops")
    os.close(out_w)
    os.close(err_w)
    assert _exit_status(pid) == 0
    records = _records(log)
    assert [(r["stream"], r["log"]) for r in records if r["stream"] == "stdout"] == [("stdout", "one\n"), ("stdout", "two\n")]
    assert [r["log"] for r in records if r["stream"] == "stderr"] == ["oops"]


def test_sigterm_stops_it_after_copying_what_is_in_the_pipes(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    pid, out_w, err_w = _start(logger_launcher(tmp_path / "bin"), log)
    os.write(out_w, b"last words\n")  # the pipes stay open: the container's process has not closed them
    os.kill(pid, signal.SIGTERM)
    try:
        assert _exit_status(pid) == 0
    finally:
        os.close(out_w)
        os.close(err_w)
    assert [r["log"] for r in _records(log)] == ["last words\n"]


def test_the_logger_imports_only_cheap_modules() -> None:
    probe = (
        "import sys\n"
        "from importlib.machinery import SourceFileLoader\n"
        "m = type(sys)('pouchsh_logger')\n"
        f"SourceFileLoader('pouchsh_logger', {logger.__file__!r}).exec_module(m)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run([sys.executable, "-SI", "-c", probe], capture_output=True, check=True).stdout.decode().split())
    assert {"fcntl", "select", "_json"} <= loaded  # the logger was loaded
    assert loaded & HEAVY == set()
