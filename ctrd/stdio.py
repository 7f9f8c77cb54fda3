"""A task's standard streams: FIFOs between pouchsh and the runc shim, the log collector's, or nothing.

Every variant answers the same three questions Tasks.Create and Tasks.Exec ask (``stdin``, ``stdout``,
``stderr`` strings and ``terminal``) and follows the same life cycle, driven by ctrd.tasks:

    io = FifoIO.open(fifo_root, "web", stdin=True)     # FIFOs made, readers opened non-blocking
    tasks.create(..., io=io)                            # the shim now holds the write ends;
                                                        # tasks.create calls io.created(): readers block
    io.attach_output(stdout=sys.stdout.buffer)          # may start before Start (a pty loses unread output)
    ... wait, start ...
    io.attach_input(src, close_stdin=lambda: tasks.close_io(...))   # only after Start
    io.wait(timeout)                                    # stdout/stderr drained to EOF
    io.close()                                          # fds closed, directory removed (always)

The open order is the one containerd's reference client uses and the one that works from Python (see
docs/ctrd.md): the shim's Tasks.Create blocks until a reader has each output FIFO open, so the readers
are opened (``O_NONBLOCK``, which succeeds with no writer) before Create; a read before Create would see
"no writer" as EOF, so nothing is read until ``created()``. The stdin writer's open blocks until the
shim opens the read end, so it runs in a thread. The shim keeps its own write handle on stdin, so the
container sees EOF only after Tasks.CloseIO: ``close_stdin`` is called once the source is exhausted.
With a terminal the shim turns that EOF into a hang-up of the pty, and one that arrives before
Tasks.Start leaves a task that can never start: so input is attached only after Start, while output may
be attached as soon as Create has returned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Self

from ctrd.errors import PouchError, PouchRuntimeError, Timeout
from ctrd.private import private_dir

__all__ = ["CollectedIO", "FifoIO", "NullIO", "OutputSink", "TaskIO"]

#: ``sink(stream, data)``: a tee for output, e.g. a JSON log writer; ``stream`` is "stdout" or "stderr".
OutputSink = Callable[[str, bytes], None]

_CHUNK = 64 * 1024


class TaskIO(ABC):
    """What a task's standard streams are connected to."""

    terminal: bool = False

    @property
    @abstractmethod
    def stdin(self) -> str:
        """The stdin path or URI for Tasks.Create/Exec ("" for none)."""

    @property
    @abstractmethod
    def stdout(self) -> str:
        """The stdout path or URI ("" for /dev/null)."""

    @property
    @abstractmethod
    def stderr(self) -> str:
        """The stderr path or URI ("" for /dev/null, or when a terminal merges it into stdout)."""

    def created(self) -> None:
        """Called once Tasks.Create (or Exec) has returned."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until all output has been copied (EOF on every stream)."""

    def close(self) -> None:
        """Release everything; safe to call more than once and on every error path."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullIO(TaskIO):
    """No streams: the shim connects the process to /dev/null."""

    def __init__(self, terminal: bool = False) -> None:
        self.terminal = terminal

    stdin = property(lambda self: "")  # type: ignore[assignment]
    stdout = property(lambda self: "")  # type: ignore[assignment]
    stderr = property(lambda self: "")  # type: ignore[assignment]


class CollectedIO(TaskIO):
    """Output to a container's own FIFOs, which the log collector reads (ctrd.logd). We hold a read end of
    each from before Tasks.Create (the shim's Create waits for a reader) until ``close()``, which the
    caller calls once the collector has them open: the shim holds read ends of its own only while the
    task runs, and a task that prints and exits before anyone else holds one would take its output with
    it (the kernel frees a pipe's buffer with its last descriptor). We never read."""

    def __init__(self, fifos: dict[str, str], terminal: bool = False) -> None:
        self.terminal = terminal
        self._paths = fifos
        self._held: list[int] = []
        #: a FIFO the shim opens and keeps a write end of (a detached ``-i`` task): its stdin stays
        #: open, with no EOF until Tasks.CloseIO, and whoever opens the FIFO later (attach) writes to it
        self.stdin_path = ""

    @classmethod
    def open(cls, fifos: dict[str, str], terminal: bool = False) -> CollectedIO:
        io = cls(fifos, terminal)
        try:
            for name in ("stdout", "stderr"):
                if name in fifos and not (terminal and name == "stderr"):
                    # O_NONBLOCK: a read end opens at once, writer or not
                    io._held.append(os.open(fifos[name], os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError as e:
            io.close()
            raise PouchRuntimeError(f"log FIFOs {sorted(fifos.values())}: {e}") from e
        return io

    stdin = property(lambda self: self.stdin_path)  # type: ignore[assignment]
    stdout = property(lambda self: self._paths["stdout"])  # type: ignore[assignment]
    stderr = property(lambda self: "" if self.terminal else self._paths.get("stderr", ""))  # type: ignore[assignment]

    def close(self) -> None:
        for fd in self._held:
            os.close(fd)
        self._held.clear()


class FifoIO(TaskIO):
    """Three FIFOs (two with a terminal) in a private 0700 directory under ``fifo_root``."""

    def __init__(self, directory: Path, process_id: str, *, stdin: bool, terminal: bool) -> None:
        self.directory = directory
        self.terminal = terminal
        self._paths = {
            "stdin": directory / f"{process_id}-stdin" if stdin else None,
            "stdout": directory / f"{process_id}-stdout",
            "stderr": None if terminal else directory / f"{process_id}-stderr",
        }
        self._readers: dict[str, int] = {}
        self._stdin_fd: int | None = None
        self._stdin_opened = threading.Event()
        self._stdin_thread: threading.Thread | None = None
        self._pump: threading.Thread | None = None
        self._copier: threading.Thread | None = None
        self._stdin_done = threading.Event()
        self._drained = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        fifo_root: str | os.PathLike[str],
        process_id: str,
        *,
        stdin: bool = False,
        terminal: bool = False,
    ) -> FifoIO:
        """Make the FIFOs and open our ends in the order the shim needs (before Tasks.Create)."""
        root = Path(fifo_root)
        private_dir(root)
        directory = Path(tempfile.mkdtemp(prefix=f"{process_id[:32]}-", dir=root))  # mkdtemp makes it 0700
        io = cls(directory, process_id, stdin=stdin, terminal=terminal)
        try:
            for path in io._paths.values():
                if path is not None:
                    os.mkfifo(path, 0o700)
            io._wake_r, io._wake_w = os.pipe2(os.O_CLOEXEC)
            for name in ("stdout", "stderr"):
                path = io._paths[name]
                if path is not None:
                    io._readers[name] = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            if io._paths["stdin"] is not None:
                io._stdin_thread = threading.Thread(
                    target=io._open_stdin, name=f"stdin-open-{process_id}", daemon=True
                )
                io._stdin_thread.start()
        except OSError as e:
            io.close()
            raise PouchRuntimeError(f"stdio for {process_id}: {e}") from e
        return io

    stdin = property(lambda self: _path_str(self._paths["stdin"]))  # type: ignore[assignment]
    stdout = property(lambda self: _path_str(self._paths["stdout"]))  # type: ignore[assignment]
    stderr = property(lambda self: _path_str(self._paths["stderr"]))  # type: ignore[assignment]

    def read_ends(self) -> list[int]:
        """New read ends of the output FIFOs (non-blocking, the caller's to close), for a holder that
        must outlive us while the shim opens its writers (ctrd.logd ``hold``): opens of their own, so
        that nothing we do to ours (blocking reads after ``created``) changes theirs."""
        fds: list[int] = []
        try:
            for name in ("stdout", "stderr"):
                path = self._paths[name]
                if path is not None:
                    fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def _open_stdin(self) -> None:
        try:
            # Blocks until the shim (or close(), to unblock us) opens the read end.
            self._stdin_fd = os.open(self._paths["stdin"], os.O_WRONLY | os.O_CLOEXEC)  # type: ignore[arg-type]
        except OSError:
            pass  # close() unblocked us after a failed Create; there is nobody to write to
        finally:
            self._stdin_opened.set()

    def created(self) -> None:
        for fd in self._readers.values():
            os.set_blocking(fd, True)

    def attach(
        self,
        *,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
        stdin: BinaryIO | None = None,
        sink: OutputSink | None = None,
        close_stdin: Callable[[], None] | None = None,
    ) -> None:
        """``attach_output`` and ``attach_input`` at once: call it after the task (or exec) has started."""
        self.attach_output(stdout=stdout, stderr=stderr, sink=sink)
        self.attach_input(stdin, close_stdin=close_stdin)

    def attach_output(
        self,
        *,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
        sink: OutputSink | None = None,
    ) -> None:
        """Start copying FIFO output to ``stdout``/``stderr`` (and ``sink``); with a terminal everything
        arrives on ``stdout``.

        Any time after ``created()``: before Tasks.Start is best with a terminal, whose output the kernel
        may drop if nobody reads it before the process exits. Output with no destination is still read
        and dropped, so the process never blocks on a full pipe.
        """
        if self._pump is not None:
            raise PouchRuntimeError("stdio output already attached")
        targets = {"stdout": stdout, "stderr": stderr}
        self._pump = threading.Thread(
            target=self._copy_out, args=(targets, sink), name=f"stdio-{self.directory.name}", daemon=True
        )
        self._pump.start()

    def attach_input(self, stdin: BinaryIO | None, *, close_stdin: Callable[[], None] | None = None) -> None:
        """Start forwarding ``stdin`` into the task; once it is exhausted (at once when None) close our
        write end and call ``close_stdin`` (Tasks.CloseIO) so the process sees EOF.

        Only after Tasks.Start: with a terminal the shim turns that EOF into a hang-up of the pty, and
        before Start that leaves a process that can never start. A no-op when the task has no stdin FIFO.
        """
        if self._paths["stdin"] is None or self._closed:
            return
        if self._copier is not None:
            raise PouchRuntimeError("stdin already attached")
        self._copier = threading.Thread(
            target=self._copy_in, args=(stdin, close_stdin), name=f"stdin-{self.directory.name}", daemon=True
        )
        self._copier.start()

    def _copy_out(self, targets: dict[str, BinaryIO | None], sink: OutputSink | None) -> None:
        sel = selectors.DefaultSelector()
        try:
            for name, fd in self._readers.items():
                sel.register(fd, selectors.EVENT_READ, name)
            sel.register(self._wake_r, selectors.EVENT_READ, None)
            open_streams = len(self._readers)
            while open_streams:
                for key, _ in sel.select():
                    name = key.data
                    if name is None:  # close() asked us to stop
                        return
                    try:
                        data = os.read(key.fd, _CHUNK)
                    except OSError as e:
                        if e.errno in (errno.EAGAIN, errno.EINTR):
                            continue
                        data = b""
                    if not data:
                        sel.unregister(key.fd)
                        open_streams -= 1
                        continue
                    target = targets.get(name)
                    if target is not None:
                        try:
                            target.write(data)
                            target.flush()
                        except (OSError, ValueError):
                            targets[name] = None  # the reader went away; keep draining
                    if sink is not None:
                        sink(name, data)
        finally:
            sel.close()
            self._drained.set()

    def _copy_in(self, source: BinaryIO | None, close_stdin: Callable[[], None] | None) -> None:
        self._stdin_opened.wait()
        fd = self._stdin_fd
        if fd is None:
            return
        try:
            if source is not None and not self._closed:
                os.set_blocking(fd, False)
                self._forward(source, fd)
        except (OSError, ValueError):
            pass  # the task is gone (EPIPE) or the source was closed: nothing more to deliver
        finally:
            os.close(fd)
            self._stdin_fd = None
            self._stdin_done.set()
        if close_stdin is not None and not self._closed:
            with contextlib.suppress(PouchError):  # the task may already have exited; EOF is moot then
                close_stdin()

    def _forward(self, source: BinaryIO, fd: int) -> None:
        try:
            source_fd = source.fileno()
        except (OSError, ValueError, AttributeError):
            source_fd = -1
        if source_fd < 0:
            # No descriptor to wait on (an in-memory buffer): plain reads, which never block for long.
            read = getattr(source, "read1", source.read)
            while not self._closed and (data := read(_CHUNK)):
                if not self._write_all(fd, data):
                    return
            return
        # A real descriptor (a pipe, a terminal) may block forever; wait on it together with the wake
        # pipe so close() can stop us without stealing input meant for someone else afterwards.
        with selectors.DefaultSelector() as sel:
            sel.register(source_fd, selectors.EVENT_READ, True)
            sel.register(self._wake_r, selectors.EVENT_READ, False)
            while True:
                ready = sel.select()
                if any(not key.data for key, _ in ready):
                    return
                data = os.read(source_fd, _CHUNK)
                if not data or not self._write_all(fd, data):
                    return

    def _write_all(self, fd: int, data: bytes) -> bool:
        """Write all of ``data`` unless close() intervenes (the process may never read its stdin)."""
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_WRITE, True)
            sel.register(self._wake_r, selectors.EVENT_READ, False)
            while view:
                if any(not key.data for key, _ in sel.select()):
                    return False
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    continue
        return True

    def wait(self, timeout: float | None = None) -> None:
        if self._pump is None:
            return
        if not self._drained.wait(timeout):
            raise Timeout(f"output of {self.directory.name} not drained within {timeout}s")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._pump is not None:
            self._pump.join()
        if self._stdin_thread is not None and not self._stdin_opened.is_set():
            # The shim never opened stdin (Create failed): open a read end ourselves so the writer's
            # blocking open in the thread returns.
            try:
                unblock = os.open(self._paths["stdin"], os.O_RDONLY | os.O_NONBLOCK)  # type: ignore[arg-type]
            except OSError:
                unblock = -1
            self._stdin_opened.wait()
            if unblock >= 0:
                os.close(unblock)
        if self._copier is not None:
            self._stdin_done.wait()
        elif self._stdin_fd is not None:
            os.close(self._stdin_fd)
            self._stdin_fd = None
        for fd in self._readers.values():
            os.close(fd)
        self._readers.clear()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        shutil.rmtree(self.directory, ignore_errors=True)


def _path_str(path: Path | None) -> str:
    return "" if path is None else str(path)
