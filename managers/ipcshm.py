"""The ``/dev/shm`` that containers sharing an IPC namespace share, as docker's: a ``--ipc shareable``
container gets a tmpfs made on the host in its state directory (``<state>/shm``) and bind-mounted as its
``/dev/shm``; a ``--ipc container:NAME`` joiner bind-mounts the same tmpfs, so a POSIX shared-memory
object one makes (a file in /dev/shm) the other sees. ``--ipc host`` binds the host's own /dev/shm.

The tmpfs is the host's own mount, never a path inside a container's root (the donor's /dev/shm seen
through ``/proc/PID/root`` could be a link its owner planted). It has docker's options (nosuid, nodev,
noexec, mode 1777) and the donor's ``--shm-size`` (default 64 MiB), so what the containers write stays
bounded. It is unmounted before the state directory is removed, by ``rm`` and by the reconciler of a
killed ``create``/``rm`` (managers.lifecycle), which both go through ``unmount``."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path
from typing import Any

from ctrd.errors import PouchRuntimeError

__all__ = ["DEFAULT_SIZE", "HOST_SHM", "bind", "mount", "shm_dir", "unmount"]

DEFAULT_SIZE = 64 << 20  # docker's default --shm-size
HOST_SHM = "/dev/shm"

_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_MNT_DETACH = 2


def shm_dir(state_dir: Path) -> Path:
    return state_dir / "shm"


def mount(state_dir: Path, size: int | None) -> Path:
    """Make (or find, after a reboot emptied it) the shareable tmpfs of a container; its path."""
    target = shm_dir(state_dir)
    target.mkdir(mode=0o700, exist_ok=True)
    if os.path.ismount(target):
        return target
    data = f"mode=1777,size={max((size or DEFAULT_SIZE) // 1024, 1)}k".encode()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"shm", str(target).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, data) != 0:
        raise PouchRuntimeError(f"--ipc shareable: mount a tmpfs at {target}: {os.strerror(ctypes.get_errno())}")
    return target


def unmount(state_dir: Path) -> None:
    """Unmount the shareable tmpfs if there is one (a joiner still running keeps its own bind of it)."""
    target = shm_dir(state_dir)
    if not os.path.ismount(target):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(str(target).encode(), _MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        raise PouchRuntimeError(f"umount {target}: {os.strerror(ctypes.get_errno())}")


def bind(spec: dict[str, Any], source: Path | str) -> None:
    """Make the spec's ``/dev/shm`` a bind of ``source`` instead of a tmpfs of its own."""
    shm = {"destination": "/dev/shm", "type": "bind", "source": str(source),
           "options": ["rbind", "rw", "nosuid", "nodev", "noexec"]}
    # in the place of the tmpfs it replaces: a mount under /dev/shm given by the user still comes after
    mounts = spec["mounts"]
    at = next((i for i, m in enumerate(mounts) if m["destination"] == "/dev/shm"), len(mounts))
    spec["mounts"] = [*mounts[:at], shm, *(m for m in mounts[at:] if m["destination"] != "/dev/shm")]
