"""A program on a pseudo-terminal of its own, driven with pexpect, started without forking the test process.

``pexpect.spawn`` forks the interpreter that runs the tests, and that interpreter holds live gRPC channels
(the session's containerd client): gRPC's fork handlers then abort about one child in ten before it can
exec ("Epoll1Poller ... epoll_wait error: Bad file descriptor", SIGABRT), which CI saw as an EOF. Here the
child is started by ``subprocess`` (an exec straight after a vfork, with no fork handlers), with ``setsid
--ctty`` making the terminal its controlling one, and pexpect reads the master side.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pexpect.fdpexpect

__all__ = ["Terminal", "in_terminal"]


class Terminal(pexpect.fdpexpect.fdspawn):
    """pexpect's expect/send on the master side, and the child's exit status once it has ended."""

    process: subprocess.Popen[bytes]

    def wait_exit(self, timeout: float = 30) -> int:
        return self.process.wait(timeout=timeout)

    def __str__(self) -> str:
        # pexpect puts this in its EOF and TIMEOUT errors: what the program printed is what one needs.
        return f"{self.process.args!r} printed (last 300 bytes): {self.before[-300:]!r}"


@contextmanager
def in_terminal(argv: Sequence[str], *, env: dict[str, str], timeout: float = 30,
                rows: int = 24, columns: int = 80) -> Iterator[Terminal]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    try:
        process = subprocess.Popen(["setsid", "--ctty", *argv], stdin=slave, stdout=slave, stderr=slave, env=env,
                                   close_fds=True)
    finally:
        os.close(slave)
    term = Terminal(master, timeout=timeout)
    term.process = process
    try:
        yield term
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(master)
