"""``attach``: a running container's output on the caller's streams from now on, until it exits (its
exit status), the detach keys, or Ctrl-C.

pouchsh runs no daemon: a detached task's output goes to its JSON log through the log collector
(ctrd.logd), which also hands it, as it reads it, to subscribers of its live stream: attaching
subscribes (``follow_output``, which pouchd's attach reads too), so output shows as the container writes
it, a prompt without its newline included. With no collector serving that (an older one), or once the
stream breaks before the exit (the collector killed, or this reader cut off for falling behind), the log
is followed as it grows instead. Input reaches a detached task only when it was made with ``-i -t``: its stdin is
a FIFO in the container's state directory that the shim holds open (Lifecycle.stdin_fifo), and attach
writes the caller's input into it, in raw mode on a terminal, until the detach keys (docker's
``ctrl-p,ctrl-q`` unless changed), which leave the container running. The shim gives a task without a
terminal no stdin with the log URI pouchsh uses, so attaching to a ``-i`` container without ``-t`` is
refused unless ``--no-stdin`` says output is all that is wanted. Ctrl-C (when it is not input to a
``-t`` container) detaches; with ``sig_proxy`` (docker's default) the container is sent SIGINT first.

Output is the container's, so it is hostile: control characters (an escape sequence that retitles the
window, moves the cursor or answers back into the terminal's input) reach the caller's terminal only
when the container asked for a terminal itself (``-t``); otherwise they are shown escaped (``\\x1b``).
"""

from __future__ import annotations

import codecs
import errno
import os
import selectors
import stat
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ctrd.errors import Conflict, Interrupted, InvalidArgument, Timeout
from managers.console import Stdio, terminal_session
from managers.foreground import POLL
from managers.labels import LABEL
from managers.lifecycle import quiet
from managers.resolver import name_of

if TYPE_CHECKING:
    from managers.containers import ContainerManager

__all__ = ["attach", "follow_output", "parse_detach_keys", "printable"]

#: how long the output may take to catch up with an exit (the collector writes the last lines after it)
_DRAIN = 10.0
_KEEP = frozenset("\n\t")


def attach(
    manager: ContainerManager, ref: str, stdio: Stdio, *, no_stdin: bool = False, sig_proxy: bool = True,
    detach_keys: str = "ctrl-p,ctrl-q",
) -> int:
    """Follow the container's output (and forward input to a ``-i -t`` one) until it exits: its exit
    status; 0 when the detach keys leave it running. Raises Interrupted on Ctrl-C (``stdio.cancel``),
    after sending SIGINT with ``sig_proxy``."""
    keys = parse_detach_keys(detach_keys)
    c = manager.resolver.get(ref)
    task = manager.resolver.task(c.id)
    if task is None or task.status != "running":
        state = "paused: unpause it first" if task is not None and task.status == "paused" else "not running"
        raise Conflict(f"container {name_of(c)} is {state}")
    tty = c.labels.get(LABEL.TTY) == "true"
    fifo = -1
    if c.labels.get(LABEL.INTERACTIVE) == "true" and not no_stdin:
        fifo = _open_stdin(manager, c, tty)
    try:
        return _attached(manager, c, stdio, tty, fifo, keys, sig_proxy)
    finally:
        if fifo >= 0:
            os.close(fifo)  # the shim keeps its own end: the container sees no EOF


