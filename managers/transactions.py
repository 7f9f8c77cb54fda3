"""Transactions: everything a block of statements made, undone if the block fails, also after a kill -9.

What a transaction makes carries its id in a label (``pouchsh/transaction``): containers in containerd,
networks and volumes in pouchsh's stores. The label is written with the object, in the same atomic step
that makes it (Containers.Create, the store's rename), so there is no moment at which an object exists
that the undo cannot find, and nothing that existed before can be taken for one of ours. The one change
to an older object a transaction undoes, connecting an existing container to a network, is written
ahead into the transaction's record (and only when the container was not on that network already).

The record is an intent of the journal (managers.intents, kind ``transaction.open``): it names this
process, the namespace, the ids of the transaction and of those nested in it, and the connections. A
commit of the outermost transaction removes it; a failure undoes and then removes it; a process killed
in between leaves it, and the next invocation's reconcile (the owner being gone) undoes the same way:
containers removed newest first (with their anonymous volumes), connections made disconnected,
older containers it set aside for a replacement (compose up, upgrade) renamed back and started again if
they ran, networks and volumes removed. An undo that cannot finish keeps the record, for the next invocation.

Nested transactions get ids of their own: an inner failure undoes the inner one only; an inner commit
leaves its objects to the outer one, whose undo covers them (the record lists every id).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrd.errors import NotFound, PouchError
from managers import faults
from managers.intents import Intent, Journal
from managers.labels import LABEL

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["Transaction", "TransactionManager", "before_connect", "set_aside", "tag"]

KIND = "transaction.open"


@dataclass
class Transaction:
    id: str
    parent: Transaction | None
    namespace: str
    root_dir: Path
    ids: list[str] = field(default_factory=list)  # its own id and those of the nested ones it committed
    # the outermost one's: every id open or committed in the tree, the record on disk (written before the
    # first object is made, so a transaction that makes nothing writes nothing), and the connections
    tree_ids: list[str] = field(default_factory=list)
    intent: Intent | None = None
    connects: list[dict[str, Any]] = field(default_factory=list)
    asides: list[dict[str, Any]] = field(default_factory=list)
    # workers of a parallel upgrade nest their transactions in one outer one: its record is written whole
    # under this lock, so no writer puts back an older list over a newer one
    lock: threading.RLock = field(default_factory=threading.RLock)  # type: ignore[valid-type]

    def root(self) -> Transaction:
        return self if self.parent is None else self.parent.root()

    def record(self) -> Intent:
        """The outermost transaction's record on disk, written now if it is not yet."""
        root = self.root()
        with root.lock:
            if root.intent is None:
                root.intent = Journal(root.root_dir).begin(KIND, namespace=root.namespace, ids=list(root.tree_ids),
                                                           connects=list(root.connects), asides=list(root.asides))
            return root.intent

    def save(self) -> None:
        root = self.root()
        with root.lock:
            if root.intent is not None:
                root.intent.update(ids=list(root.tree_ids), connects=list(root.connects), asides=list(root.asides))


def tag(facade: Any, labels: dict[str, str] | None) -> dict[str, str]:
    """``labels`` plus the open transaction's id (a new dict), its record written first; as they are
    when none is open."""
    out = dict(labels or {})
    tx: Transaction | None = getattr(facade, "transaction", None)
    if tx is not None:
        tx.record()
        faults.point("transaction.recorded")
        out[LABEL.TRANSACTION] = tx.id
    return out


def before_connect(facade: Any, network: str, container_id: str) -> None:
    """Write ahead that the open transaction connects an existing container to ``network``, unless it is
    on it already (then the connect fails and there is nothing to undo) or the transaction made it."""
    tx: Transaction | None = getattr(facade, "transaction", None)
    if tx is None:
        return
    labels = facade.ctrd.containers.get(container_id).labels
    if labels.get(LABEL.TRANSACTION) in tx.root().tree_ids or network in labels.get(LABEL.NETWORKS, "").split(","):
        return
    tx.root().connects.append({"tx": tx.id, "network": network, "container": container_id})
    tx.record()
    tx.save()


def set_aside(facade: Any, container_id: str, name: str, running: bool) -> None:
    """Write ahead that the open transaction renames (and stops) an older container to make room for its
    replacement: an undo gives it its name back and starts it again if it ran."""
    tx: Transaction | None = getattr(facade, "transaction", None)
    if tx is None:
        return
    tx.root().asides.append({"tx": tx.id, "container": container_id, "name": name, "running": running})
    tx.record()
    tx.save()


