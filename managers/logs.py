"""Reading a container's JSON-lines log (written by ctrd.logger): tail, time windows and follow.

Entries come from the rotated files oldest first (``path.N`` … ``path.1``, ``path``). ``follow`` keeps
reading the current file as it grows, moves to the new file when the writer rotates, and ends once the
container is no longer running and everything written has been read, or when ``cancel`` is set.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ctrd.logger import rotated_files

__all__ = ["LogEntry", "follow_entries", "read_entries"]

_POLL = 0.1
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One piece of output: ``stream`` stdout|stderr, ``text`` (with its newline), ``time`` in ns since
    the epoch and ``stamp``, the RFC 3339 text as written."""

    stream: str
    text: str
    time: int
    stamp: str


def _stamp_ns(stamp: str) -> int:
    m = _STAMP.match(stamp)
    if not m:
        raise ValueError(stamp)
    base = datetime.fromisoformat(m.group(1) + (m.group(3) or "Z").replace("Z", "+00:00"))
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)
    nanos = int((m.group(2) or "0").ljust(9, "0"))
    return int(base.timestamp()) * 10**9 + nanos


def _decode(line: bytes) -> LogEntry | None:
    try:
        obj = json.loads(line)
        stamp = obj.get("time", "")
        return LogEntry(obj.get("stream", "stdout"), obj.get("log", ""), _stamp_ns(stamp), stamp)
    except (ValueError, AttributeError, TypeError):
        return None  # a torn last line while a writer writes, or foreign junk: skip it


def _in_window(entry: LogEntry, since: int | None, until: int | None) -> bool:
    return (since is None or entry.time >= since) and (until is None or entry.time <= until)


def _read_file(file: Path, since: int | None, until: int | None) -> Iterator[LogEntry]:
    try:
        with open(file, "rb") as f:
            for line in f:
                entry = _decode(line)
                if entry is not None and _in_window(entry, since, until):
                    yield entry
    except FileNotFoundError:
        return  # rotated away between listing and opening


def read_entries(
    path: str | os.PathLike[str], *, tail: int | None = None, since: int | None = None, until: int | None = None
) -> list[LogEntry]:
    """Every entry in the window, oldest first; with ``tail`` only the last ``tail`` of them."""
    if tail == 0:
        return []
    keep: deque[LogEntry] = deque(maxlen=tail)
    for file in rotated_files(Path(path)):
        keep.extend(_read_file(file, since, until))
    return list(keep)


def follow_entries(
    path: str | os.PathLike[str],
    *,
    tail: int | None = None,
    since: int | None = None,
    until: int | None = None,
    running: Callable[[], bool],
    cancel: threading.Event | None = None,
) -> Iterator[LogEntry]:
    """The entries ``read_entries`` gives, then new ones as they are written, until the container stops
    (``running()`` is false and the file has no more), ``until`` passes, or ``cancel`` is set. The file
    is opened and its history read by this call (not by the first ``next``): what is written after it
    returns is followed, whenever the iteration starts."""
    base = Path(path)
    cancel = cancel or threading.Event()
    # History is the rotated files plus what the open current file holds now; reading on from the same
    # descriptor afterwards loses and repeats nothing.
    handle = _open(base)
    history: deque[LogEntry] = deque(maxlen=tail)
    if tail != 0:
        for file in rotated_files(base)[:-1] if handle is not None else rotated_files(base):
            history.extend(_read_file(file, since, until))
    pending = b""
    if handle is not None:
        pending = _consume(handle.read(), history.append, since, until)
    return _follow(base, handle, pending, history, since, until, running, cancel)


def _follow(
    base: Path, handle: BinaryIO | None, pending: bytes, history: deque[LogEntry], since: int | None,
    until: int | None, running: Callable[[], bool], cancel: threading.Event,
) -> Iterator[LogEntry]:
    yield from history
    try:
        while not cancel.is_set():
            if handle is None:
                handle = _open(base)
                pending = b""
            chunk = handle.read() if handle is not None else b""
            if chunk:
                out: list[LogEntry] = []
                pending = _consume(pending + chunk, out.append, since, None)
                for entry in out:
                    if until is not None and entry.time > until:
                        return
                    yield entry
                continue
            if handle is not None and _rotated(base, handle):
                tail_chunk = handle.read()  # written just before the rename
                handle.close()
                handle = None
                out = []
                _consume(pending + tail_chunk + b"\n", out.append, since, until)
                yield from out
                continue
            if until is not None and time.time_ns() > until:
                return
            if not running():
                # The collector may write the last lines just after the task exits: one more look.
                if handle is not None and (more := handle.read()):
                    out = []
                    pending = _consume(pending + more, out.append, since, until)
                    yield from out
                    continue
                return
            cancel.wait(_POLL)
    finally:
        if handle is not None:
            handle.close()


def _consume(data: bytes, emit: Callable[[LogEntry], object], since: int | None, until: int | None) -> bytes:
    """Emit the complete lines of ``data`` in the window; return the unterminated rest."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        entry = _decode(line)
        if entry is not None and _in_window(entry, since, until):
            emit(entry)
    return rest


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _rotated(path: Path, handle) -> bool:  # type: ignore[no-untyped-def]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    ours = os.fstat(handle.fileno())
    return (st.st_ino, st.st_dev) != (ours.st_ino, ours.st_dev) or st.st_size < handle.tell()
