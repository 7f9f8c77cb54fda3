"""The caller's side of a foreground container: its streams, raw mode and window size of a terminal.

``Stdio`` is what ``run`` (without ``-d``), ``start -a`` and ``exec`` connect to the process. With ``-t``
on a real terminal, the terminal goes into raw mode for the duration (so Ctrl-C, Ctrl-D and every key
reach the container's pty, as with docker) and its size follows SIGWINCH. ``TerminalSize`` carries the size
from whoever knows it (the caller's terminal, or a client's resize call) to the pty once the pty exists: a
resize that comes before (when runc has not made the pty yet, and containerd's shim drops it without an
error) is kept and applied then, so a terminal never starts at 0x0.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["Stdio", "TerminalSize", "terminal_session", "window_size"]


class TerminalSize:
    """The size (columns, rows) a process's pty is to have, and where to apply it once the pty exists.

    ``set`` may come at any time, from any thread; ``bind`` is called when the pty exists and applies the
    latest size at once, then every later one. Sizes are applied under the lock, so two that race are
    applied in the order they were set and the last one wins."""

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._apply: Callable[[int, int], None] | None = None

    def get(self) -> tuple[int, int] | None:
        with self._lock:
            return self._size

    def set(self, cols: int, rows: int) -> None:
        with self._lock:
            self._size = (cols, rows)
            if self._apply is not None:
                _quiet(self._apply, cols, rows)

    def bind(self, apply: Callable[[int, int], None]) -> None:
        with self._lock:
            self._apply = apply
            if self._size is not None:
                _quiet(apply, *self._size)

    def unbind(self) -> None:
        with self._lock:
            self._apply = None


@dataclass
class Stdio:
    """Where a foreground process's streams go. ``terminal`` is a file descriptor of the user's
    terminal (for raw mode and size) or None when stdin is not one; ``cancel`` is set by Ctrl-C."""

    stdin: BinaryIO | None
    stdout: BinaryIO
    stderr: BinaryIO
    cancel: threading.Event = field(default_factory=threading.Event)
    terminal: int | None = None
    #: the pty's size: from ``terminal`` when there is one (terminal_session), else set by the client
    size: TerminalSize = field(default_factory=TerminalSize)


def window_size(fd: int) -> tuple[int, int] | None:
    """(columns, rows) of the terminal on ``fd``, or None."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (cols, rows) if cols and rows else None


@contextmanager
def terminal_session(fd: int | None, size: TerminalSize) -> Iterator[None]:
    """Raw mode on ``fd`` for the block, its size into ``size`` now and on every change; a no-op without
    a terminal.

    The SIGWINCH handler is installed only from the main thread (Python's rule); elsewhere the size is
    taken once at the start.
    """
    if fd is None or not os.isatty(fd):
        yield
        return
    now = window_size(fd)
    if now:
        size.set(*now)
    saved = termios.tcgetattr(fd)
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_winch(signum: int, frame: object) -> None:
            changed = window_size(fd)
            if changed:
                # The handler runs between bytecodes of the main thread; the RPC must not block it.
                threading.Thread(target=size.set, args=changed, daemon=True).start()

        previous = signal.signal(signal.SIGWINCH, on_winch)
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def _quiet(fn: Callable[[int, int], None], cols: int, rows: int) -> None:
    with suppress(Exception):  # the process may have exited; a lost resize is harmless
        fn(cols, rows)