def _attached(manager: ContainerManager, c: Any, stdio: Stdio, tty: bool, fifo: int, keys: bytes, sig_proxy: bool) -> int:
    raw = tty or not _is_terminal(stdio.stdout)
    exit_future = manager.client.tasks.wait(c.id)  # before the output is followed: an exit is not missed
    stop = threading.Event()
    detached = threading.Event()
    chunks = follow_output(manager, c, exit_future, stop)
    pump = threading.Thread(target=_copy, args=(chunks, stdio, tty, raw), name=f"attach-{c.id[:12]}", daemon=True)
    pump.start()
    forward = _Input(stdio.stdin, fifo, keys, detached) if fifo >= 0 and stdio.stdin is not None else None
    terminal = stdio.terminal if forward is not None and tty else None
    resize = lambda w, h: manager.client.tasks.resize_pty(c.id, w, h)  # noqa: E731
    try:
        with terminal_session(terminal, resize):
            if forward is not None:
                forward.start()
            while True:
                try:
                    status = exit_future.result(timeout=POLL).exit_status
                    break
                except Timeout:
                    pass
                except KeyboardInterrupt:
                    stdio.cancel.set()
                if detached.is_set():
                    return 0
                if stdio.cancel.is_set():
                    if sig_proxy:
                        quiet(manager.client.tasks.kill, c.id, "SIGINT")
                    raise Interrupted(f"detached from {name_of(c)}" + (" (sent SIGINT)" if sig_proxy else ""))
        pump.join(_DRAIN)  # the follower ends once what the task wrote before its exit is through
        return int(status)
    finally:
        stop.set()
        if forward is not None:
            forward.stop()
        exit_future.cancel()


def _open_stdin(manager: ContainerManager, c: Any, tty: bool) -> int:
    """The write end of a ``-i -t`` task's stdin FIFO (held open by the shim)."""
    refused = InvalidArgument(
        f"container {name_of(c)} was made with -i but " + ("started before its stdin could be held" if tty else "without -t")
        + ": its stdin cannot be attached (the shim keeps no stdin for a detached task without a terminal); "
        "attach --no-stdin follows its output, exec -it gives a shell"
    )
    if not tty:
        raise refused
    path = manager.paths.state_dir(c.id) / "stdin"
    try:
        # O_NONBLOCK: with nobody reading (the task gone), ENXIO at once rather than a hang.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENXIO, errno.ELOOP):
            raise refused from None
        raise
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise refused
    return fd


class _Input:
    """Forwards the caller's input into the task's stdin FIFO, watching for the detach keys: bytes that
    begin the sequence are held back until it is complete (``detached`` is set, they are not sent) or
    broken (they are sent). The caller's EOF ends the forwarding, not the container's stdin."""

    def __init__(self, source: BinaryIO, fifo: int, keys: bytes, detached: threading.Event) -> None:
        self.source, self.fifo, self.keys, self.detached = source, fifo, keys, detached
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="attach-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        try:
            source = self.source.fileno()
        except (AttributeError, OSError, ValueError):
            return
        held = b""
        with selectors.DefaultSelector() as sel:
            sel.register(source, selectors.EVENT_READ, True)
            sel.register(self._wake_r, selectors.EVENT_READ, False)
            while True:
                if any(not key.data for key, _ in sel.select()):
                    return
                try:
                    data = os.read(source, 4096)
                except OSError:
                    return
                if not data:
                    return
                out = bytearray()
                for byte in data:
                    if byte == self.keys[len(held)]:
                        held += bytes([byte])
                        if len(held) == len(self.keys):
                            self._write(bytes(out))
                            self.detached.set()
                            return
                        continue
                    out += held
                    held = b""
                    if byte == self.keys[0]:
                        held = bytes([byte])
                    else:
                        out.append(byte)
                if out and not self._write(bytes(out)):
                    return

    def _write(self, data: bytes) -> bool:
        """Write all of ``data`` unless stopped or the task is gone (a full FIFO must not hang us)."""
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self.fifo, selectors.EVENT_WRITE, True)
            sel.register(self._wake_r, selectors.EVENT_READ, False)
            while view:
                if any(not key.data for key, _ in sel.select()):
                    return False
                try:
                    view = view[os.write(self.fifo, view):]
                except BlockingIOError:
                    continue
                except OSError:
                    return False  # EPIPE: the task is gone
        return True


