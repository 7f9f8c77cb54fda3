"""Host-side state that containerd does not keep: JSON documents under the data root.

Every change goes through ``Store.update()``: an exclusive ``fcntl`` lock on a side file is taken, the
document is read fresh, changed in memory and written back atomically (temp file, fsync, rename, fsync
of the directory), so two pouchsh processes at once never lose or duplicate a record and a crash leaves
either the old or the new document, never half of one. Readers need no lock: a rename is atomic, so
``Store.read()`` always sees one whole version.

    store = Store(root / "state" / ns / "volumes.json")
    with store.update() as doc:          # doc is a dict; change it in place
        doc.setdefault("data", {...})
    store.read()                          # a copy of the last committed document

``FileLock`` is the same lock on its own, for work that is not a document (CNI plugins are not safe
to run concurrently on one network).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from ctrd.errors import PouchRuntimeError
from ctrd.private import PRIVATE_FILE, private_dir

__all__ = ["FileLock", "Store", "write_atomic"]


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing), re-entrant for the thread holding it.

    The in-process mutex orders threads sharing this instance; the ``flock`` orders processes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.RLock()
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> Self:
        self._mutex.acquire()
        if self._depth == 0:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                self._mutex.release()
                raise
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._mutex.release()


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE_FILE, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader or a crash sees the old or the new content only;
    the file is ``mode`` (root's alone unless said otherwise), in a private directory when one is made.
    ``durable``: synced (the file, then its directory) before returning, so a power loss keeps it too;
    without it a killed process still leaves the old or the new content (the page cache is the
    kernel's), but a power loss may leave the file missing or empty (managers.intents says when that is
    acceptable)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Store:
    """One JSON object in one file, changed only under its lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = FileLock(path.with_name(path.name + ".lock"))

    def read(self) -> dict[str, Any]:
        return self._parse(self._raw())

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Yield the current document under the lock; write it back if the block changed it.

        An exception inside the block discards every change, so a failed operation leaves no trace here.
        """
        with self.lock:
            raw = self._raw()
            doc = self._parse(raw)
            yield doc
            # Compact, so that json's C encoder writes it (with an indent it runs in Python), and compared
            # as bytes: a network's store holds every attachment's CNI result, and a deep copy to compare
            # with cost more than the write (bench/bulk.py: a third of a removal's CPU on 100 containers).
            data = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
            if data != raw and (raw is not None or doc):
                write_atomic(self.path, data)

    def _raw(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def _parse(self, raw: bytes | None) -> dict[str, Any]:
        if raw is None:
            return {}
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise PouchRuntimeError(f"state file {self.path} is corrupt: {e}") from e
        if not isinstance(doc, dict):
            raise PouchRuntimeError(f"state file {self.path} is corrupt: not a JSON object")
        return doc
