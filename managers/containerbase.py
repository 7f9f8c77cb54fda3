"""What every part of the container manager stands on: the facade's client and roots, the per-container
paths under them, the name store, and how a reference (name, id, id prefix, record) finds its container."""

from __future__ import annotations

import builtins
import fcntl
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument, NotFound, PouchError
from ctrd.private import private_dir
from managers import records as rec
from managers.names import NAME_RE, NameStore, resolve
from managers.records import LABEL

if TYPE_CHECKING:
    from managers import Managers

# How many references are looked up with filtered listings rather than one listing of all containers.
_FILTERED_REFS = 2
_HEX = re.compile(r"^[0-9a-f]+$")


class ContainerBase:
    """The plumbing ``ContainerManager`` and its parts (managers.imagecache, managers.lifecycle,
    managers.foreground) share."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    def _state_dir(self, cid: str) -> Path:
        return Path(self.facade.root) / "containers" / self.namespace / cid

    def _log_path(self, cid: str) -> Path:
        return self._state_dir(cid) / f"{cid}-json.log"

    @property
    def _runc_root(self) -> Path:
        """runc's state root for containers pouchsh creates (the shim adds ``/<namespace>``)."""
        return Path(self.facade.run_root) / "runc"

    def _lock_path(self, cid: str) -> Path:
        return Path(self.facade.run_root) / "locks" / self.namespace / cid

    @property
    def _fifo_root(self) -> Path:
        return Path(self.facade.run_root) / "fifo" / self.namespace

    def _names(self) -> NameStore:
        containers = self.client.containers

        def exists(cid: str) -> bool:
            try:
                containers.get(cid)
            except NotFound:
                return False
            return True

        return NameStore(Path(self.facade.root) / "names" / self.namespace, exists=exists)

    def _optional(self, attr: str) -> Any | None:
        """The volume or network manager, or None while that part of pouchsh is not built."""
        try:
            return getattr(self.facade, attr)
        except ImportError:
            return None

    def _task(self, cid: str) -> Any | None:
        try:
            return self.client.tasks.get(cid)
        except NotFound:
            return None

    def resolve(self, ref: str) -> str:
        """The id of the container ``ref`` names (an id, a name or a unique id prefix)."""
        ref = _ref_text(ref)
        if len(ref) == 64:
            try:
                return self.client.containers.get(ref).id
            except (NotFound, InvalidArgument):
                pass
        entries = [(c.id, c.labels.get(LABEL.NAME, "")) for c in self._candidates([ref])]
        return resolve(ref, entries)

    def _get(self, ref: str) -> Any:
        return self.client.containers.get(self.resolve(ref))

    def _get_all(self, refs: Iterable[Any]) -> builtins.list[Any]:
        """The containers ``refs`` name, all resolved before any is acted on, from at most one
        Containers.List (a pipeline of a hundred short ids is one call, not a hundred)."""
        texts = [_ref_text(r) for r in refs]
        if all(len(t) == 64 for t in texts):
            try:
                return [self.client.containers.get(t) for t in texts]
            except (NotFound, InvalidArgument):
                pass
        containers = self._candidates(texts)
        by_id = {c.id: c for c in containers}
        entries = [(c.id, c.labels.get(LABEL.NAME, "")) for c in containers]
        return [by_id[resolve(t, entries)] for t in texts]

    def _candidates(self, refs: builtins.list[str]) -> builtins.list[Any]:
        """Every container that one of ``refs`` could name (an id starting with it, or its name), for
        ``names.resolve`` to choose from, which then answers as it would from the whole namespace.

        For one or two references, a filtered Containers.List: containerd still reads every record, but
        sends only the matches, where the whole namespace's reply carries every container's spec
        (``ps -a -q | par-each { rm -f $it }`` made one full listing per container). More references
        take one unfiltered listing instead of many."""
        if len(refs) > _FILTERED_REFS:
            return self.client.containers.list()
        filters = []
        for ref in refs:
            if _HEX.match(ref):
                filters.append(f'id~="^{ref}"')
            if NAME_RE.match(ref):
                filters.append(f'labels."{LABEL.NAME}"=="{ref}"')
        return self.client.containers.list(filters) if filters else []

    def _record(self, cid: str) -> dict[str, Any]:
        return rec.build_record(self.client.containers.get(cid), self._task(cid))

    def _name_of(self, c: Any) -> str:
        return c.labels.get(LABEL.NAME) or c.id[:12]


def _ref_text(ref: Any) -> str:
    """A container reference as text: a string, or a record's ``id`` (or ``name``)."""
    if isinstance(ref, dict):
        ref = ref.get("id") or ref.get("name") or ""
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument(f"not a container reference: {ref!r}")
    return ref


@contextmanager
def _container_lock(path: Path, *, remove: bool = False) -> Iterator[None]:
    """An exclusive flock on ``path`` (one file per container, under the run root) between processes.
    ``remove`` unlinks it before unlocking: only a removal does that, and whoever opened the old file
    meanwhile then finds the container gone in containerd, which is what it must learn anyway."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        if remove:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run a clean-up step whose failure must not hide the error being handled."""
    try:
        fn(*args, **kwargs)
    except (PouchError, OSError):
        pass
