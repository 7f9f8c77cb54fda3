"""``cp CONTAINER:PATH ...``: a tar stream of a file or directory of a container, as ``docker cp`` makes it.

The entry is named by its basename; a directory goes recursively; a symlink is archived as a symlink (the
last component of PATH too, unless PATH ends in ``/`` or ``/.``, or ``cp -L`` asks to follow that one,
inside the root), never followed. Every entry is opened
relative to its directory's descriptor with ``O_NOFOLLOW``, under a root resolved by ``managers.safepath``,
so nothing outside the root is ever read. Headers carry numeric ids only: no user or group name is looked
up, here or anywhere in the container.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
from typing import BinaryIO

from managers.cplimits import CopyLimits
from managers.safepath import Root, split

__all__ = ["tar_from", "tar_tree"]

_CHUNK = 1 << 20


def tar_from(root: Root, path: str, out: BinaryIO, limits: CopyLimits, *, follow_link: bool = False) -> int:
    """Write the tar stream of ``path`` to ``out``; returns the content bytes archived. ``follow_link``
    (``cp -L``): a link at ``path`` is followed, inside the root (links under it are still archived as
    links). OSError from the walk propagates (the caller names the path)."""
    name = posixpath.basename(path.rstrip("/")) or "."
    follow = path.endswith("/") or path.endswith("/.") or not split(path)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        walker = _Walker(tar, limits)
        if follow:
            fd = root.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                walker.directory(fd, name, os.fstat(fd))
            finally:
                os.close(fd)
        elif follow_link:
            # Resolved in the root (a link to / or ../.. names the root itself); O_NONBLOCK so that a
            # FIFO found at the end cannot hang the copy; what it is decides how it is archived.
            fd = root.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode):
                    walker.directory(fd, name, st)
                elif stat.S_ISREG(st.st_mode):
                    walker.file_fd(fd, name, st)
                else:
                    raise OSError(errno.EINVAL, "not a file or directory", path)
            finally:
                os.close(fd)
        else:
            parent, last = root.parent(path)
            try:
                walker.entry(parent, last, name)
            finally:
                os.close(parent)
    return limits.seen_bytes


def tar_tree(root: Root, out: BinaryIO, limits: CopyLimits) -> int:
    """Write the tar stream of the whole of ``root`` (``export``): its entries named from the top
    (``bin``, ``bin/sh``), as docker's export names them; returns the content bytes archived."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        walker = _Walker(tar, limits)
        fd = root.open("/", os.O_RDONLY | os.O_DIRECTORY)
        try:
            for child in sorted(os.listdir(fd)):
                try:
                    walker.entry(fd, child, child)
                except FileNotFoundError:
                    continue  # removed by the container while we walked
        finally:
            os.close(fd)
    return limits.seen_bytes


class _Walker:
    def __init__(self, tar: tarfile.TarFile, limits: CopyLimits) -> None:
        self.tar = tar
        self.limits = limits
        self.links: dict[tuple[int, int], str] = {}

    def _info(self, arcname: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(arcname)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""  # numeric only: a name would need a lookup
        info.mtime = int(st.st_mtime)
        return info

    def entry(self, dir_fd: int, name: str, arcname: str) -> None:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                self.directory(fd, arcname, os.fstat(fd))
            finally:
                os.close(fd)
        elif stat.S_ISREG(mode):
            self.file(dir_fd, name, arcname)
        elif stat.S_ISLNK(mode):
            info = self._info(arcname, st, tarfile.SYMTYPE)
            info.linkname = os.readlink(name, dir_fd=dir_fd)
            self.limits.count(0)
            self.tar.addfile(info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            kind = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE if stat.S_ISBLK(mode) else tarfile.FIFOTYPE
            info = self._info(arcname, st, kind)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.limits.count(0)
            self.tar.addfile(info)
        # sockets have no archive form (docker skips them too)

    def directory(self, fd: int, arcname: str, st: os.stat_result) -> None:
        self.limits.count(0)
        self.tar.addfile(self._info(arcname, st, tarfile.DIRTYPE))
        for child in sorted(os.listdir(fd)):
            try:
                self.entry(fd, child, f"{arcname}/{child}")
            except FileNotFoundError:
                continue  # removed by the container while we walked: as if it never was

    def file(self, dir_fd: int, name: str, arcname: str) -> None:
        # O_NONBLOCK: a FIFO swapped in for the file must not hang the copy (it is skipped below).
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return
            self.file_fd(fd, arcname, st)
        finally:
            os.close(fd)

    def file_fd(self, fd: int, arcname: str, st: os.stat_result) -> None:
        """The regular file open on ``fd`` (the caller closes it)."""
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            info = self._info(arcname, st, tarfile.LNKTYPE)
            info.linkname = self.links[key]
            self.limits.count(0)
            self.tar.addfile(info)
            return
        if st.st_nlink > 1:
            self.links[key] = arcname
        info = self._info(arcname, st, tarfile.REGTYPE)
        info.size = st.st_size
        self.limits.count(st.st_size)
        self.tar.addfile(info, _Exact(fd, st.st_size))


class _Exact:
    """Exactly ``size`` bytes of a file that the container may grow or shrink meanwhile: a shrunk one is
    padded with zeros, a grown one cut, so the archive stays well formed."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.left = size

    def read(self, n: int = -1) -> bytes:
        want = min(self.left if n < 0 else min(n, self.left), _CHUNK)
        parts: list[bytes] = []
        got = 0
        while got < want:
            data = os.read(self.fd, want - got) or b"\0" * (want - got)
            parts.append(data)
            got += len(data)
        self.left -= got
        return b"".join(parts)
