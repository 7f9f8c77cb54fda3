"""docker's copy-up: an empty volume mounted over a directory of the image starts with that directory's
content, owner and mode, so an image whose process runs as a non-root user can write to its own volume.

The image is hostile. Its directory is read from a read-only mount of the container's new snapshot
(managers.rootfs) through a ``Root``: the mount point's path is resolved inside the root (a link in it
stays inside), and every entry under it is opened relative to its directory's descriptor with
``O_NOFOLLOW``; links are copied as links (their text unchanged, never followed), devices are not made,
ids are the numeric ones of the snapshot (no name is looked up) and the bytes and entries copied are
bounded (managers.cplimits).

Crash safety: the copy is made in ``_data.copyup-PID`` beside the volume's ``_data`` and renamed onto it
(a rename replaces an empty directory atomically), so ``_data`` is either empty or complete. A copy
killed half-way leaves ``_data`` empty: the next container that mounts the volume copies again, and
removes the half-made copy of the dead process first. Two processes seeding one volume at once both
copy; the second rename finds ``_data`` full and its copy is dropped.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from managers import faults
from managers.cplimits import CopyLimits
from managers.safepath import Root

__all__ = ["is_empty", "seed"]

_PREFIX = "_data.copyup-"
_CHUNK = 1 << 20


def seed(root: Root, path: str, data: Path, limits: CopyLimits) -> bool:
    """Fill the empty volume directory ``data`` from the directory ``path`` of ``root``; False (nothing
    done) when ``data`` is not empty or the image has no directory there."""
    _clear_dead(data.parent)
    if not is_empty(data):
        return False
    try:
        src = root.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return False  # nothing of the image there (or not a directory): the volume stays empty
        raise
    temp = data.parent / f"{_PREFIX}{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        st = os.fstat(src)
        os.mkdir(temp, 0o700)
        dst = os.open(temp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            _Copier(limits).tree(src, dst)
            _own(dst, st)
        finally:
            os.close(dst)
        faults.point("volume.copyup.copied")
        try:
            os.rename(temp, data)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(temp, ignore_errors=True)  # another process seeded it meanwhile
            return False
        return True
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        os.close(src)


def is_empty(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return next(entries, None) is None


def _clear_dead(volume_dir: Path) -> None:
    """Half-made copies of processes that are gone (a kill -9 during a copy)."""
    for entry in os.listdir(volume_dir):
        if not entry.startswith(_PREFIX):
            continue
        pid = entry[len(_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue  # another process is copying now
        shutil.rmtree(volume_dir / entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _own(fd: int, st: os.stat_result) -> None:
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


class _Copier:
    def __init__(self, limits: CopyLimits) -> None:
        self.limits = limits

    def tree(self, src: int, dst: int) -> None:
        for name in sorted(os.listdir(src)):
            try:
                self.entry(src, dst, name)
            except FileNotFoundError:
                continue  # a whiteout's name or a file gone from the view: as if it never was

    def entry(self, src: int, dst: int, name: str) -> None:
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            self.limits.count(0)
            sfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            try:
                os.mkdir(name, 0o700, dir_fd=dst)
                dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
                try:
                    self.tree(sfd, dfd)
                    _own(dfd, os.fstat(sfd))
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
        elif stat.S_ISREG(mode):
            self.file(src, dst, name)
        elif stat.S_ISLNK(mode):
            self.limits.count(0)
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        elif stat.S_ISFIFO(mode):
            self.limits.count(0)
            os.mkfifo(name, 0o600, dir_fd=dst)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst)
        # devices and sockets: not made on the host (a volume is a host directory)

    def file(self, src: int, dst: int, name: str) -> None:
        # O_NONBLOCK: a FIFO in its place cannot hang the copy (the view is read-only, but be sure)
        sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
        try:
            st = os.fstat(sfd)
            if not stat.S_ISREG(st.st_mode):
                return
            self.limits.count(st.st_size)
            dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dst)
            try:
                left = st.st_size  # never more than the size counted, whatever the file does meanwhile
                while left > 0:
                    chunk = os.read(sfd, min(_CHUNK, left))
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(dfd, view):]
                    left -= len(chunk)
                _own(dfd, st)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