class TransactionManager:
    """``ctx.managers.transactions``: begin, commit, roll back, and reconcile a killed one."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    def begin(self) -> Transaction:
        parent: Transaction | None = getattr(self.facade, "transaction", None)
        tx = Transaction(id=secrets.token_hex(8), parent=parent, namespace=self.facade.namespace,
                         root_dir=Path(self.facade.root))
        tx.ids.append(tx.id)
        tx.root().tree_ids.append(tx.id)
        tx.save()
        self.facade.set_transaction(tx)
        return tx

    def commit(self, tx: Transaction) -> None:
        self.facade.set_transaction(tx.parent)
        if tx.parent is None:
            if tx.intent is not None:
                tx.intent.clear()
        else:
            tx.parent.ids.extend(tx.ids)

    def rollback(self, tx: Transaction) -> list[dict[str, Any]]:
        """Undo what ``tx`` (and what it committed of nested ones) made; the steps taken, in order. A
        transaction that never wrote its record made nothing, and nothing is asked of containerd."""
        self.facade.set_transaction(tx.parent)
        root = tx.root()
        if root.intent is None:
            return []
        ids = set(tx.ids)
        connects = [c for c in root.connects if c.get("tx") in ids]
        asides = [a for a in root.asides if a.get("tx") in ids]
        steps = undo(self.facade, ids, connects, asides)
        if tx.parent is None:
            root.intent.clear()
        else:
            root.tree_ids[:] = [i for i in root.tree_ids if i not in ids]
            root.connects[:] = [c for c in root.connects if c.get("tx") not in ids]
            root.asides[:] = [a for a in root.asides if a.get("tx") not in ids]
            tx.save()
        return steps

    def reconcile_intent(self, record: dict[str, Any]) -> None:
        """A transaction whose process died before it committed or finished its undo (managers.intents)."""
        ids = {str(i) for i in record.get("ids") or []}
        undo(self.facade, ids, list(record.get("connects") or []), list(record.get("asides") or []))


def undo(facade: Managers, ids: set[str], connects: list[dict[str, Any]],
         asides: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Remove what carries one of ``ids``, undo ``connects``, give containers set aside their names back
    (and start those that ran); raises the first error after trying every step (so one stuck object
    does not keep the rest)."""
    steps: list[dict[str, Any]] = []
    errors: list[PouchError] = []

    def step(kind: str, name: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except NotFound:
            return  # removed meanwhile (the block removed it itself, or a second undo): nothing to do
        except PouchError as err:
            errors.append(err)
            return
        steps.append({"undo": kind, "name": name})
        faults.point("transaction.undo.step")

    mine = [c for c in facade.ctrd.containers.list() if c.labels.get(LABEL.TRANSACTION) in ids]
    mine.sort(key=lambda c: c.created_at, reverse=True)
    for c in mine:
        step("container", c.labels.get(LABEL.NAME, c.id), facade.containers.remove, [c.id], force=True,
             volumes=True)
    removed = {c.id for c in mine}
    for entry in reversed(connects):
        if entry.get("container") in removed:
            continue
        step("connection", f"{entry.get('container', '')[:12]} from {entry.get('network')}",
             facade.networks.disconnect, str(entry.get("network")), str(entry.get("container")), force=True)
    for entry in reversed(list(asides)):
        step("replaced container", str(entry.get("name")), _restore, facade, entry)
    for net in facade.networks.list():
        if (net.get("labels") or {}).get(LABEL.TRANSACTION) in ids:
            step("network", net["name"], facade.networks.remove, [net["name"]])
    for vol in facade.volumes.list():
        if (vol.get("labels") or {}).get(LABEL.TRANSACTION) in ids:
            step("volume", vol["name"], facade.volumes.remove, [vol["name"]], force=True)
    if errors:
        raise errors[0]
    return steps


def _restore(facade: Managers, entry: dict[str, Any]) -> None:
    name = str(entry.get("name"))
    c = facade.containers.resolver.get(entry.get("container"))
    cid = c.id
    if c.labels.get(LABEL.NAME) != name:
        facade.containers.rename(cid, name)
    if entry.get("running"):
        task = facade.containers.resolver.task(cid)
        if task is None or task.status != "running":
            facade.containers.start([cid])


def plan(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[str]:
    """The undo plan of a dry run: for each manager call that makes something, the call that would undo
    it, newest first."""
    out = []
    for path, args, kwargs in reversed(calls):
        if path in ("containers.run", "containers.create"):
            opts = args[0] if args else kwargs.get("opts")
            name = getattr(opts, "name", None) or "<the container it made>"
            out.append(f"containers.remove([{name!r}], force=True, volumes=True)")
        elif path == "networks.create":
            out.append(f"networks.remove([{(args[0] if args else kwargs.get('name'))!r}])")
        elif path == "volumes.create":
            name = args[0] if args else kwargs.get("name")
            out.append(f"volumes.remove([{name!r}], force=True)" if name else "volumes.remove([<the volume it made>])")
        elif path == "networks.connect":
            network, container = (list(args) + [kwargs.get("network"), kwargs.get("container")])[:2]
            out.append(f"networks.disconnect({network!r}, {container!r}, force=True)")
    return out