def parse_detach_keys(spec: str) -> bytes:
    """docker's ``--detach-keys``: comma-separated keys, each a character or ``ctrl-<letter>``,
    ``ctrl-@``, ``ctrl-[``, ``ctrl-\\``, ``ctrl-]``, ``ctrl-^`` or ``ctrl-_``."""
    out = bytearray()
    for part in str(spec).split(","):
        key = part.strip()
        if len(key) == 1 and 0x20 <= ord(key) < 0x7F:
            out.append(ord(key))
        elif len(key) == 6 and key.lower().startswith("ctrl-") and (key[5].isascii() and key[5].isalpha()
                                                                     or key[5] in _CTRL):
            ch = key[5].lower()
            out.append(ord(ch) - 96 if ch.isalpha() else _CTRL[ch])
        else:
            raise InvalidArgument(
                f"--detach-keys {spec!r}: {key!r} is not a key (a character, or ctrl- with a letter, @, [, \\, ], ^ or _)"
            )
    return bytes(out)


_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def follow_output(
    manager: ContainerManager, c: Any, exit_future: Any, cancel: threading.Event
) -> Iterator[tuple[str, bytes]]:
    """``c``'s output from this call on, as ``(stream, bytes)`` in the order it was written, until its
    exit (``exit_future``, issued before this call) and what it wrote before it are through, or
    ``cancel``. Live from the log collector as it reads the container's FIFOs (ctrd.logd.subscribe);
    from the log as it grows when no collector serves that (an older one), and from the moment the
    live stream breaks before the exit (the collector killed, or this reader cut off for falling behind:
    then what it was not sent is in the log, not here). ``attach`` and pouchd's attach both read this."""
    from ctrd import logd

    run_root = manager.facade.run_root
    key = f"{manager.lifecycle.namespace}/{c.id}"
    sock = logd.subscribe(run_root, key)
    collected = (manager.paths.state_dir(c.id) / logd.CONFIG).exists()  # not a run attached elsewhere
    if sock is None and collected and manager.lifecycle.notify_collector(c.id, sync=True):
        sock = logd.subscribe(run_root, key)  # a killed collector was started again by the notify
    if sock is None:
        return _from_log(manager, c, cancel)
    return _live(manager, c, sock, exit_future, cancel)


def _live(manager: ContainerManager, c: Any, sock: Any, exit_future: Any, cancel: threading.Event) -> Iterator[tuple[str, bytes]]:
    from ctrd import logd

    def exited(_future: Any) -> None:
        try:
            sock.send(logd.SYNC)  # answered once what waited in the FIFOs is on its way to us
        except OSError:
            pass  # over already

    streams = {tag: stream for stream, tag in logd.TAGS.items()}
    sock.settimeout(POLL)  # only to notice `cancel`: output wakes the read at once
    exit_future.add_done_callback(exited)
    try:
        while not cancel.is_set():
            try:
                message = sock.recv(logd.LIVE_MESSAGE)
            except TimeoutError:
                continue
            except OSError:
                message = b""
            if not message:
                break  # the container's output ended, or the stream broke: the log has the rest
            tag, data = message[:1], message[1:]
            if tag == logd.SYNCED:
                if exit_future.done():
                    return
            elif tag in streams and data:
                yield streams[tag], data
        else:
            return
    finally:
        sock.close()
    yield from _from_log(manager, c, cancel)


def _from_log(manager: ContainerManager, c: Any, cancel: threading.Event) -> Iterator[tuple[str, bytes]]:
    # the log's end is taken now, not when the iteration starts
    entries = manager.log_entries(c.id, follow=True, from_now=True, cancel=cancel)
    return ((entry.stream, entry.text.encode("utf-8", "replace")) for entry in entries)


def _copy(chunks: Iterable[tuple[str, bytes]], stdio: Stdio, tty: bool, raw: bool) -> None:
    decoders: dict[str, Any] = {}
    for stream, data in chunks:
        target: BinaryIO = stdio.stdout if tty or stream == "stdout" else stdio.stderr
        if not raw:
            # a character cut between two reads is decoded whole, so it is not escaped in halves
            decoder = decoders.setdefault(stream, codecs.getincrementaldecoder("utf-8")("replace"))
            data = printable(decoder.decode(data)).encode("utf-8")
        try:
            target.write(data)
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
