"""The host's side of ``cp CONTAINER:PATH DEST``: the container's tar stream written under ``DEST``.

docker cp's rule: into an existing directory (as ``DEST/NAME``), else as ``DEST`` itself. The stream came
from a container and is hostile even though pouchsh made it (names, link targets, modes are the
container's), so it is not given to an extractor that follows anything:

- everything is written into a fresh temporary sibling of the final name and renamed onto it at the end,
  so a copy that fails (a bad entry, a full disk, Ctrl-C) leaves nothing; a kill -9 leaves only that
  sibling, which the next invocation removes (managers.hostwrite journals it);
- each entry is created relative to its directory's descriptor, reached from the temporary root one
  component at a time with ``O_NOFOLLOW`` (a link in the stream is never a way through), with
  ``O_EXCL`` for files: nothing that exists is written through;
- a symlink is made as a symlink with its target text unchanged (``/proc/mounts`` stays absolute), never
  followed; a hard link must name an earlier entry of the same stream;
- ownership is the caller's (no chown: a container cannot plant files owned by someone else), modes lose
  setuid, setgid, sticky and group/other write; device nodes are skipped (a container must not hand the
  host a node of its disks).
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from ctrd.errors import InvalidArgument, NotFound, PouchRuntimeError
from managers import faults
from managers.hostwrite import temp_sibling

__all__ = ["extract_on_host"]

_MODE_MASK = 0o755  # no setuid/setgid/sticky, no group or other write


def extract_on_host(stream: BinaryIO, destination: Path, root: Path) -> Path:
    """Write the tar ``stream`` (one top entry and what is under it) at ``destination`` by docker cp's
    rule; returns the path written. ``root``: the data root, whose intent journal names the temporary
    sibling while it exists."""
    try:
        return _extract(stream, destination, root)
    except tarfile.TarError as e:
        raise PouchRuntimeError(f"cp: a broken archive from the container: {e}") from None


def _extract(stream: BinaryIO, destination: Path, root: Path) -> Path:
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        members = iter(tar)
        first = next(members, None)
        if first is None:
            raise PouchRuntimeError("cp: the container sent nothing")
        top = _parts(first.name)  # [] for ``.``: PATH/. copies what is in the directory (docker's rule)
        if len(top) > 1 or (not top and not first.isdir()):
            raise PouchRuntimeError(f"cp: unexpected first entry {first.name[:200]!r}")
        final = destination / top[0] if top and destination.is_dir() else destination
        if not final.parent.is_dir():
            raise NotFound(f"cp: no such directory: {final.parent}")
        if first.isdir() and final.exists() and not final.is_dir():
            raise InvalidArgument(f"cp: cannot overwrite non-directory {final} with a directory")
        if not first.isdir() and final.is_dir():
            raise InvalidArgument(f"cp: cannot overwrite directory {final} with a non-directory")
        with temp_sibling(final, root, "cp") as temp:
            writer = _Writer(temp, top)
            try:
                writer.member(first, tar)
                faults.point("cp.host.partial")
                for m in members:
                    writer.member(m, tar)
                writer.finish()
                _install(temp, final)
            finally:
                writer.close()
    return final


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or any("\0" in p for p in parts):
        raise PouchRuntimeError(f"cp: refusing the entry {name[:200]!r}: it names a place outside the copy")
    return parts


def _install(temp: Path, final: Path) -> None:
    """Put the finished copy in place: a rename, or, onto an existing directory, docker's merge."""
    if final.is_dir() and not final.is_symlink() and temp.is_dir() and not temp.is_symlink():
        _merge(temp, final)
        shutil.rmtree(temp)
        return
    os.replace(temp, final)


def _merge(source: Path, into: Path) -> None:
    for entry in sorted(os.listdir(source)):
        src, dst = source / entry, into / entry
        if src.is_dir() and not src.is_symlink() and dst.is_dir() and not dst.is_symlink():
            _merge(src, dst)
        else:
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            os.replace(src, dst)


