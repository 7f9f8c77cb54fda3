"""A foreground ``run -it`` on a real pseudo-terminal: raw mode, window size, keystrokes, exit status."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
import time
from typing import Any

import pytest

from managers.console import Stdio
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd


def test_run_with_a_tty(mgr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    sizes: list[tuple[int, int]] = []
    tasks = mgr.ctrd.tasks
    original = tasks.resize_pty
    monkeypatch.setattr(tasks, "resize_pty", lambda cid, w, h, exec_id="": (sizes.append((w, h)), original(cid, w, h, exec_id=exec_id)))
    seen = bytearray()
    done = threading.Event()

    def user() -> None:
        deadline = time.monotonic() + 20
        while b"ready" not in seen and time.monotonic() < deadline:
            seen.extend(os.read(master, 4096))
        os.write(master, b"typed\r")
        while not done.is_set() and time.monotonic() < deadline:
            try:
                seen.extend(os.read(master, 4096))
            except OSError:
                break

    reader = threading.Thread(target=user, daemon=True)
    reader.start()
    stdin = os.fdopen(os.dup(slave), "rb", buffering=0)
    stdout = os.fdopen(os.dup(slave), "wb", buffering=0)
    before = termios.tcgetattr(slave)
    try:
        code = mgr.containers.run(
            opts("sh", "-c", "[ -t 0 ] && echo is-a-tty; echo $TERM; echo ready; read line; echo got-$line; exit 7",
                 tty=True, interactive=True, rm=True),
            detach=False,
            stdio=Stdio(stdin=stdin, stdout=stdout, stderr=stdout, terminal=slave),
        )
    finally:
        done.set()
        stdin.close()
        stdout.close()
    assert termios.tcgetattr(slave) == before  # raw mode undone
    os.close(slave)  # the reader's blocked read ends with EIO
    reader.join(5)
    os.close(master)
    assert code == 7
    text = seen.decode(errors="replace")
    assert "is-a-tty" in text and "xterm" in text and "got-typed" in text
    assert sizes and sizes[0] == (111, 33)
