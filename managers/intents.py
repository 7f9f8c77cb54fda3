"""The intent journal: what a pouchsh process is about to do outside containerd, so that a ``kill -9`` at
any step is finished or undone by the next invocation.

containerd's own objects are safe with leases (ctrd.owner); what pouchsh does on the host is not: a CNI
ADD takes an IP lease in host-local's store and adds iptables rules, ``network create`` makes a bridge,
``volume create`` a directory. Each such step is bracketed::

    with journal.intent("network.attach", namespace=ns, id=cid, network=name, ...) as intent:
        ...side effect...                # intent.update(result=...) as more becomes known
        ...record it in the store...
    # the intent file is gone: the step is recorded (or undone in-process on an exception)

An intent is one JSON file in ``<root>/intents`` (0600, written atomically: temp, rename), named
for its owner (``<pid>-<start time>-<random>``) and holding ``ctrd.owner``'s label of that process. The
directory is empty unless a step is in flight or its process died, so every invocation pays one
``listdir`` (``Managers`` does it on first use) and imports this module only when there is something
there. ``reconcile`` then hands each intent whose owner is provably gone to the manager of its kind
(``kind`` is ``<manager>.<step>``), which looks at its store and either finishes the step or undoes it;
an intent whose handler fails stays for the next invocation. Reconcilers exclude each other with
``<root>/intents.lock``; the handlers take their stores' own locks, as the step they undo did.

**When an intent is synced.** The journal's promise is for a ``kill -9`` of pouchsh at any step, and a
file written and renamed without fsync survives that (the page cache is the kernel's). A power loss is
another model: the last seconds' files may be missing, or present but empty. An intent is synced (the
file, then the directory: ≈ 7 ms a container under load, docs/PERFORMANCE.md) unless it is a container's
``create`` or ``rm`` that names no volume, or a ``network.pin`` (a namespace mounted under /run),
because everything those guard is either gone after a power loss (tasks, FIFOs under /run, mounts, netns)
or found again without the intent: the name (the first
reservation after a boot rebuilds the name files from containerd, managers.names), the state directory
and snapshot (``system prune`` reclaims a container directory of no container and the leases of dead
processes). A volume directory outlives a power loss and nothing but the intent says whose it was, so an
intent naming volumes is synced; so is every other kind (IP leases, bridges, volumes, transactions and
host files are on disk). An intent file left unreadable by a power loss (its data never written) cannot
say what it guarded: the next reconcile moves it to ``<root>/intents-unreadable`` and says so on stderr,
once, with what to run.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrd.errors import PouchError
from ctrd.owner import Owner, is_gone, this_process
from managers import Managers
from managers.store import FileLock, write_atomic

if TYPE_CHECKING:
    import ctrd

__all__ = ["DIRECTORY", "Intent", "Journal", "live_intents", "reconcile"]

DIRECTORY = "intents"
#: where an intent that a power loss left unreadable is moved (outside the directory every run lists)
UNREADABLE = "intents-unreadable"
#: kinds whose intent needs no fsync while it names no volume (see the module's docstring)
_UNSYNCED_KINDS = frozenset({"container.create", "container.rm", "network.pin"})
#: the manager (a ``Managers`` attribute) that reconciles each kind's prefix
_MANAGERS = {"network": "networks", "volume": "volumes", "container": "containers", "transaction": "transactions"}
#: kinds whose undo needs no manager (nor containerd): that module's ``reconcile_intent(record)``
_MODULES = {"host": "managers.hostwrite"}


class Intent:
    """One step in flight; ``update`` adds what became known since (rewritten atomically)."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record

    def update(self, **data: Any) -> None:
        self.record.update(data)
        write_atomic(self.path, json.dumps(self.record).encode(), durable=_durable(self.record))

    def clear(self) -> None:
        # No fsync: an intent that reappears after a power loss names a step whose record is there, and
        # its handler finds it done.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Journal:
    def __init__(self, root: Path) -> None:
        self.directory = Path(root) / DIRECTORY

    def begin(self, kind: str, **data: Any) -> Intent:
        owner = this_process()
        path = self.directory / f"{owner.pid}-{owner.start}-{secrets.token_hex(6)}.json"
        intent = Intent(path, {"kind": kind, "owner": owner.label(), **data})
        intent.update()
        return intent

    @contextlib.contextmanager
    def intent(self, kind: str, **data: Any) -> Iterator[Intent]:
        """The intent is cleared when the block ends: done, or failed and undone by the caller's own
        error path. Only a process that dies inside the block leaves it for ``reconcile``."""
        intent = self.begin(kind, **data)
        try:
            yield intent
        finally:
            intent.clear()


