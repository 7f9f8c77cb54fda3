"""Paths inside a container's root, resolved so that they cannot leave it.

Every path a container controls is resolved relative to a file descriptor of its root with
``openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)``: a symlink (absolute or relative) and ``..`` are
taken as if the root were ``/``, so ``/etc -> /`` or ``a/../../..`` stay inside. Where the kernel lacks
openat2 (before Linux 5.6), an equivalent walk does the same one component at a time with
``O_PATH | O_NOFOLLOW``, reading each link itself and restarting absolute ones at the root. Callers then act
on the last component through the returned directory descriptor (``*at`` calls, ``O_NOFOLLOW``), so a link
swapped in during a copy can at worst redirect it to another place inside the same root.

``POUCHSH_PATH_WALK=1`` forces the walk (the tests run both resolvers).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from typing import Any

__all__ = ["MAX_LINKS", "Root", "openat2_supported", "overlay_opaque", "split"]

MAX_LINKS = 40  # the kernel's own limit on links followed in one lookup (ELOOP past it)

_SYS_OPENAT2 = 437  # x86_64 and the generic table alike
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
_RETRIES = 64


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc: Any = None
_has_openat2: bool | None = None


def _syscall() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall


def _openat2(dirfd: int, path: str, flags: int, mode: int = 0) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, mode, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    for _ in range(_RETRIES):
        fd = _syscall()(_SYS_OPENAT2, dirfd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        # EAGAIN: a rename raced the lookup (the kernel refuses rather than risk an escape); try again,
        # a bounded number of times, so that a container renaming in a loop cannot hold the copy forever.
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, "the container kept renaming directories on the path", path)


def openat2_supported() -> bool:
    global _has_openat2
    if _has_openat2 is None:
        root = os.open("/", os.O_PATH | os.O_CLOEXEC)
        try:
            os.close(_openat2(root, ".", os.O_PATH))
            _has_openat2 = True
        except OSError as e:
            # ENOSYS: before Linux 5.6; EPERM: a seccomp filter that does not know the call
            if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
                raise
            _has_openat2 = False
        finally:
            os.close(root)
    return _has_openat2


def split(path: str) -> list[str]:
    """The components of a path in a container, ``.`` and empty ones dropped (``..`` kept)."""
    return [p for p in path.split("/") if p not in ("", ".")]


class Root:
    """A container's root, held as a descriptor; paths given to it are inside it whatever they say."""

    def __init__(self, fd: int, *, walk: bool | None = None) -> None:
        self.fd = fd
        if walk is None:
            walk = os.environ.get("POUCHSH_PATH_WALK") == "1" or not openat2_supported()
        self.walk = walk

    def open(self, path: str, flags: int, *, follow: bool = True, mode: int = 0) -> int:
        """Open ``path`` in the root. With ``follow=False`` a final symlink is not followed: with
        ``O_PATH`` the link itself is opened, otherwise the open fails (ELOOP)."""
        if not follow:
            flags |= os.O_NOFOLLOW
        if not self.walk:
            return _openat2(self.fd, "/".join(split(path)) or ".", flags, mode)
        return self._walk_open(path, flags, follow, mode)

    def parent(self, path: str) -> tuple[int, str]:
        """The directory holding ``path``'s last component (resolved in the root, links followed) as an
        ``O_PATH`` descriptor, and that component itself (``.`` for the root)."""
        parts = split(path)
        if parts and parts[-1] == "..":
            raise OSError(errno.EINVAL, "a path ending in '..' names no entry", path)
        if not parts:
            return os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd), "."
        return self.open("/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY), parts[-1]

    def _walk_open(self, path: str, flags: int, follow: bool, mode: int) -> int:
        pending = split(path)
        stack = [os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)]
        links = 0
        try:
            while pending:
                name = pending.pop(0)
                if name == "..":
                    if len(stack) > 1:  # ``..`` at the root stays there, as RESOLVE_IN_ROOT does
                        os.close(stack.pop())
                    continue
                last = not pending
                failed: OSError | None = None
                if last and not (flags & os.O_PATH and not flags & os.O_DIRECTORY and not follow):
                    # The last component is opened as asked, never following a link (O_NOFOLLOW):
                    # a link found here is resolved by the loop, one read at a time.
                    try:
                        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=stack[-1])
                    except OSError as e:
                        if e.errno not in (errno.ELOOP, errno.ENOTDIR) or not follow:
                            raise
                        failed = e
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
                st = os.fstat(fd)
                if failed is not None and not stat.S_ISLNK(st.st_mode):
                    os.close(fd)  # not a link after all (or no longer): the open's own error stands
                    raise failed
                if stat.S_ISLNK(st.st_mode) and (follow or not last):
                    target = os.readlink("", dir_fd=fd)
                    os.close(fd)
                    links += 1
                    if links > MAX_LINKS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop())
                    pending = split(target) + pending
                    continue
                if last:
                    return fd  # only an O_PATH open of a link itself gets here
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
                stack.append(fd)
            # The path was the root itself (or resolved back to a directory on the stack).
            return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=stack[-1])
        finally:
            for fd in stack:
                os.close(fd)


#: the xattr overlayfs sets on a directory of an upper layer that hides everything below it
_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")


def overlay_opaque(fd: int) -> bool:
    """Whether the directory open on ``fd`` is an opaque directory of an overlay layer."""
    for attr in _OPAQUE:
        try:
            if os.getxattr(fd, attr) == b"y":
                return True
        except OSError:
            continue
    return False
