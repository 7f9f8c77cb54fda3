"""Where a container's host-side files live: its state directory and JSON log under the data root, its
lock, FIFOs and runc state under the run root. Paths only: nothing here calls containerd."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ctrd.private import private_dir

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["ContainerPaths", "container_lock"]


class ContainerPaths:
    """The per-container paths of the facade's roots and current namespace (read on every call, so
    ``namespace use`` moves them with it)."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    def state_dir(self, cid: str) -> Path:
        return Path(self.facade.root) / "containers" / self.namespace / cid

    def log_path(self, cid: str) -> Path:
        return self.state_dir(cid) / f"{cid}-json.log"

    @property
    def runc_root(self) -> Path:
        """runc's state root for containers pouchsh creates (the shim adds ``/<namespace>``)."""
        return Path(self.facade.run_root) / "runc"

    def lock_path(self, cid: str) -> Path:
        return Path(self.facade.run_root) / "locks" / self.namespace / cid

    @property
    def fifo_root(self) -> Path:
        return Path(self.facade.run_root) / "fifo" / self.namespace

    @property
    def names_dir(self) -> Path:
        return Path(self.facade.root) / "names" / self.namespace


@contextmanager
def container_lock(path: Path, *, remove: bool = False) -> Iterator[None]:
    """An exclusive flock on ``path`` (one file per container, under the run root) between processes.
    ``remove`` unlinks it before unlocking: only a removal does that, and whoever opened the old file
    meanwhile then finds the container gone in containerd, which is what it must learn anyway."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        if remove:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)
