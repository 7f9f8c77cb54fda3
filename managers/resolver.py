"""Which container a reference names (an id, a unique id prefix, a name, or a record), its task, and
its record. The one place a container reference is looked up: the container verbs and
``--network container:NAME`` both come here, and the precedence itself is managers.names.resolve."""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument, NotFound
from managers import records as rec
from managers.containerpaths import ContainerPaths
from managers.labels import LABEL
from managers.names import NAME_RE, NameStore, resolve

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["ContainerResolver", "ref_text"]

# How many references are looked up with filtered listings rather than one listing of all containers.
_FILTERED_REFS = 2
_HEX = re.compile(r"^[0-9a-f]+$")


class ContainerResolver:
    """References to containers, tasks and records in the facade's current namespace. Holds nothing
    between calls: containerd is the source of truth."""

    def __init__(self, facade: Managers, paths: ContainerPaths) -> None:
        self.facade = facade
        self.paths = paths

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    def resolve(self, ref: Any) -> str:
        """The id of the container ``ref`` names (an id, a name, a unique id prefix or a record)."""
        text = ref_text(ref)
        if len(text) == 64:
            try:
                return self.client.containers.get(text).id
            except (NotFound, InvalidArgument):
                pass
        return resolve(text, _entries(self.candidates([text])))

    def get(self, ref: Any) -> Any:
        """The container record ``ref`` names."""
        return self.client.containers.get(self.resolve(ref))

    def get_all(self, refs: Iterable[Any]) -> builtins.list[Any]:
        """The containers ``refs`` name, all resolved before any is acted on, from at most one
        Containers.List (a pipeline of a hundred short ids is one call, not a hundred)."""
        texts = [ref_text(r) for r in refs]
        if all(len(t) == 64 for t in texts):
            try:
                return [self.client.containers.get(t) for t in texts]
            except (NotFound, InvalidArgument):
                pass
        containers = self.candidates(texts)
        by_id = {c.id: c for c in containers}
        entries = _entries(containers)
        return [by_id[resolve(t, entries)] for t in texts]

    def candidates(self, refs: builtins.list[str]) -> builtins.list[Any]:
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

    def task(self, cid: str) -> Any | None:
        """The container's task, None when it has none."""
        try:
            return self.client.tasks.get(cid)
        except NotFound:
            return None

    def record(self, cid: str) -> dict[str, Any]:
        """The ``ps`` record of one container (managers.records)."""
        return rec.build_record(self.client.containers.get(cid), self.task(cid))

    def names(self) -> NameStore:
        """The namespace's name reservations (managers.names); a name whose owner is not in containerd
        is free."""
        containers = self.client.containers

        def exists(cid: str) -> bool:
            try:
                containers.get(cid)
            except NotFound:
                return False
            return True

        def named() -> list[tuple[str, str]]:
            listed = containers.list([f'labels."{LABEL.NAME}"'])
            return [(c.id, c.labels[LABEL.NAME]) for c in listed if c.labels.get(LABEL.NAME)]

        return NameStore(self.paths.names_dir, exists=exists, named=named)


def name_of(c: Any) -> str:
    """How messages name a container: its name, else its short id."""
    return c.labels.get(LABEL.NAME) or c.id[:12]


def ref_text(ref: Any) -> str:
    """A container reference as text: a string, or a record's ``id`` (or ``name``)."""
    if isinstance(ref, dict):
        ref = ref.get("id") or ref.get("name") or ""
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument(f"not a container reference: {ref!r}")
    return ref


def _entries(containers: Iterable[Any]) -> builtins.list[tuple[str, str]]:
    return [(c.id, (c.labels or {}).get(LABEL.NAME, "")) for c in containers]
