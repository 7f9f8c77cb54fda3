"""System: what containerd and the data root hold (``info``, ``version``, ``system df``), housekeeping
(``system prune``), the event stream (``events``) and containerd namespaces (``namespace …``).

An event record (``events``)::

    type        container, task, image, snapshot, namespace or content (from the topic), network or
                volume (pouchsh's own events, managers.objectevents)
    action      docker's word where there is one (create start die destroy pause unpause oom exec_create
                exec_start exec_die; connect disconnect for networks), task_create / task_delete for the
                task's own life cycle, else the topic's last part (update, delete, prepare …)
    id          the container id (or image name, snapshot key, namespace name, network id, volume name)
    name        the container's pouchsh name when known (the network's or volume's name), else ""
    time        RFC 3339 UTC time, nanoseconds included
    attributes  the rest of the payload, values as strings (``exit_code`` for ``die``), plus ``namespace``
                and ``topic``; a container event also carries its container's user labels, as docker's

Filters: type, action (or event), container/id/name, image, namespace, network and volume (id or
name), label (KEY or KEY=VALUE, against the attributes: a container's labels, as docker matches them).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ctrd
from ctrd.errors import Conflict, Interrupted, NotFound, PouchError

# managers.records, labels, options, store and filters are imported by the methods that use them: with json,
# shutil, tempfile and the flag tables they were ~8 ms of every `pouchsh -c version`, which uses none.

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["SystemManager", "event_record"]

RUNTIME = "io.containerd.runc.v2"
SNAPSHOTTER = "overlayfs"
_TASK_ACTIONS = {"create": "task_create", "delete": "task_delete", "exit": "die", "paused": "pause",
                 "resumed": "unpause", "exec-added": "exec_create", "exec-started": "exec_start",
                 "checkpointed": "checkpoint"}
_CONTAINER_ACTIONS = {"delete": "destroy"}
DEFAULT_NAMESPACE = "default"
#: how long ``events`` waits for its subscription to be registered (ctrd's markers prove it)
LIVE_TIMEOUT = 10.0
EVENT_FILTERS = ("type", "action", "event", "container", "id", "name", "image", "namespace", "label", "network",
                 "volume")


def _cgroup_driver() -> tuple[str, int]:
    version = 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1
    return ("cgroupfs", version)


def event_record(event: Any, names: dict[str, str], labels: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """A containerd event as an ``events`` record (see the module docstring); ``names`` and ``labels``
    are the known containers' names and user labels by id."""
    group, _, last = event.topic.strip("/").partition("/")
    kind = {"tasks": "task", "containers": "container", "images": "image", "snapshot": "snapshot",
            "namespaces": "namespace", "content": "content", "networks": "network",
            "volumes": "volume"}.get(group, group)
    payload = dict(event.payload)
    if kind in ("network", "volume"):
        payload = dict(payload.get("labels") or {})  # managers.objectevents' attributes
    action = last
    ident = ""
    if kind == "task":
        ident = payload.get("container_id", "")
        action = _TASK_ACTIONS.get(last, last)
        if last == "exit" and payload.get("id") and payload.get("id") != ident:
            action = "exec_die"
        if last == "exit":
            payload["exit_code"] = payload.get("exit_status", 0)
        kind = "container"
    elif kind == "container":
        ident = payload.get("id", "")
        action = _CONTAINER_ACTIONS.get(last, last)
    elif kind in ("image", "namespace"):
        ident = payload.get("name", "")
    elif kind == "snapshot":
        ident = payload.get("key", "")
    elif kind == "content":
        ident = payload.get("digest", "")
    elif kind == "network":
        ident = payload.get("id", "")
    elif kind == "volume":
        ident = payload.get("name", "")
    # a container event carries its container's labels, as docker's do (compose reads its project there)
    attributes = dict((labels or {}).get(ident, {})) if kind == "container" else {}
    attributes.update({k: _text(v) for k, v in payload.items() if k not in ("raw",) and v not in (None, "", {}, [])})
    attributes["namespace"] = event.namespace
    attributes["topic"] = event.topic
    stamp = event.timestamp or datetime.now(UTC)
    return {
        "type": kind,
        "action": action,
        "id": ident,
        "name": payload.get("name", "") if kind in ("network", "volume") else names.get(ident, ""),
        "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        "attributes": attributes,
    }


