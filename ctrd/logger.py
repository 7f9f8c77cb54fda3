"""Container logs as Docker-style JSON lines: the writer the log collector (ctrd.logd) and a foreground
run's tee share.

File format (one JSON object per line, UTF-8, as Docker's and nerdctl's json-file driver write it)::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-23T16:39:58.123456789Z"}

- ``log``: one line of output including its ``\\n``; a line longer than 16 KiB is cut into pieces with no
  ``\\n`` except on the last; a last line with no newline at EOF is written without one. Bytes that are
  not UTF-8 are replaced with U+FFFD.
- ``stream``: ``"stdout"`` or ``"stderr"``.
- ``time``: when the chunk holding the line was read, RFC 3339 with nanoseconds, UTC.

Rotation: before a write that would take ``path`` past ``max_size`` bytes, ``path.(n-1)`` becomes
``path.n`` ... ``path`` becomes ``path.1``, keeping ``max_file`` files in all (``path`` and
``path.1`` .. ``path.(max_file-1)``); with ``max_file`` 1 the file is truncated. A write that alone exceeds
``max_size`` still goes into a fresh file. Writers take an flock on ``path + ".lock"`` per batch, so a
foreground tee and the collector never interleave badly or rotate twice.

The collector runs without ``site`` and without the ``ctrd`` package (``python -SI ctrd/logd.py``) and
loads this file by its path, so it imports only modules built into the interpreter or frozen in it
(``os``, ``fcntl``, ``time``, ``_json``); ``pathlib`` and ``ctrd.errors`` are imported inside the
functions only pouchsh itself calls.
"""

from __future__ import annotations

import fcntl
import os
import time

TYPE_CHECKING = False  # not `from typing import`: typing is the heaviest import there would be
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["JsonLogWriter", "format_time", "rotated_files"]

try:
    # json.dumps(..., ensure_ascii=False) of a string, without importing json (and re) in the collector
    from _json import encode_basestring as _json_string
except ImportError:  # an interpreter without the C accelerator
    from json.encoder import py_encode_basestring as _json_string

#: Docker cuts long lines at 16 KiB so a reader never needs unbounded memory; so do we.
MAX_LINE = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILE = 3


def format_time(ns: int) -> str:
    """RFC 3339 with nanoseconds in UTC, the ``time`` field: ``2026-11-23T16:39:58.000000001Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


class JsonLogWriter:
    """Append output to a JSON-lines log with size-based rotation; ``write(stream, data)`` is an OutputSink."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_file: int = DEFAULT_MAX_FILE,
    ) -> None:
        if max_size <= 0 or max_file < 1:
            from ctrd.errors import InvalidArgument  # not at the top: the collector runs without the ctrd package

            raise InvalidArgument(f"log max-size must be > 0 and max-file >= 1 (got {max_size}, {max_file})")
        self.path = os.fspath(path)
        self.max_size = max_size
        self.max_file = max_file
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)  # private: what containers print
        self._lock_fd = os.open(f"{self.path}.lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._fd = -1
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        #: when the oldest unfinished line still held here came (time.monotonic), None when none is held
        self.partial_since: float | None = None

    def write(self, stream: str, data: bytes) -> None:
        """Add ``data`` read from ``stream``; complete lines are written now, a partial one is kept."""
        buffered = self._partial.get(stream, b"") + data
        lines = buffered.split(b"\n")
        rest = lines.pop()
        pieces: list[bytes] = []
        for line in lines:
            pieces.extend(_cut(line + b"\n"))
        while len(rest) >= MAX_LINE:
            pieces.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial[stream] = rest
        if not any(self._partial.values()):
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = time.monotonic()
        self._append(stream, pieces)

    def flush(self) -> None:
        """Write what is left of unterminated lines, each as a record without its newline (at EOF, and
        for a line left unfinished a while, such as a prompt); readers join them as docker's do."""
        self.partial_since = None
        for stream, rest in self._partial.items():
            if rest:
                self._partial[stream] = b""
                self._append(stream, [rest])

    def close(self) -> None:
        self.flush()
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1

    def _append(self, stream: str, pieces: list[bytes]) -> None:
        stamp = format_time(time.time_ns())
        tail = f',"stream":"{stream}","time":"{stamp}"}}\n'
        records = [
            ('{"log":' + _json_string(piece.decode("utf-8", "replace")) + tail).encode() for piece in pieces
        ]
        if not records:
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            size = self._open_current()
            batch = b""
            for record in records:
                if size + len(batch) + len(record) > self.max_size and size + len(batch) > 0:
                    if batch:
                        os.write(self._fd, batch)
                        batch = b""
                    self._rotate()
                    size = 0
                batch += record
            os.write(self._fd, batch)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open_current(self) -> int:
        """The size of ``path``, reopening it if another writer rotated it away from our descriptor."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        if self._fd >= 0:
            ours = os.fstat(self._fd)
            if on_disk is not None and (ours.st_ino, ours.st_dev) == (on_disk.st_ino, on_disk.st_dev):
                return on_disk.st_size
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        if self.max_file == 1:
            os.ftruncate(self._fd, 0)
            return
        for n in range(self.max_file - 1, 1, -1):
            older = f"{self.path}.{n - 1}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{n}")
        # Readers (logs -f, inspect's log path) must never find the current file missing: the full one is
        # linked to ``.1`` and a fresh empty file replaces it in one rename.
        for temp in (f"{self.path}.1.tmp", f"{self.path}.tmp"):
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        os.link(self.path, f"{self.path}.1.tmp")
        os.replace(f"{self.path}.1.tmp", f"{self.path}.1")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fresh = os.open(f"{self.path}.tmp", flags, 0o600)
        os.replace(f"{self.path}.tmp", self.path)
        os.close(self._fd)
        self._fd = fresh


def _cut(line: bytes) -> list[bytes]:
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)]


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """The log files of ``path``, oldest first (``path.N`` .. ``path.1``, ``path``), existing ones only."""
    from pathlib import Path

    base = Path(path)
    older = []
    n = 1
    while Path(f"{base}.{n}").exists():
        older.append(Path(f"{base}.{n}"))
        n += 1
    return [*reversed(older), *([base] if base.exists() else [])]
