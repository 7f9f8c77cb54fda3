"""The caller's side of a foreground container: its streams, raw mode and window size of a terminal.

``Stdio`` is what ``run`` (without ``-d``), ``start -a`` and ``exec`` connect to the process. With ``-t``
on a real terminal, the terminal goes into raw mode for the duration (so Ctrl-C, Ctrl-D and every key
reach the container's pty, as with docker) and its size follows SIGWINCH via ResizePty.
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

__all__ = ["Stdio", "terminal_session", "window_size"]


@dataclass
class Stdio:
    """Where a foreground process's streams go. ``terminal`` is a file descriptor of the user's
    terminal (for raw mode and size) or None when stdin is not one; ``cancel`` is set by Ctrl-C."""

    stdin: BinaryIO | None
    stdout: BinaryIO
    stderr: BinaryIO
    cancel: threading.Event = field(default_factory=threading.Event)
    terminal: int | None = None
    #: called once an exec's process runs: before that containerd drops a resize of its pty (the
    #: shim has no console yet), so a caller that learns the size from elsewhere (pouchd) applies it here
    on_started: Callable[[], None] | None = None


def window_size(fd: int) -> tuple[int, int] | None:
    """(columns, rows) of the terminal on ``fd``, or None."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (cols, rows) if cols and rows else None


@contextmanager
def terminal_session(fd: int | None, resize: Callable[[int, int], None]) -> Iterator[None]:
    """Raw mode on ``fd`` and size propagation for the block; a no-op without a terminal.

    The SIGWINCH handler is installed only from the main thread (Python's rule); elsewhere the size is
    sent once at the start.
    """
    if fd is None or not os.isatty(fd):
        yield
        return
    size = window_size(fd)
    if size:
        _quiet(resize, *size)
    saved = termios.tcgetattr(fd)
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_winch(signum: int, frame: object) -> None:
            now = window_size(fd)
            if now:
                # The handler runs between bytecodes of the main thread; the RPC must not block it.
                threading.Thread(target=_quiet, args=(resize, *now), daemon=True).start()

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
