"""A container's root filesystem seen from the host: reading files of a fresh snapshot, mounting it, and
the tar streams of ``cp``.

A running container's filesystem is reached through ``/proc/<pid>/root`` (which also shows its volumes);
a stopped one's by mounting its snapshot mounts on a private temporary directory. Reading a single file
of a just-prepared snapshot (``/etc/passwd`` to resolve a user) needs no mount: the overlay's layers are
plain directories, searched top down.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from ctrd.errors import InvalidArgument, NotFound, PouchRuntimeError

__all__ = ["layer_dirs", "mounted", "read_layered", "tar_from", "untar_into"]

_MNT_DETACH = 2


def _options(m: Any) -> list[str]:
    return list(m.options if hasattr(m, "options") else m.get("options", []))


def layer_dirs(mounts: Sequence[Any]) -> list[Path]:
    """Directories of an overlay (upper first, then lowers top down) or of a bind mount."""
    dirs: list[Path] = []
    for m in mounts:
        kind = m.type if hasattr(m, "type") else m.get("type")
        source = m.source if hasattr(m, "source") else m.get("source")
        if kind == "bind":
            dirs.append(Path(source))
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
    Symlinks are not followed (``/etc/passwd`` is a regular file in every image that has one)."""
    rel = PurePosixPath(path).relative_to("/")
    for d in layer_dirs(mounts):
        candidate = d / rel
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if not os.path.isfile(candidate) or os.path.islink(candidate):
            return None  # a whiteout (char device) or something other than a file hides lower layers
        with open(candidate, "rb") as f:
            return f.read(min(limit, st.st_size))
    return None


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@contextmanager
def mounted(mounts: Sequence[Any], *, readonly: bool = False) -> Iterator[Path]:
    """Mount a snapshot's mounts on a temporary directory for the duration of the block."""
    libc = _libc()
    target = Path(tempfile.mkdtemp(prefix="pouchsh-rootfs-"))
    done: list[bytes] = []
    try:
        for m in mounts:
            kind = m.type if hasattr(m, "type") else m.get("type")
            source = m.source if hasattr(m, "source") else m.get("source")
            opts = [o for o in _options(m) if o not in ("rbind", "bind", "ro", "rw")]
            flags = 0x1000 if kind == "bind" else 0  # MS_BIND
            if readonly and kind != "bind":
                flags |= 1  # MS_RDONLY
            data = ",".join(opts).encode()
            if libc.mount(source.encode(), str(target).encode(), (kind or "none").encode(), flags, data or None) != 0:
                err = ctypes.get_errno()
                raise PouchRuntimeError(f"mounting the container's filesystem: {os.strerror(err)}")
            done.append(str(target).encode())
        yield target
    finally:
        for point in reversed(done):
            libc.umount2(point, _MNT_DETACH)
        try:
            target.rmdir()
        except OSError:
            pass


# ``cp`` runs tar inside a child that has chroot-ed into the container's root, so no symlink in the
# container (``/etc -> /host/etc``) can make a read or a write land outside it (the docker cp CVEs).
# tarfile is imported before the chroot, since the container has no Python.
_HELPER = r"""
import os, sys, tarfile, posixpath
mode, root, path = sys.argv[1:4]
os.chroot(root)
os.chdir("/")
try:
    if mode == "out":
        if not os.path.lexists(path):
            sys.stderr.write("no such file or directory in the container: " + path)
            sys.exit(2)
        name = posixpath.basename(path.rstrip("/")) or "."
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
            tar.add(path, arcname=name, recursive=True)
    else:
        target, rename = path, None
        if not os.path.isdir(path) and mode == "extract":
            sys.stderr.write("destination " + path + " is not a directory in the container")
            sys.exit(3)
        if not os.path.isdir(path):
            # docker cp: a destination that does not exist names the copy, inside an existing directory
            target = posixpath.dirname(path.rstrip("/")) or "/"
            rename = posixpath.basename(path.rstrip("/"))
            if not os.path.isdir(target) or not rename:
                sys.stderr.write("destination directory " + target + " does not exist in the container")
                sys.exit(3)
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
            for member in tar:
                if rename:
                    top, sep, rest = member.name.partition("/")
                    member.name = rename + sep + rest
                tar.extract(member, target, filter="tar")
except (OSError, tarfile.TarError) as e:
    sys.stderr.write(str(e))
    sys.exit(4)
"""


def _helper(mode: str, root: Path, path: str, data: bytes | None = None) -> bytes:
    if not path.startswith("/"):
        path = "/" + path
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _HELPER, mode, str(root), path],
        input=data if data is not None else b"",
        capture_output=True,
        check=False,
    )
    message = proc.stderr.decode(errors="replace").strip()
    if proc.returncode == 2:
        raise NotFound(message)
    if proc.returncode == 3:
        raise InvalidArgument(message)
    if proc.returncode == 4 and mode != "out":
        raise InvalidArgument(f"copying into {path}: {message}")
    if proc.returncode != 0:
        raise PouchRuntimeError(f"copying {path}: {message or 'tar failed'}")
    return proc.stdout


def tar_from(root: Path, path: str) -> bytes:
    """A tar stream of ``path`` in the container (a file or a directory, recursively), named by its
    basename as ``docker cp`` does."""
    return _helper("out", root, path)


def untar_into(root: Path, path: str, data: bytes, *, rename: bool = True) -> None:
    """Extract a tar stream into ``path`` of the container; members must stay inside it. With
    ``rename``, a ``path`` that does not exist names the copy of the archive's top entry (docker cp's
    rule for ``cp FILE c:/dir/newname``); without, ``path`` must be a directory."""
    _helper("in" if rename else "extract", root, path, data)