def _durable(record: dict[str, Any]) -> bool:
    return record.get("kind") not in _UNSYNCED_KINDS or bool(record.get("volumes"))


def _boot_time() -> float | None:
    """When this boot began (``btime`` of /proc/stat), or None when it cannot be read."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _set_aside_if_lost(path: Path) -> None:
    """An intent that does not parse: if it was last written before this boot, a power loss cut its
    write (within a boot a reader sees the whole file or none), its owner is gone, and it cannot say what
    it guarded. Move it out of the journal and say so; one written in this boot is left alone."""
    boot = _boot_time()
    try:
        if boot is None or path.stat().st_mtime >= boot:
            return
        aside = path.parent.parent / UNREADABLE
        aside.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, aside / path.name)
    except OSError:
        return
    print(f"pouchsh: intent {path.name} was left unreadable by a power loss before this boot, so what it "
          f"guarded is unknown; it is kept in {aside}. Run `system prune` to reclaim host state that belongs "
          "to nothing (container directories, IP leases, bridges, volume directories)", file=sys.stderr)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _tmp_owner_gone(name: str) -> bool:
    """A temp file of an interrupted write (``.<pid>-<start>-<random>.json.<x>.tmp``): gone when that
    pid no longer runs with that start time (same host and boot: the journal is local)."""
    pid, _, rest = name.lstrip(".").partition("-")
    start = rest.partition("-")[0]
    me = this_process()
    if not (pid.isdigit() and start.isdigit()):
        return False
    return is_gone(Owner(me.host, int(pid), int(start), me.boot_id, me.pid_ns).label())


def live_intents(root: Path) -> list[dict[str, Any]]:
    """The intents of processes still running (steps in flight): reclaimers leave what they name alone."""
    directory = Path(root) / DIRECTORY
    out = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if entry.name.endswith(".json"):
                record = _read(Path(entry.path))
                if record is not None and not is_gone(record.get("owner")):
                    out.append(record)
    return out


class _InNamespace(Managers):
    """The facade's stores and containerd connection, in the namespace an intent was made in."""

    def __init__(self, parent: Managers, namespace: str) -> None:
        super().__init__(address=parent.address, namespace=namespace, root=parent.root, run_root=parent.run_root,
                         reconcile=False)
        self._parent = parent

    @cached_property
    def client(self) -> ctrd.Client:
        return self._parent.client


def reconcile(facade: Managers) -> list[dict[str, Any]]:
    """Finish or undo every intent whose owner is gone; returns those handled. Failures are reported on
    stderr (once per intent and invocation) and the intent is kept for the next one."""
    root = Path(facade.root)
    directory = root / DIRECTORY
    handled: list[dict[str, Any]] = []
    siblings: dict[str, Managers] = {}
    with FileLock(root / "intents.lock"):
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            return handled
        for entry in entries:
            path = Path(entry.path)
            if entry.name.endswith(".tmp"):
                if _tmp_owner_gone(entry.name):
                    path.unlink(missing_ok=True)
                continue
            record = _read(path)
            if record is None:
                _set_aside_if_lost(path)
                continue
            if not is_gone(record.get("owner")):
                continue
            prefix = str(record.get("kind", "")).partition(".")[0]
            manager = _MANAGERS.get(prefix)
            try:
                if prefix in _MODULES:
                    importlib.import_module(_MODULES[prefix]).reconcile_intent(record)
                elif manager is None:
                    raise PouchError(f"unknown intent kind {record.get('kind')!r}")
                else:
                    namespace = str(record.get("namespace") or facade.namespace)
                    if namespace == facade.namespace:
                        managers = facade
                    else:
                        managers = siblings.setdefault(namespace, _InNamespace(facade, namespace))
                    getattr(managers, manager).reconcile_intent(record)
            # A record it cannot read (KeyError, TypeError, ValueError) must not fail every command.
            except (PouchError, OSError, KeyError, TypeError, ValueError) as err:
                print(f"pouchsh: could not reconcile {record.get('kind')} left by a killed pouchsh "
                      f"({path.name}): {err}", file=sys.stderr)
                continue
            path.unlink(missing_ok=True)
            handled.append(record)
    return handled
