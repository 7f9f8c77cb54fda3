"""Container names and ids: validation, generation, prefix resolution, and per-namespace reservation.

Ids are 64 lowercase hex digits (like docker's), so they are always valid containerd identifiers; the
name a user chooses lives in the label ``pouchsh/name``. A name follows docker's rule
``[a-zA-Z0-9][a-zA-Z0-9_.-]*`` (one character is allowed, as in Podman) and is at most 128 characters.

Uniqueness per namespace holds across processes through a reservation file per name,
``<root>/names/<namespace>/<name>``, holding the owner's id. Every reservation in a namespace happens
under an exclusive ``flock`` of ``<root>/names/<namespace>/.lock``, so the check-then-create is atomic.
While a container is being created its reservation file is itself ``flock``-ed by the creating
process: a file whose owner is not in containerd is stale (a crashed pouchsh, or an ``rm`` done with
another tool) and is reclaimed, unless that lock shows a creation still in progress.

The files alone decide, so reserving a name costs no containerd call unless a file is already there
(then one Containers.Get of its owner). Every pouchsh sharing a data root sees the same files; a
container labelled with a name by a pouchsh on another data root, or by another tool, does not hold
that name here.

A reservation is written without fsync (≈ 3.5 ms a container under load, docs/PERFORMANCE.md): a
``kill -9`` of pouchsh loses nothing that reached the page cache, which is the kernel's. A power loss
(or a kernel crash) may lose the last seconds' files, or leave one empty, while containerd (which syncs
its database) kept the container. So the first reservation in a namespace after each boot rebuilds the
files from containerd, the source of truth for names (the ``pouchsh/name`` label): one Containers.List
of the named containers, under the namespace's lock, then ``.boot`` records the boot id it was done
for. Within one boot nothing can be lost; after a reboot nothing is trusted before that pass.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from ctrd.owner import this_process
from ctrd.private import private_dir

__all__ = [
    "NameStore",
    "Reservation",
    "generate_name",
    "new_id",
    "resolve",
    "validate_name",
]

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
NAME_MAX = 128
ID_RE = re.compile(r"^[0-9a-f]{64}$")
_PREFIX_RE = re.compile(r"^[0-9a-f]+$")
#: the boot id for which the files were last rebuilt from containerd (a name cannot hold a dot first)
BOOT_MARK = ".boot"
#: the name directories this process found rebuilt for this boot (a process does not outlive its boot)
_CURRENT: set[Path] = set()

_ADJECTIVES = (
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nimble", "proud", "quiet", "rapid", "sharp", "tidy", "vivid", "witty", "young", "zesty",
)
_NOUNS = (
    "otter", "heron", "lynx", "panda", "raven", "koala", "bison", "crane", "finch", "gecko",
    "ibex", "lemur", "moose", "newt", "orca", "puma", "quail", "robin", "stoat", "wren",
)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid container name, else raise InvalidArgument saying why."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("container name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidArgument(f"container name {name[:20]!r}... is longer than {NAME_MAX} characters")
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            hint="start with a letter or digit; use letters, digits, '_', '.' and '-'",
        )
    return name


def new_id() -> str:
    """A fresh 64-hex id whose 12-character short form is not all digits (it would read as a number)."""
    import secrets  # here: secrets brings hmac, hashlib and random, which a listing does not need

    while True:
        cid = secrets.token_hex(32)
        if not cid[:12].isdigit():
            return cid


def generate_name(taken: Callable[[str], bool]) -> str:
    """A docker-style ``adjective_noun`` name; a number is appended when the pair is taken."""
    import secrets

    base = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}"
    if not taken(base):
        return base
    for _ in range(1000):
        candidate = f"{base}{secrets.randbelow(10_000)}"
        if not taken(candidate):
            return candidate
    raise Conflict("could not find a free container name; give one with --name")


def resolve(ref: str, entries: Iterable[tuple[str, str]]) -> str:
    """The id that ``ref`` names among ``(id, name)`` pairs, with docker's precedence: an exact id, then
    an exact name, then a unique id prefix. An ambiguous prefix is a Conflict naming the matches."""
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument("container reference must not be empty")
    pairs = list(entries)
    for cid, _ in pairs:
        if ref == cid:
            return cid
    for cid, name in pairs:
        if ref == name:
            return cid
    if _PREFIX_RE.match(ref):
        matches = sorted(cid for cid, _ in pairs if cid.startswith(ref))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            shown = ", ".join(m[:12] for m in matches[:5])
            raise Conflict(
                f"multiple containers match the id prefix {ref!r} ({shown}): it is ambiguous",
                hint="give more of the id, or the name",
            )
    if not NAME_RE.match(ref):
        raise InvalidArgument(f"invalid container reference {ref!r}: not a name, an id or an id prefix")
    raise NotFound(f"no such container: {ref}")


class Reservation:
    """A name held for a container id. Created locked; ``commit()`` once the container exists."""

    def __init__(self, store: NameStore, name: str, cid: str, fd: int | None) -> None:
        self.store = store
        self.name = name
        self.id = cid
        self._fd = fd

    def commit(self) -> None:
        """The container now exists in containerd: drop the in-progress lock, keep the file."""
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def release(self) -> None:
        """Give the name back (the container was not made, or is removed)."""
        self.commit()
        self.store.release(self.name, self.id)


class NameStore:
    """The reservation files of one namespace.

    ``exists(id)`` answers whether an id is a container in containerd (the container manager passes a
    Containers.Get); it is asked only about the owner of a file already there.
    """

    def __init__(self, directory: Path, *, exists: Callable[[str], bool],
                 named: Callable[[], Iterable[tuple[str, str]]] | None = None) -> None:
        """``named`` lists (id, name) of every container of the namespace that has a name, for the pass
        after a boot (None: a store whose files are the only truth, as in the pure tests)."""
        self.directory = directory
        self._exists = exists
        self._named = named

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.directory)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self._named is not None:
                self._resync_after_boot(self._named)
            yield
        finally:
            os.close(fd)

    def _resync_after_boot(self, named: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """Once per boot (under the lock): give every named container in containerd its file back, where a
        power loss lost it or left it empty or naming a container that is gone. Neither the files nor
        ``.boot`` need an fsync: losing them again only means doing this again after the next boot."""
        if self.directory in _CURRENT:
            return
        boot = this_process().boot_id
        mark = self.directory / BOOT_MARK
        try:
            if boot and mark.read_text() == boot:
                _CURRENT.add(self.directory)
                return
        except FileNotFoundError:
            pass
        for cid, name in named():
            if not NAME_RE.match(name) or len(name) > NAME_MAX:
                continue
            path = self.directory / name
            try:
                owner = path.read_text().strip()
            except FileNotFoundError:
                owner = ""
            if owner == cid or (owner and self._exists(owner)):
                continue  # its own, or another existing container's (two records, one name: the first keeps it)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, cid.encode())
            finally:
                os.close(fd)
        fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, boot.encode())
        finally:
            os.close(fd)
        if boot:
            _CURRENT.add(self.directory)

    def _path(self, name: str) -> Path:
        return self.directory / validate_name(name)

    def reserve(self, name: str, cid: str) -> Reservation:
        """Hold ``name`` for ``cid`` or raise AlreadyExists. The returned reservation is locked."""
        path = self._path(name)
        with self._locked():
            self._reclaim_if_stale(path, name)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                raise AlreadyExists(f"container name {name!r} is already in use") from None
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, cid.encode())  # no fsync: see the module's docstring (a boot rebuilds the files)
        return Reservation(self, name, cid, fd)

    def _reclaim_if_stale(self, path: Path, name: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyExists(f"container name {name!r} is being used by a container being created") from None
            owner = os.read(fd, 128).decode(errors="replace").strip()
        finally:
            os.close(fd)
        if owner and self._exists(owner):
            raise AlreadyExists(
                f"container name {name!r} is already in use by container {owner[:12]}",
                hint="remove that container or choose another name",
            )
        path.unlink(missing_ok=True)

    def release(self, name: str, cid: str) -> None:
        """Remove the reservation of ``name`` if ``cid`` still holds it."""
        path = self._path(name)
        with self._locked():
            try:
                owner = path.read_text().strip()
            except FileNotFoundError:
                return
            if owner == cid:
                path.unlink(missing_ok=True)

    def taken(self, name: str) -> bool:
        """Whether ``name`` has a live reservation file (used to pick generated names)."""
        try:
            owner = self._path(name).read_text().strip()
        except FileNotFoundError:
            return False
        return bool(owner) and self._exists(owner)