class _Writer:
    """Creates the stream's entries under ``temp`` (the stream's top entry becomes ``temp`` itself)."""

    def __init__(self, temp: Path, top: list[str]) -> None:
        self.temp = temp
        self.top = top  # the name every entry starts with: [NAME], or [] when it is the ``.`` of a directory
        self.parent = os.open(temp.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.root: int | None = None  # the temporary directory, once the top entry is one
        self.dir_modes: list[tuple[list[str], int, float]] = []

    def close(self) -> None:
        for fd in (self.root, self.parent):
            if fd is not None:
                os.close(fd)
        self.root = None

    def member(self, m: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        parts = _parts(m.name)
        if parts[: len(self.top)] != self.top:
            raise PouchRuntimeError(f"cp: unexpected entry {m.name[:200]!r} outside {'/'.join(self.top)!r}")
        rel = parts[len(self.top):]
        if not rel:
            if self.root is not None:
                raise PouchRuntimeError(f"cp: entry {m.name[:200]!r} twice")
            dir_fd, name = self.parent, self.temp.name
        elif self.root is None:
            raise PouchRuntimeError(f"cp: entry {m.name[:200]!r} under a non-directory")
        else:
            dir_fd, name = self._dir(rel[:-1]), rel[-1]
        try:
            self._create(dir_fd, name, m, tar, rel)
        finally:
            if dir_fd not in (self.parent, self.root):
                os.close(dir_fd)
        if not rel and m.isdir():
            self.root = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.parent)

    def _dir(self, parts: list[str]) -> int:
        """The directory ``parts`` under the copy's root, each component opened without following a link."""
        assert self.root is not None
        fd = os.dup(self.root)
        try:
            for part in parts:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except OSError:
            os.close(fd)
            raise
        return fd

    def _create(self, dir_fd: int, name: str, m: tarfile.TarInfo, tar: tarfile.TarFile, rel: list[str]) -> None:
        mode = m.mode & _MODE_MASK
        if m.isdir():
            os.mkdir(name, 0o700, dir_fd=dir_fd)  # its own mode at the end, once its entries are in
            self.dir_modes.append((rel, mode, float(m.mtime)))
            return
        if m.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                source = tar.extractfile(m)
                assert source is not None
                with os.fdopen(os.dup(fd), "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.fchmod(fd, mode | stat.S_IRUSR | stat.S_IWUSR)
                os.utime(fd, (float(m.mtime), float(m.mtime)))
            finally:
                os.close(fd)
        elif m.issym():
            os.symlink(m.linkname, name, dir_fd=dir_fd)
            os.utime(name, (float(m.mtime), float(m.mtime)), dir_fd=dir_fd, follow_symlinks=False)
        elif m.islnk():
            target = _parts(m.linkname)
            if target[: len(self.top)] != self.top or len(target) <= len(self.top) or self.root is None:
                raise PouchRuntimeError(f"cp: hard link {m.name[:200]!r} to {m.linkname[:200]!r} outside the copy")
            target = target[len(self.top):]
            src_dir = self._dir(target[:-1])
            try:
                os.link(target[-1], name, src_dir_fd=src_dir, dst_dir_fd=dir_fd, follow_symlinks=False)
            finally:
                os.close(src_dir)
        elif m.isfifo():
            os.mkfifo(name, mode, dir_fd=dir_fd)
        # character and block devices are not made on the host (see the module's docstring)

    def finish(self) -> None:
        """Give the directories their modes and times, deepest first (a mode without write permission
        would have stopped their own entries from being made)."""
        for rel, mode, mtime in sorted(self.dir_modes, key=lambda d: -len(d[0])):
            if rel:
                assert self.root is not None
                parent = self._dir(rel[:-1])
                try:
                    fd = os.open(rel[-1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                finally:
                    os.close(parent)
            else:
                fd = os.open(self.temp.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.parent)
            try:
                os.fchmod(fd, mode | stat.S_IRWXU)
                os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)

