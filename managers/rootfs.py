"""A container's root filesystem seen from the host: one file of a fresh snapshot, and the root of a
running or stopped container held as a descriptor for ``cp``.

Nothing here chroots, runs a program inside the root or looks a name up there: the root is a descriptor
and every path in it is resolved with ``managers.safepath`` (it cannot leave the root). A running
container's root is ``/proc/<pid>/root`` (which also shows its volumes). A stopped one's snapshot is
mounted as a *detached* mount (``fsopen``/``fsmount``, or ``open_tree`` for a bind): it is attached to
no directory and lives exactly as long as its descriptor, so a ``kill -9`` mid-copy closes the descriptor
and the kernel takes the mount away; there is nothing to leak and nothing to reconcile. ``export`` mounts
a snapshot the same way, running or not, as a read-only view (the upper directory as one more lower
layer), which shows the container's own files without its volumes or /proc. Reading a file of
a just-prepared snapshot (``/etc/passwd`` to resolve a user) needs no mount: the overlay's layers are
plain directories, searched top down.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument, NotFound, PouchRuntimeError
from managers.safepath import Root, overlay_opaque, split

__all__ = ["layer_dirs", "process_root", "read_in_root", "read_layered", "snapshot_root"]

_SYS_OPEN_TREE, _SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 428, 430, 431, 432
_OPEN_TREE_CLONE = 1
_AT_RECURSIVE = 0x8000
_FSOPEN_CLOEXEC = 1
_FSMOUNT_CLOEXEC = 1
_FSCONFIG_SET_FLAG, _FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 0, 1, 6
_MOUNT_ATTR_RDONLY = 1
_AT_FDCWD = -100


def _field(m: Any, name: str) -> Any:
    return getattr(m, name) if hasattr(m, name) else m.get(name)


def _options(m: Any) -> list[str]:
    return list(_field(m, "options") or [])


def layer_dirs(mounts: Sequence[Any]) -> list[Path]:
    """Directories of an overlay (upper first, then lowers top down) or of a bind mount."""
    dirs: list[Path] = []
    for m in mounts:
        if _field(m, "type") == "bind":
            dirs.append(Path(_field(m, "source")))
            continue
        opts = _options(m)
        for o in opts:
            if o.startswith("upperdir="):
                dirs.append(Path(o.split("=", 1)[1]))
        for o in opts:
            if o.startswith("lowerdir="):
                dirs += [Path(p) for p in o.split("=", 1)[1].split(":")]
    return dirs


def read_layered(mounts: Sequence[Any], path: str, limit: int = 1 << 20) -> bytes | None:
    """The content of ``path`` (absolute, in the container) from the topmost layer holding it, or None.

    Each layer is walked one component at a time without following anything: a symlink anywhere on the
    way, a whiteout, or a non-directory where a directory should be gives None (the merged view would
    not show a lower layer's file there either, and a link is the image's to follow, not the host's). An
    opaque directory hides the layers below it. A file over ``limit`` bytes is refused."""
    parts = split(path)
    if not parts or ".." in parts:
        return None
    for d in layer_dirs(mounts):
        found, data = _read_in_layer(d, parts, limit, path)
        if found:
            return data
    return None


def _read_in_layer(layer: Path, parts: list[str], limit: int, path: str) -> tuple[bool, bytes | None]:
    """(whether this layer decides, the content). A layer that lacks a component leaves it to the next
    one unless a directory on the way is opaque."""
    try:
        fd = os.open(layer, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False, None
    try:
        opaque = False  # an opaque directory anywhere on the way hides the lower layers' subtree
        for i, name in enumerate(parts):
            opaque = opaque or overlay_opaque(fd)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return opaque, None
            last = i == len(parts) - 1
            if last and stat.S_ISREG(st.st_mode):
                return True, _read_file(fd, name, limit, path)
            if last or not stat.S_ISDIR(st.st_mode):
                return True, None  # a link, a whiteout (char 0:0) or a file where a directory should be
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return True, None
    except OSError:
        return True, None
    finally:
        os.close(fd)


def _read_file(dir_fd: int, name: str, limit: int, path: str) -> bytes | None:
    # O_NONBLOCK: a FIFO swapped in must not hang the host; O_NOFOLLOW: nor may a link swapped in.
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    return _read_regular(fd, limit, path)


def _read_regular(fd: int, limit: int, path: str) -> bytes | None:
    """The content of the open ``fd`` (closed here) if it is a regular file of at most ``limit`` bytes."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _read_bounded(fd, limit, path)
    finally:
        os.close(fd)


def _read_bounded(fd: int, limit: int, path: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (data := os.read(fd, limit + 1 - size)):
        chunks.append(data)
        size += len(data)
    if size > limit:
        raise InvalidArgument(f"the image's {path} is larger than {limit} bytes")
    return b"".join(chunks)


def read_in_root(root: Root, path: str, limit: int = 1 << 20) -> bytes | None:
    """A regular file of a container (``/etc/passwd`` for ``exec -u``), links followed inside its root
    only; None when it is missing or not a regular file."""
    try:
        fd = root.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    return _read_regular(fd, limit, path)


@contextmanager
def process_root(pid: int) -> Iterator[Root]:
    """The root of a running container's init process, as its mount namespace shows it."""
    try:
        fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise NotFound(f"the container's process {pid} is gone: {os.strerror(e.errno or 0)}") from None
    try:
        yield Root(fd)
    finally:
        os.close(fd)


def _syscall() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            raise PouchRuntimeError(f"{what}: this kernel lacks the mount API pouchsh needs (Linux 5.2 or later)")
        raise PouchRuntimeError(f"{what}: {os.strerror(err)}")
    return result


def _layers_only(options: list[str]) -> list[str]:
    """An overlay's options with its upper directory as the topmost lower one and no work directory:
    a read-only view of the same files that takes no hold of the upper directory, so it can be mounted
    while the container's own overlay is (the kernel refuses, or warns of undefined behaviour for, an
    upper directory in use twice)."""
    values = dict(o.partition("=")[::2] for o in options if "=" in o)
    if "upperdir" not in values or "lowerdir" not in values:
        return options
    rest = [o for o in options if o.partition("=")[0] not in ("upperdir", "workdir", "lowerdir")]
    return [*rest, f"lowerdir={values['upperdir']}:{values['lowerdir']}"]


@contextmanager
def snapshot_root(mounts: Sequence[Any], *, readonly: bool = False, view: bool = False) -> Iterator[Root]:
    """A container's root: its snapshot mounted detached, for the duration of the block. ``view``
    mounts a read-only view of it that may be made while the container runs (``export``)."""
    if len(mounts) != 1:
        raise PouchRuntimeError(f"mounting the container's filesystem: {len(mounts)} mounts, expected one")
    (m,) = mounts
    kind, source = _field(m, "type") or "none", str(_field(m, "source"))
    syscall = _syscall()
    what = "mounting the container's filesystem"
    if kind == "bind":
        # A bind (a single-layer view) is only ever read here; its source is containerd's directory.
        fd = _check(syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source),
                            _OPEN_TREE_CLONE | os.O_CLOEXEC | _AT_RECURSIVE), what)
    else:
        fsfd = _check(syscall(_SYS_FSOPEN, kind.encode(), _FSOPEN_CLOEXEC), what)
        options = _layers_only(_options(m)) if view and kind == "overlay" else _options(m)
        readonly = readonly or view
        try:
            for opt in options:
                if opt in ("ro", "rw"):
                    continue
                key, sep, value = opt.partition("=")
                if sep:
                    _check(syscall(_SYS_FSCONFIG, fsfd, _FSCONFIG_SET_STRING, key.encode(), value.encode(), 0), what)
                else:
                    _check(syscall(_SYS_FSCONFIG, fsfd, _FSCONFIG_SET_FLAG, key.encode(), None, 0), what)
            _check(syscall(_SYS_FSCONFIG, fsfd, _FSCONFIG_CMD_CREATE, None, None, 0), what)
            fd = _check(syscall(_SYS_FSMOUNT, fsfd, _FSMOUNT_CLOEXEC, _MOUNT_ATTR_RDONLY if readonly else 0), what)
        finally:
            os.close(fsfd)
    try:
        yield Root(int(fd))
    finally:
        os.close(fd)
