"""Empty and remove a containerd namespace: tasks, containers, images, leases, snapshots, content.

The order is what makes it safe while containerd's garbage collector (which any deletion may start) and
its restart monitor run beside it:

1. containers lose the restart monitor's label, so nothing starts a task again behind our back;
2. every task is killed (resumed first if paused: a frozen process cannot die) and waited for, then
   deleted; tasks are listed again until none is left, because one may appear meanwhile;
3. containers are deleted (their rootfs snapshot first, as ctr's ``WithSnapshotCleanup`` does), and the
   tasks are checked once more (containerd deletes a record whose task still runs);
4. images and leases;
5. snapshots children first, by walking the parent links. A removal refused with "cannot remove
   snapshot with child" means a child appeared after the listing, or that the garbage collector removed
   the child without clearing the parent's record of it (containerd 1.6 does that, and then only the
   collector can remove the parent): run a collection, wait for it, re-list and go on, until a deadline.
   Any other error is a problem at once;
6. content, and the namespace itself;
7. no runc shim of the namespace is left running: each ends once its task is deleted, so one that stays
   is a shim nobody can reach any more (a Tasks.Create whose caller was killed, say).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ctrd.client import Client
from ctrd.errors import Conflict, NotFound, PouchError

SNAPSHOTTERS = ("overlayfs", "native")
RESTART_STATUS = "containerd.io/restart.status"
#: containerd's word when a snapshot still has children (metadata/snapshot.go)
HAS_CHILD = "cannot remove snapshot with child"


def purge_namespace(root: Client, namespace: str, *, stop_timeout: float = 10.0, deadline: float = 60.0) -> list[str]:
    """Remove everything in ``namespace`` and the namespace itself; returns what could not be removed.

    ``stop_timeout`` bounds the wait for one killed task, ``deadline`` the whole purge's retries.
    """
    client = root.with_namespace(namespace)
    until = time.monotonic() + deadline
    problems: list[str] = []

    def attempt(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except NotFound:
            pass
        except PouchError as err:
            problems.append(f"{what}: {err}")

    containers = client.containers.list()
    for container in containers:
        if RESTART_STATUS in (container.labels or {}):
            attempt(f"container update {container.id}", client.containers.update, container.id, labels={RESTART_STATUS: None})
    problems += _end_tasks(client, stop_timeout, until)
    for container in client.containers.list():
        if container.snapshot_key:
            try:
                client.snapshots.remove(container.snapshot_key, snapshotter=container.snapshotter or "overlayfs")
            except PouchError:
                pass  # gone already, or still a parent: the snapshot walk below deals with it
        attempt(f"container delete {container.id}", client.containers.delete, container.id)
    problems += _end_tasks(client, stop_timeout, until)
    for image in client.images.list():
        attempt(f"image delete {image.name}", client.images.delete, image.name)
    for lease in client.leases.list():
        attempt(f"lease delete {lease.id}", client.leases.delete, lease.id)
    for snapshotter in SNAPSHOTTERS:
        problems += _remove_snapshots(client, snapshotter, until)
    for info in client.content.list():
        attempt(f"content delete {info.digest}", client.content.delete, info.digest)
    attempt(f"namespace delete {namespace}", root.namespaces.delete, namespace)
    while (left := shims_of(root.address, namespace)) and time.monotonic() < until:
        time.sleep(0.05)  # a poll with a deadline: a shim exits moments after its task's deletion
    problems += [f"shim {pid} left running" for pid in left]
    return problems


def shims_of(address: str, namespace: str) -> list[int]:
    """The pids of the runc shims of the containerd at ``address`` serving ``namespace`` (several daemons
    may have a namespace of the same name: the fleet tests')."""
    socket = address.removeprefix("unix://").encode()
    wanted = (b"\0-namespace\0" + namespace.encode() + b"\0", b"\0-address\0" + socket + b"\0")
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"containerd-shim" in cmdline.split(b"\0", 1)[0] and all(part in cmdline + b"\0" for part in wanted):
            pids.append(int(entry))
    return pids


def _end_tasks(client: Client, stop_timeout: float, until: float) -> list[str]:
    """Kill, wait for and delete every task, listing again until none is left or ``until`` passes."""
    errors: list[str] = []
    while tasks := client.tasks.list():
        if time.monotonic() >= until:
            return errors or [f"tasks keep appearing: {[t.container_id for t in tasks]}"]
        errors = [error for task in tasks if (error := _end_task(client, task, stop_timeout))]
    return []


def _end_task(client: Client, task: Any, stop_timeout: float) -> str | None:
    cid = task.container_id
    tasks = client.tasks
    try:
        if task.status in ("paused", "pausing"):
            tasks.resume(cid)
        if task.status != "stopped":
            waiter = tasks.wait(cid)
            try:
                tasks.kill(cid, "SIGKILL", all=True)
            except (NotFound, Conflict):
                waiter.cancel()  # it ended meanwhile (or never ran): nothing to wait for
            else:
                waiter.result(stop_timeout)
        tasks.delete(cid)
    except NotFound:
        return None
    except PouchError as err:
        return f"task {cid} ({task.status}): {err}"
    return None


def _remove_snapshots(client: Client, snapshotter: str, until: float) -> list[str]:
    """Remove every snapshot of ``snapshotter``, children before their parents."""
    raced: list[str] = []
    while True:
        try:
            snapshots = client.snapshots.list(snapshotter=snapshotter)
        except PouchError:
            return []  # snapshotter not loaded here
        if not snapshots:
            return []
        if time.monotonic() >= until:
            return raced or [f"snapshots keep appearing in {snapshotter}: {[s.name for s in snapshots]}"]
        raced = []
        for name in _children_first(snapshots):
            try:
                client.snapshots.remove(name, snapshotter=snapshotter)
            except NotFound:
                pass  # the garbage collector was quicker
            except Conflict as err:
                if HAS_CHILD not in err.message:
                    return [f"snapshot remove {name}: {err}"]
                raced.append(f"snapshot remove {name}: {err}")  # a child came after the listing
            except PouchError as err:
                return [f"snapshot remove {name}: {err}"]
        if raced:
            _collect(client)


def _collect(client: Client) -> None:
    """Run containerd's garbage collection now and wait for it (a lease deleted with ``sync``)."""
    lease = f"purge-collect-{time.monotonic_ns()}"
    client.leases.create(lease)
    client.leases.delete(lease, sync=True)


def _children_first(snapshots: list[Any]) -> list[str]:
    """Snapshot names, deepest first along the parent links: every child before its parent."""
    parent = {s.name: s.parent for s in snapshots}
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            up = parent[name]
            depth[name] = depth_of(up) + 1 if up in parent else 0
        return depth[name]

    return sorted(parent, key=depth_of, reverse=True)
