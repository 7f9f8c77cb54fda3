"""A ``-t`` process's terminal has the caller's size from its first instruction (bug 4: it was 0x0 until
the first resize), for ``run -t`` and ``exec -t`` alike, and a size a client sends while the process is
still starting is not lost."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
from collections.abc import Callable
from typing import Any

import pytest

from managers.console import Stdio, TerminalSize
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd


def _on_a_pty(rows: int, cols: int, body: Callable[[Stdio], int]) -> tuple[int, str]:
    """Run ``body`` with stdio on a fresh pty of ``rows`` x ``cols``; its result and everything written."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout = os.fdopen(os.dup(slave), "wb", buffering=0)
    try:
        code = body(Stdio(stdin=None, stdout=stdout, stderr=stdout, terminal=slave))
    finally:
        stdout.close()
        os.close(slave)
    reader.join(10)
    os.close(master)
    return code, seen.decode(errors="replace")


def test_run_t_starts_at_the_callers_size(mgr: Any) -> None:
    # the first thing the process does is read its size: no resize can have come after it
    code, text = _on_a_pty(37, 123, lambda stdio: mgr.containers.run(
        opts("busybox", "stty", "size", tty=True, rm=True), detach=False, stdio=stdio))
    assert code == 0
    assert "37 123" in text, text


def test_exec_t_starts_at_the_callers_size(mgr: Any) -> None:
    c = mgr.containers.run(opts("sleep", "300"), detach=True)
    try:
        code, text = _on_a_pty(29, 97, lambda stdio: mgr.containers.exec(c["id"], ["busybox", "stty", "size"], tty=True, stdio=stdio))
        assert code == 0
        assert "29 97" in text, text
    finally:
        mgr.containers.remove([c["id"]], force=True)


def test_a_size_sent_while_the_exec_starts_is_applied(mgr: Any) -> None:
    """The docker CLI's path: no size at the start, a resize call racing it (before the pty exists the
    shim drops a resize without an error). The process waits for a non-zero size, with a deadline."""
    c = mgr.containers.run(opts("sleep", "300"), detach=True)
    try:
        size = TerminalSize()
        out = _Sink()
        stdio = Stdio(stdin=None, stdout=out, stderr=out, size=size)  # type: ignore[arg-type]
        sender = threading.Thread(target=size.set, args=(88, 21))
        sender.start()  # races the exec's create and start below
        script = "i=0; while [ \"$(stty size)\" = '0 0' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; stty size"
        code = mgr.containers.exec(c["id"], ["sh", "-c", script], tty=True, stdio=stdio)
        sender.join(10)
        assert code == 0
        assert b"21 88" in bytes(out.data), bytes(out.data)
    finally:
        mgr.containers.remove([c["id"]], force=True)


def test_terminal_size_applies_the_latest_once_bound() -> None:
    size = TerminalSize()
    applied: list[tuple[int, int]] = []
    size.set(80, 24)
    size.set(100, 30)
    assert applied == []  # nowhere to apply yet
    size.bind(lambda w, h: applied.append((w, h)))
    assert applied == [(100, 30)]
    size.set(120, 40)
    size.unbind()
    size.set(1, 1)
    assert applied == [(100, 30), (120, 40)]
    assert size.get() == (1, 1)


def test_a_failing_resize_is_not_raised() -> None:
    size = TerminalSize((80, 24))

    def gone(w: int, h: int) -> None:
        raise OSError("the process exited")

    size.bind(gone)  # a lost resize of an ended process is harmless
    size.set(90, 20)
    assert size.get() == (90, 20)


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def write(self, b: bytes) -> int:
        with self.lock:
            self.data.extend(b)
        return len(b)

    def flush(self) -> None:
        pass


