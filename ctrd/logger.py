"""Container logs as Docker-style JSON lines, written by a logger the runc shim runs itself.

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
foreground tee and the shim's logger never interleave badly or rotate twice.

The shim runs ``pouchsh-logger path P max-size N max-file K`` for the log URI
``binary:///abs/pouchsh-logger?path=P&max-size=N&max-file=K`` (query pairs become argv pairs), with fd 3 =
the container's stdout, fd 4 = stderr and fd 5 = a pipe to close once ready; the shim starts the
container only after that. It ends at EOF on both streams or on SIGTERM (sent on Tasks.Delete).

This module starts for every container, so it imports the standard library only, and the shim runs it
through ``logger_launcher``: a two-line script with a ``#!<python> -SI`` line that loads this file by its
path. Without ``site`` (≈ 30 ms of an editable install's path hooks) and without the ``ctrd`` package
(its ``typing`` import), the logger is ready in about a third of the console script's time, and the
container starts that much sooner. For the same reason the logger's own path imports only modules built
into the interpreter or frozen in it (``os``, ``fcntl``, ``select``, ``_signal``, ``time``, ``_json``):
``pathlib`` (which brings ``re``, ``fnmatch`` and ``urllib.parse``), ``selectors`` and ``signal`` (its
``enum``) cost about as much CPU again as the interpreter's own start, once per container.
"""

from __future__ import annotations

import _signal
import fcntl
import os
import select
import sys
import time

TYPE_CHECKING = False  # not `from typing import`: typing is the heaviest import there would be
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "JsonLogWriter",
    "binary_log_uri",
    "file_log_uri",
    "format_time",
    "logger_executable",
    "logger_launcher",
    "main",
]

try:
    # json.dumps(..., ensure_ascii=False) of a string, without importing json (and re) in every logger
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
            from ctrd.errors import InvalidArgument  # not at the top: the shim's path has no ctrd package

            raise InvalidArgument(f"log max-size must be > 0 and max-file >= 1 (got {max_size}, {max_file})")
        self.path = os.fspath(path)
        self.max_size = max_size
        self.max_file = max_file
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)  # private: what containers print
        self._lock_fd = os.open(f"{self.path}.lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._fd = -1
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

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
        self._append(stream, pieces)

    def flush(self) -> None:
        """Write what is left of unterminated lines (at EOF)."""
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


def logger_executable() -> str:
    """The ``pouchsh-logger`` console script installed beside the running interpreter."""
    candidate = os.path.join(os.path.dirname(sys.executable), "pouchsh-logger")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    from ctrd.errors import NotFound

    raise NotFound(
        f"pouchsh-logger not found next to {sys.executable}",
        hint="install pouchsh into its environment (make run, or pip install -e .)",
    )


_LAUNCHER = """#!{python} -SI
# Written by pouchsh: runs {logger} for the runc shim (binary:// log URI), without site or the ctrd package.
import sys
from importlib.machinery import SourceFileLoader
module = type(sys)("pouchsh_logger")
module.__file__ = {logger!r}
SourceFileLoader("pouchsh_logger", {logger!r}).exec_module(module)
sys.exit(module.main())
"""
_launchers: dict[str, str] = {}


def logger_launcher(directory: str | os.PathLike[str]) -> str:
    """The path of an executable ``pouchsh-logger`` launcher in ``directory``, written there (atomically)
    unless it already holds this interpreter's and this module's one; checked once per process."""
    path = os.path.join(os.path.abspath(directory), "pouchsh-logger")
    if path in _launchers:
        return path
    text = _LAUNCHER.format(python=sys.executable, logger=os.path.abspath(__file__))
    try:
        with open(path) as f:
            current = f.read()
    except OSError:
        current = None
    if current != text or not os.access(path, os.X_OK):
        import tempfile

        from ctrd.private import private_dir

        private_dir(os.path.dirname(path))
        fd, temp = tempfile.mkstemp(prefix=".pouchsh-logger.", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fchmod(f.fileno(), 0o700)  # the shim runs it as root
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    _launchers[path] = text
    return path


def binary_log_uri(
    path: str | os.PathLike[str],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_file: int = DEFAULT_MAX_FILE,
    executable: str | None = None,
) -> str:
    """The ``binary://`` log URI that makes the shim run ``executable`` (default: the pouchsh-logger
    console script; pouchsh itself passes its ``logger_launcher``) writing to ``path``."""
    from urllib.parse import quote, urlencode

    exe = os.path.abspath(executable or logger_executable())
    query = urlencode({"path": os.path.abspath(path), "max-size": str(max_size), "max-file": str(max_file)})
    return f"binary://{quote(exe)}?{query}"


def file_log_uri(path: str | os.PathLike[str]) -> str:
    """A ``file://`` URI: the shim appends raw stdout and stderr, merged, to ``path`` itself."""
    from urllib.parse import quote

    return f"file://{quote(os.path.abspath(path))}"


def _parse_args(argv: list[str]) -> dict[str, str]:
    if len(argv) % 2:
        raise SystemExit(f"pouchsh-logger: expected key value pairs, got {argv!r}")
    return dict(zip(argv[::2], argv[1::2], strict=True))


def run(
    writer: JsonLogWriter, streams: dict[int, str], *, ready_fd: int | None = None, stop_fd: int | None = None
) -> None:
    """Copy ``streams`` (fd → stream name) into ``writer`` until EOF on all, or ``stop_fd`` is readable.

    On stop, what is already in the pipes is still copied (the process has exited by the time the shim
    sends SIGTERM, but its last output may not have been read yet).
    """
    poll = select.poll()
    for fd in streams:
        poll.register(fd, select.POLLIN)
    if stop_fd is not None:
        poll.register(stop_fd, select.POLLIN)
    if ready_fd is not None:
        os.close(ready_fd)
    remaining = set(streams)
    stopping = False
    while remaining and not stopping:
        for fd, _ in poll.poll():
            if fd == stop_fd:
                stopping = True
            elif fd in remaining and not _copy_once(writer, fd, streams[fd]):
                # EOF (POLLHUP with nothing left to read ends up here too)
                poll.unregister(fd)
                remaining.discard(fd)
    for fd in remaining:
        os.set_blocking(fd, False)
        try:
            while _copy_once(writer, fd, streams[fd]):
                pass
        except BlockingIOError:
            pass
    writer.flush()


def _copy_once(writer: JsonLogWriter, fd: int, stream: str) -> bool:
    data = os.read(fd, 64 * 1024)
    if data:
        writer.write(stream, data)
    return bool(data)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pouchsh-logger`` (run by the shim, not by users)."""
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    if "path" not in options:
        raise SystemExit("pouchsh-logger: missing 'path'")
    try:
        max_size = int(options.get("max-size", DEFAULT_MAX_SIZE))
        max_file = int(options.get("max-file", DEFAULT_MAX_FILE))
    except ValueError:
        max_size = max_file = 0
    if max_size <= 0 or max_file < 1:  # checked here too: ctrd.errors is not importable from the launcher
        raise SystemExit(f"pouchsh-logger: max-size must be > 0 and max-file >= 1 (got {options!r})")
    writer = JsonLogWriter(options["path"], max_size=max_size, max_file=max_file)
    # SIGTERM (Tasks.Delete) wakes the select loop through this pipe instead of interrupting a write.
    stop_r, stop_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(stop_w, warn_on_full_buffer=False)
    _signal.signal(_signal.SIGTERM, lambda signum, frame: None)
    try:
        run(writer, {3: "stdout", 4: "stderr"}, ready_fd=5, stop_fd=stop_r)
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
