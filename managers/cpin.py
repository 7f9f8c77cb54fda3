"""``cp ... CONTAINER:PATH``: a tar stream extracted into a container, by the host, without ever writing
outside the container's root or through a link.

The archive is checked whole before anything is written: a member named with ``..`` or a device node is
refused (an absolute name is taken relative to the destination, as GNU tar does), a hard link must name a
file extracted earlier by the same archive, and the members and bytes are bounded (``CopyLimits``). Then
each member is created relative to the descriptor of its directory: directories on the way are opened
with ``O_NOFOLLOW`` (a symlink there, whether the archive or the container put it, refuses the member
rather than being written through), files are created ``O_EXCL | O_NOFOLLOW`` after the old entry is
unlinked, and links are created as links (their targets are data in the container, never followed).
Ownership comes from the numeric ids of the headers only (set with ``fchown`` on the descriptor; no
name is looked up), then the mode, setuid and setgid bits included, as docker keeps them.

Device nodes are refused although docker creates them: a node made by the host's root in a directory
that may be a host volume is a way to the host's disks, and no ``cp`` use needs one.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
import zlib
from typing import BinaryIO

from ctrd.errors import InvalidArgument
from managers.cplimits import CopyLimits
from managers.safepath import Root, split

__all__ = ["untar_into"]

_KINDS = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
          tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.GNUTYPE_SPARSE}


def untar_into(root: Root, path: str, stream: BinaryIO, limits: CopyLimits, *, rename: bool = True) -> int:
    """Extract the tar ``stream`` (seekable) into ``path`` of the container; returns the content bytes
    written. With ``rename``, a ``path`` that is not a directory names the copy of the archive's top entry
    (docker cp's rule for ``cp FILE c:/dir/newname``); without, ``path`` must be a directory."""
    try:
        tar = tarfile.open(fileobj=stream, mode="r:*")
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise InvalidArgument(f"cp: the input is not a tar archive (plain, gzip, bzip2 or xz): {_reason(e)}") from None
    with tar:
        members = _checked(tar, limits)
        if tar.fileobj is stream:  # uncompressed: a member cut short is seen before anything is written
            end = stream.seek(0, os.SEEK_END)
            short = next((m for m in members if m.isreg() and m.offset_data + m.size > end), None)
            if short is not None:
                raise InvalidArgument(f"cp: the archive is damaged: member {short.name!r} is cut short")
        dest, new_name = _destination(root, path, rename)
        try:
            if new_name is not None:
                for m in members:
                    top, sep, rest = m.name.partition("/")
                    m.name = new_name + sep + rest
                    if m.islnk():
                        top, sep, rest = m.linkname.partition("/")
                        m.linkname = new_name + sep + rest
            _Extractor(tar, dest).run(members)
        except (tarfile.TarError, EOFError, zlib.error) as e:
            # A member's data cut short or corrupt: what came before it stays, as with tar itself.
            raise InvalidArgument(f"cp: the archive is damaged: {_reason(e)}") from None
        finally:
            os.close(dest)
    return limits.seen_bytes


def _reason(err: BaseException) -> str:
    """The first line of a library's message, short: the user sees one line, not the library's report."""
    lines = str(err).strip().splitlines()
    return (lines[-1] if lines else type(err).__name__).strip()[:200]


def _clean(name: str, what: str) -> str:
    parts = split(name)
    if ".." in parts:
        raise InvalidArgument(f"cp: archive member {what!r} names '..': refused")
    return "/".join(parts)


def _checked(tar: tarfile.TarFile, limits: CopyLimits) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    files: set[str] = set()
    try:
        for m in tar:
            limits.count(m.size if m.isreg() else 0)
            original = m.name
            m.name = _clean(m.name, original)
            if not m.name:
                if m.isdir():
                    continue  # "." or "/": the destination itself
                raise InvalidArgument(f"cp: archive member {original!r} has no name")
            if m.type not in _KINDS:
                what = "a device node" if m.ischr() or m.isblk() else f"of type {m.type!r}"
                raise InvalidArgument(f"cp: archive member {original!r} is {what}: refused")
            if m.islnk():
                m.linkname = _clean(m.linkname, original)
                if m.linkname not in files:
                    raise InvalidArgument(
                        f"cp: archive member {original!r} is a hard link to {m.linkname!r}, which is not a "
                        "file extracted before it by the same archive: refused")
            if m.isreg() or m.islnk():
                files.add(m.name)
            else:
                files.discard(m.name)
            members.append(m)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise InvalidArgument(f"cp: the archive is damaged: {_reason(e)}") from None
    return members


def _destination(root: Root, path: str, rename: bool) -> tuple[int, str | None]:
    """The directory to extract into (a descriptor) and the name the top entry takes (None: its own)."""
    try:
        return root.open(path, os.O_RDONLY | os.O_DIRECTORY), None
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        if not rename or path.endswith("/"):  # docker cp: DEST/ must be an existing directory
            raise InvalidArgument(f"cp: destination {path} is not a directory in the container") from None
    parts = split(path)
    if not parts or parts[-1] == "..":
        raise InvalidArgument(f"cp: destination {path} is not a directory in the container")
    parent = "/" + "/".join(parts[:-1])
    try:
        return root.open(parent, os.O_RDONLY | os.O_DIRECTORY), parts[-1]
    except OSError:
        raise InvalidArgument(f"cp: destination directory {parent} does not exist in the container") from None


class _Extractor:
    def __init__(self, tar: tarfile.TarFile, dest: int) -> None:
        self.tar = tar
        self.dest = dest
        self.dirs: list[tarfile.TarInfo] = []

    def run(self, members: list[tarfile.TarInfo]) -> None:
        for m in members:
            self.member(m)
        # Directory times and modes last, deepest first: extracting into them changed their mtime, and a
        # read-only mode must not stop what goes inside.
        for m in sorted(self.dirs, key=lambda d: d.name.count("/"), reverse=True):
            try:
                fd = self._dir(m.name, create=False)
            except InvalidArgument:
                continue
            try:
                self._own(fd, m)
                os.utime(fd, (m.mtime, m.mtime))
            finally:
                os.close(fd)

    def _dir(self, rel: str, *, create: bool) -> int:
        """An ``O_RDONLY`` descriptor of directory ``rel`` under the destination, every component opened
        with ``O_NOFOLLOW`` (and made when missing, with ``create``)."""
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.dest)
        try:
            for part in split(rel):
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass  # made meanwhile; opened with O_NOFOLLOW below all the same
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nxt
            return fd
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise InvalidArgument(f"cp: {rel!r} is a symlink or not a directory in the container: "
                                      "nothing is written through it") from None
            if e.errno == errno.ENOENT:
                raise InvalidArgument(f"cp: {rel!r} does not exist in the container") from None
            raise

    def member(self, m: tarfile.TarInfo) -> None:
        parent_rel, name = posixpath.split(m.name)
        parent = self._dir(parent_rel, create=True)
        try:
            if m.isdir():
                self._directory(parent, name, m)
                return
            self._clear(parent, name, m.name)
            if m.isreg():
                self._file(parent, name, m)
            elif m.issym():
                os.symlink(m.linkname, name, dir_fd=parent)
                os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
                os.utime(name, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
            elif m.islnk():
                src_rel, src_name = posixpath.split(m.linkname)
                src = self._dir(src_rel, create=False)
                try:
                    # follow_symlinks=False: should the container swap the file for a link meanwhile, the
                    # new name is that link, not its target.
                    os.link(src_name, name, src_dir_fd=src, dst_dir_fd=parent, follow_symlinks=False)
                finally:
                    os.close(src)
            elif m.isfifo():
                os.mkfifo(name, 0o600, dir_fd=parent)
                fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                try:
                    self._own(fd, m)
                finally:
                    os.close(fd)
        finally:
            os.close(parent)

    def _clear(self, parent: int, name: str, rel: str) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"cp: cannot overwrite directory {rel!r} with a non-directory")
        os.unlink(name, dir_fd=parent)

    def _directory(self, parent: int, name: str, m: tarfile.TarInfo) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent)  # a file or a link gives way to the directory
                os.mkdir(name, 0o700, dir_fd=parent)
        self.dirs.append(m)

    def _file(self, parent: int, name: str, m: tarfile.TarInfo) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        try:
            source = self.tar.extractfile(m)
            written = 0
            if source is not None:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            if written != m.size:
                os.unlink(name, dir_fd=parent)
                raise InvalidArgument(f"cp: the archive is damaged: member {m.name!r} is cut short")
            self._own(fd, m)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    @staticmethod
    def _own(fd: int, m: tarfile.TarInfo) -> None:
        # Owner first: chown clears setuid and setgid, so the mode (with them) goes after.
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