def _user_labels(labels: dict[str, str]) -> dict[str, str]:
    from managers.labels import RESERVED_LABEL_PREFIXES

    return {k: v for k, v in labels.items() if not k.startswith(RESERVED_LABEL_PREFIXES)}


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return ",".join(f"{k}={_text(v)}" for k, v in value.items())
    return str(value)


def _event_matches(record: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    from managers.filters import label_matches, matches

    def test(key: str, value: str) -> bool:
        if key == "type":
            return record["type"] == value
        if key in ("action", "event"):
            return record["action"] == value
        if key in ("container", "id", "name"):
            return record["id"] == value or record["name"] == value or (len(value) >= 3 and record["id"].startswith(value))
        if key == "image":
            return record["attributes"].get("image") == value or (record["type"] == "image" and record["id"] == value)
        if key == "label":
            return label_matches(record["attributes"], value)
        if key in ("network", "volume"):
            return record["type"] == key and (record["id"] == value or record["name"] == value)
        return record["attributes"].get("namespace") == value  # namespace

    return matches(filters, test)


class SystemManager:
    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    # -- what is there ---------------------------------------------------------------------------------

    def _containers_and_tasks(self) -> list[tuple[Any, Any]]:
        client = self.facade.ctrd
        containers = client.containers.list()
        tasks = {t.container_id: t for t in client.tasks.list()}
        return [(c, tasks.get(c.id)) for c in containers]

    def info(self) -> dict[str, Any]:
        import platform

        from managers.records import status_of

        client = self.facade.ctrd
        version = client.version()
        states = {"running": 0, "paused": 0, "exited": 0, "created": 0}
        pairs = self._containers_and_tasks()
        for c, t in pairs:
            status = status_of(c, t)
            states[status] = states.get(status, 0) + 1
        from managers.runtimes import available as available_runtimes

        plugins = client.introspection.plugins()
        snapshotters = [p.id for p in plugins if p.type == "io.containerd.snapshotter.v1" and p.ok]
        driver, cgroup_version = _cgroup_driver()
        daemon = self.containerd()
        return {
            "containerd_version": version.version,
            "containerd_revision": version.revision,
            "containerd_address": daemon["address"],
            "containerd_managed": daemon["managed"],
            "runtime": RUNTIME,
            "runtimes": [r["name"] for r in available_runtimes()],
            "snapshotter": SNAPSHOTTER if SNAPSHOTTER in snapshotters else (snapshotters[0] if snapshotters else ""),
            "snapshotters": snapshotters,
            "cgroup_driver": driver,
            "cgroup_version": cgroup_version,
            "containers": len(pairs),
            "containers_running": states["running"],
            "containers_paused": states["paused"],
            "containers_stopped": states["exited"] + states["created"],
            "images": len(client.images.list()),
            "volumes": len(self.facade.volumes.list()),
            "networks": len(self.facade.networks.list()),
            "namespace": self.facade.namespace,
            "data_root": str(self.facade.root),
            "kernel_version": platform.release(),
            "operating_system": _os_name(),
            "architecture": platform.machine(),
            "cpus": os.cpu_count() or 0,
            "memory": _mem_total(),
        }

    def version(self) -> dict[str, Any]:
        server = self.facade.ctrd.version()
        return {
            "client_version": ctrd.__version__,
            # what platform would read, without importing it (~1.5 ms of a `version` run)
            "python_version": sys.version.split()[0],
            "os": os.uname().sysname.lower(),
            "arch": os.uname().machine,
            "containerd_version": server.version,
            "containerd_revision": server.revision,
        }

    def containerd(self) -> dict[str, Any]:
        """Which containerd pouchsh uses, where, and whether pouchsh manages (started) it."""
        import ctrd

        info = ctrd.daemon_info(self.facade.address, data_root=self.facade.root, run_root=self.facade.run_root)
        return {
            "source": info.source,
            "address": info.address,
            "managed": info.managed,
            "running": info.running,
            "pid": info.pid,
            "config": info.config,
            "log": info.log,
            "root": info.root,
            "state": info.state,
        }

    def df(self) -> list[dict[str, Any]]:
        """Disk use by images, containers (their writable layers) and volumes, with what prune reclaims."""
        from managers.records import status_of

        client = self.facade.ctrd
        pairs = self._containers_and_tasks()
        used_images = {c.image for c, _ in pairs}
        image_rows = []
        for image in client.images.list():
            try:
                size = client.images.spec(image).size
            except PouchError:
                size = image.target.size
            image_rows.append((image.name, size))
        images_size = sum(s for _, s in image_rows)
        images_reclaimable = sum(s for n, s in image_rows if n not in used_images)
        container_sizes = []
        for c, t in pairs:
            try:
                size = client.snapshots.usage(c.snapshot_key, snapshotter=c.snapshotter or SNAPSHOTTER).size
            except (PouchError, AttributeError):
                size = 0
            container_sizes.append((status_of(c, t), size))
        volumes = self.facade.volumes.usage()
        return [
            _df_row("images", len(image_rows), sum(1 for n, _ in image_rows if n in used_images),
                    images_size, images_reclaimable),
            _df_row("containers", len(pairs), sum(1 for s, _ in container_sizes if s in ("running", "paused")),
                    sum(s for _, s in container_sizes),
                    sum(s for st, s in container_sizes if st not in ("running", "paused"))),
            _df_row("volumes", len(volumes), sum(1 for v in volumes if v["containers"]),
                    sum(v["size"] for v in volumes), sum(v["size"] for v in volumes if not v["containers"])),
        ]

    def prune(self, *, all: bool = False, volumes: bool = False) -> dict[str, Any]:
        """Stopped containers, unused networks, dangling (``all``: unused) images, and with ``volumes``
        unused volumes (anonymous ones; every unused one with ``all``); first what dead pouchsh
        processes left (their intents finished or undone, host state that belongs to nothing, their
        leases), so that what they were writing is collected too."""
        out: dict[str, Any] = {}
        out["host"] = self._reclaim_host()
        out["leases"] = self._prune_leases()
        out["containers"] = self.facade.containers.prune()
        out["networks"] = self.facade.networks.prune()
        out["images"] = self.facade.images.prune(all=all)
        if volumes:
            out["volumes"] = self.facade.volumes.prune(all=all)
        return out

    def _reclaim_host(self) -> dict[str, Any]:
        """The journal reconciled again (this may be a long session), then what no intent names: IP
        leases (and their iptables rules) of no attachment, bridges of no network, volume directories of
        no volume, and this namespace's container directories of no container."""
        import shutil
        from pathlib import Path

        from managers.intents import live_intents, reconcile

        facade = self.facade
        intents = len(reconcile(facade))
        network = facade.networks.reclaim()
        volume_dirs = facade.volumes.reclaim()
        state = Path(facade.root) / "containers" / facade.namespace
        containers: list[str] = []
        try:
            entries = sorted(os.listdir(state))
        except FileNotFoundError:
            entries = []
        if entries:
            # Intents before containers: a creator clears its intent only once its container exists.
            known = {str(r.get("id")) for r in live_intents(facade.root) if str(r.get("kind")).startswith("container.")}
            known |= {c.id for c in facade.ctrd.containers.list()}
            for cid in entries:
                if cid not in known:
                    shutil.rmtree(state / cid, ignore_errors=True)
                    containers.append(cid)
        return {"intents": intents, "ip_leases": network["leases"], "bridges": network["bridges"],
                "network_namespaces": network["netns"], "volume_dirs": volume_dirs, "container_dirs": containers}

    def _prune_leases(self) -> dict[str, Any]:
        """Delete the leases whose owner (a pouchsh process on this host, ctrd.owner) is gone: a load or
        pull that was SIGKILLed leaves one, protecting its partial content for the lease's 24 hours.
        Leases of live processes and leases without the owner label (ctr's, nerdctl's) are kept."""
        from ctrd.owner import OWNER_LABEL, is_gone

        client = self.facade.ctrd
        deleted = []
        for lease in client.leases.list():
            if not is_gone(lease.labels.get(OWNER_LABEL)):
                continue
            try:
                # sync: containerd collects what only this lease held before the image prune looks
                client.leases.delete(lease.id, sync=True)
            except NotFound:
                continue  # another prune got there first
            deleted.append(lease.id)
        return {"deleted": deleted, "count": len(deleted)}

    # -- events ----------------------------------------------------------------------------------------

    def events(
        self,
        *,
        filters: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events of the current namespace as records, from now on (containerd keeps no history, so
        ``since`` only drops events stamped earlier); ``until`` ends the stream at that time.

        The subscription is open when this returns; closing the iterator (``.close()``) ends it, and a
        set ``cancel`` ends it with Interrupted.
        """
        from managers.filters import parse_filters
        from managers.labels import LABEL

        wanted = parse_filters(filters, EVENT_FILTERS, "events")
        client = self.facade.ctrd
        subscription = client.events.subscribe()
        try:
            early = client.events.wait_live(subscription, timeout=LIVE_TIMEOUT)
            containers = client.containers.list()
            names = {c.id: (c.labels or {}).get(LABEL.NAME, "") for c in containers}
            labels = {c.id: _user_labels(c.labels or {}) for c in containers}
        except BaseException:
            subscription.close()
            raise
        stop = threading.Event()

        def watchdog() -> None:
            # Wakes the blocked stream read when Ctrl-C is pressed or the deadline passes.
            while not stop.wait(0.1):
                if (cancel is not None and cancel.is_set()) or (until is not None and datetime.now(UTC) >= until):
                    subscription.close()
                    return

        if cancel is not None or until is not None:
            threading.Thread(target=watchdog, name="pouchsh-events-watchdog", daemon=True).start()
        return self._event_records(itertools.chain(early, subscription), subscription, names, labels, wanted,
                                   since, cancel, stop, client)

    def _event_records(
        self, events: Iterator[Any], subscription: Any, names: dict[str, str], labels: dict[str, dict[str, str]],
        wanted: dict[str, list[str]], since: datetime | None, cancel: threading.Event | None,
        stop: threading.Event, client: Any,
    ) -> Iterator[dict[str, Any]]:
        from managers.labels import LABEL

        try:
            for event in events:
                if event.topic.startswith("/pouchsh/"):
                    continue
                if since is not None and event.timestamp is not None and event.timestamp < since:
                    continue
                if event.topic in ("/containers/create", "/containers/update"):
                    cid = event.payload.get("id", "")
                    try:
                        found = client.containers.get(cid).labels or {}
                        names[cid] = found.get(LABEL.NAME, "")
                        labels[cid] = _user_labels(found)
                    except NotFound:
                        pass
                record = event_record(event, names, labels)
                if _event_matches(record, wanted):
                    yield record
            if cancel is not None and cancel.is_set():
                raise Interrupted("events: interrupted")
        finally:
            stop.set()
            subscription.close()

    # -- namespaces ------------------------------------------------------------------------------------

    def namespaces(self) -> list[dict[str, Any]]:
        current = self.facade.namespace
        return [
            {"name": n.name, "labels": dict(n.labels), "current": n.name == current}
            for n in sorted(self.facade.client.namespaces.list(), key=lambda n: n.name)
        ]

    def namespace_create(self, name: str, *, labels: list[str] | None = None) -> dict[str, Any]:
        from managers.options import parse_key_values

        ns = self.facade.client.namespaces.create(name, parse_key_values(labels, "--label"))
        return {"name": ns.name, "labels": dict(ns.labels), "current": ns.name == self.facade.namespace}

    def namespace_remove(self, names: list[str]) -> list[str]:
        """Remove empty namespaces: containerd refuses one that still holds anything, and pouchsh one that
        still has volumes."""
        from managers.store import Store

        for name in names:
            self.facade.client.namespaces.get(name)
            if Store(self.facade.root / "state" / name / "volumes.json").read().get("volumes"):
                raise Conflict(f"namespace {name} still has volumes", hint=f"namespace use {name}; volume prune -a")
        for name in names:
            try:
                self.facade.client.namespaces.delete(name)
            except Conflict as e:
                raise Conflict(
                    f"namespace {name} is not empty (containers, images, content or snapshots remain)",
                    hint=f"namespace use {name}, then remove what it holds",
                ) from e
        return names

    def namespace_use(self, name: str) -> dict[str, Any]:
        """Make ``name`` the namespace of every later command. It must exist (``namespace create``), so a
        typo does not silently start an empty namespace; ``default`` is always allowed, as containerd
        makes it on first use."""
        try:
            ns = self.facade.client.namespaces.get(name)
            labels = dict(ns.labels)
        except NotFound:
            if name != DEFAULT_NAMESPACE:
                raise
            labels = {}
        self.facade.namespace = name
        return {"name": name, "labels": labels, "current": True}


def _df_row(kind: str, total: int, active: int, size: int, reclaimable: int) -> dict[str, Any]:
    return {"type": kind, "total": total, "active": active, "size": size, "reclaimable": reclaimable}


def _os_name() -> str:
    import platform

    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip('"')
    except OSError:
        pass
    return platform.system()


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0

