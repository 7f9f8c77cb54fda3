"""``attach``: a running container's output on the caller's streams from now on, until it exits (its
exit status) or Ctrl-C.

pouchsh runs no daemon: a detached task's output goes to its JSON log through the logger the shim runs
(ctrd.logger), and its stdin is /dev/null, so attaching follows the log as it grows and forwards no
input. A container made with ``-i`` expects input that cannot reach it: attaching to one is refused
unless ``--no-stdin`` says output is all that is wanted. Ctrl-C detaches; with ``sig_proxy`` (docker's
default) the container is sent SIGINT first, as docker's attach forwards it.

Output is the container's, so it is hostile: control characters (an escape sequence that retitles the
window, moves the cursor or answers back into the terminal's input) reach the caller's terminal only
when the container asked for a terminal itself (``-t``); otherwise they are shown escaped (``\\x1b``).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from ctrd.errors import Conflict, Interrupted, InvalidArgument, Timeout
from managers.console import Stdio
from managers.foreground import POLL
from managers.labels import LABEL
from managers.lifecycle import quiet
from managers.resolver import name_of

if TYPE_CHECKING:
    from managers.containers import ContainerManager

__all__ = ["attach", "printable"]

#: how long the output may take to catch up with an exit (the logger writes the last lines after it)
_DRAIN = 10.0
_KEEP = frozenset("\n\t")


def attach(manager: ContainerManager, ref: str, stdio: Stdio, *, no_stdin: bool = False, sig_proxy: bool = True) -> int:
    """Follow the container's output until it exits; its exit status. Raises Interrupted on Ctrl-C
    (``stdio.cancel``), after sending SIGINT with ``sig_proxy``."""
    c = manager.resolver.get(ref)
    task = manager.resolver.task(c.id)
    if task is None or task.status != "running":
        state = "paused: unpause it first" if task is not None and task.status == "paused" else "not running"
        raise Conflict(f"container {name_of(c)} is {state}")
    if c.labels.get(LABEL.INTERACTIVE) == "true" and not no_stdin:
        raise InvalidArgument(
            f"container {name_of(c)} was made with -i, but a detached container's stdin cannot be attached "
            "(pouchsh runs no daemon to hold it open): attach --no-stdin follows its output, exec -it gives a shell"
        )
    tty = c.labels.get(LABEL.TTY) == "true"
    raw = tty or not _is_terminal(stdio.stdout)
    exit_future = manager.client.tasks.wait(c.id)  # before the log is followed: an exit is not missed
    stop = threading.Event()
    entries = manager.log_entries(c.id, follow=True, tail=0, cancel=stop)
    pump = threading.Thread(target=_copy, args=(entries, stdio, tty, raw), name=f"attach-{c.id[:12]}", daemon=True)
    pump.start()
    try:
        while True:
            try:
                status = exit_future.result(timeout=POLL).exit_status
                break
            except Timeout:
                pass
            except KeyboardInterrupt:
                stdio.cancel.set()
            if stdio.cancel.is_set():
                if sig_proxy:
                    quiet(manager.client.tasks.kill, c.id, "SIGINT")
                raise Interrupted(f"detached from {name_of(c)}" + (" (sent SIGINT)" if sig_proxy else ""))
        pump.join(_DRAIN)  # the follower ends once the task is gone and the log is read to its end
        return int(status)
    finally:
        stop.set()
        exit_future.cancel()


def _copy(entries: Any, stdio: Stdio, tty: bool, raw: bool) -> None:
    for entry in entries:
        target: BinaryIO = stdio.stdout if tty or entry.stream == "stdout" else stdio.stderr
        text = entry.text if raw else printable(entry.text)
        try:
            target.write(text.encode("utf-8", "replace"))
            target.flush()
        except (OSError, ValueError):
            return  # the reader went away


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab escaped as ``\\xNN``."""
    if text.isprintable() and "\x1b" not in text:
        return text
    return "".join(ch if ch in _KEEP or ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256
                   else f"\\u{ord(ch):04x}" for ch in text)


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
