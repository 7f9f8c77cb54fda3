"""``diff``: what a container changed in its filesystem, read from its overlay snapshot on the host.

The container's writable layer is the overlay's upper directory: every entry there was added (A) or
changed (C, it exists in the image's layers below), and a whiteout (a character device 0/0) marks a
deletion (D), as ``docker diff`` reports them. The image's layers are the lower directories, searched
top down the way overlayfs does (an opaque directory hides the layers below it).

Everything here is the container's to shape, so nothing is followed: each directory is opened with
``O_NOFOLLOW`` relative to its parent's descriptor, entries are only ``lstat``-ed (a link is a change
like any other, never a path to walk), no file is opened or read, and a device node is only looked at.
The directories walked are containerd's own snapshot directories, named by the mount options it gives.
The walk is bounded in depth and in entries (``error[limit]`` past either), and paths are returned with
control characters escaped, so a hostile name cannot drive the terminal that shows it.
"""

from __future__ import annotations

import builtins
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument, Limit
from managers.safepath import overlay_opaque, split

__all__ = ["MAX_DEPTH", "MAX_ENTRIES", "changes", "overlay_dirs", "path_text"]

#: deeper than any real filesystem needs; each level holds a descriptor while it is walked
MAX_DEPTH = 256
#: a table this long is past reading; the bound keeps a hostile container from filling memory
MAX_ENTRIES = 200_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def overlay_dirs(mounts: Sequence[Any]) -> tuple[Path, builtins.list[Path]]:
    """The upper directory and the lower ones (top down) of a container's overlay snapshot."""
    if len(mounts) != 1:
        raise InvalidArgument(f"diff: the container's snapshot has {len(mounts)} mounts, expected one overlay")
    (m,) = mounts
    kind = m.type if hasattr(m, "type") else m.get("type")
    options = list((m.options if hasattr(m, "options") else m.get("options")) or [])
    values = dict(o.partition("=")[::2] for o in options if "=" in o)
    if kind != "overlay" or "upperdir" not in values:
        raise InvalidArgument(f"diff: the container's snapshot is a {kind} mount; diff reads overlayfs snapshots only")
    lowers = [Path(p) for p in values.get("lowerdir", "").split(":") if p]
    return Path(values["upperdir"]), lowers


def changes(
    upper: Path, lowers: Sequence[Path], *, mountpoints: Iterable[str] = (), max_entries: int = MAX_ENTRIES,
) -> builtins.list[dict[str, str]]:
    """The changes as records {kind: A|C|D, path}, sorted by path.

    ``mountpoints`` are the destinations of the container's mounts: runc makes an empty file or
    directory for each one missing from the image (``/etc/hosts``, ``/etc/resolv.conf`` ...), which the
    container did not add; they are left out, and so is a directory listed only because of them (docker
    keeps them in a layer of their own, which its diff does not show)."""
    out: builtins.list[dict[str, str]] = []
    fd = os.open(upper, _DIR_FLAGS)
    try:
        _walk(fd, [], list(lowers), False, out, max_entries)
    finally:
        os.close(fd)
    made = {path_text(split(m)) for m in mountpoints if split(m)}
    made_parents = {p for m in made for p in _ancestors(m)}
    kept = [r for r in out if not (r["kind"] == "A" and r["path"] in made)]
    listed_under = {p for r in kept for p in _ancestors(r["path"])}
    kept = [r for r in kept if not (r["kind"] == "C" and r["path"] in made_parents and r["path"] not in listed_under)]
    kept.sort(key=lambda r: r["path"])
    return kept


def _ancestors(path: str) -> builtins.list[str]:
    parts = path.split("/")[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _walk(
    fd: int, parts: builtins.list[str], lowers: builtins.list[Path], hidden: bool,
    out: builtins.list[dict[str, str]], max_entries: int,
) -> None:
    """The entries of the upper directory ``fd`` (at ``parts``); ``hidden``: nothing below it exists in
    the lower layers (a new or opaque directory), so every entry is an addition."""
    if len(parts) >= MAX_DEPTH:
        raise Limit(f"diff: directories nested deeper than {MAX_DEPTH} levels at {path_text(parts)}")
    with os.scandir(fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        here = [*parts, name]
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed by the running container since the listing
        if len(out) >= max_entries:
            raise Limit(f"diff: more than {max_entries} changed entries")
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            out.append({"kind": "D", "path": path_text(here)})
            continue
        existed = not hidden and _in_lowers(lowers, here)
        out.append({"kind": "C" if existed else "A", "path": path_text(here)})
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except (FileNotFoundError, NotADirectoryError):
            continue  # replaced meanwhile: it is listed, its content is not
        try:
            _walk(sub, here, lowers, hidden or not existed or overlay_opaque(sub), out, max_entries)
        finally:
            os.close(sub)


def _in_lowers(lowers: Sequence[Path], parts: builtins.list[str]) -> bool:
    """Whether ``parts`` names something in the merged view of the lower layers."""
    for layer in lowers:
        decided, exists = _lookup(layer, parts)
        if decided:
            return exists
    return False


def _lookup(layer: Path, parts: builtins.list[str]) -> tuple[bool, bool]:
    """(whether this layer decides, whether the entry exists there). A layer missing a component leaves
    it to the layers below unless a directory on the way is opaque; a whiteout, a link or a file where a
    directory should be hides what is below."""
    try:
        fd = os.open(layer, _DIR_FLAGS)
    except OSError:
        return False, False
    try:
        for i, name in enumerate(parts):
            opaque = overlay_opaque(fd) if i else False
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return opaque, False
            if i == len(parts) - 1:
                return True, not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
            if not stat.S_ISDIR(st.st_mode):
                return True, False
            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
        return True, True
    except OSError:
        return True, False
    finally:
        os.close(fd)


def path_text(parts: Sequence[str]) -> str:
    """The path in the container as text: bytes that are not UTF-8 as ``\\xNN``, control characters
    (an escape sequence in a file name) as ``\\xNN`` too."""
    raw = "/" + "/".join(parts)
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
