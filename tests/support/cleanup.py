"""Empty and remove a containerd namespace: tasks, containers, images, leases, snapshots, content."""

from __future__ import annotations

from ctrd.client import Client
from ctrd.errors import NotFound, PouchError

SNAPSHOTTERS = ("overlayfs", "native")


def purge_namespace(root: Client, namespace: str, *, stop_timeout: float = 10.0) -> list[str]:
    """Remove everything in ``namespace`` and the namespace itself; returns what could not be removed."""
    client = root.with_namespace(namespace)
    problems: list[str] = []

    def attempt(what: str, fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args, **kwargs)
        except NotFound:
            pass
        except PouchError as err:
            problems.append(f"{what}: {err}")

    for task in client.tasks.list():
        if task.status not in ("stopped", "created"):
            waiter = client.tasks.wait(task.container_id)
            attempt(f"kill {task.container_id}", client.tasks.kill, task.container_id, "SIGKILL", all=True)
            attempt(f"wait {task.container_id}", waiter.result, stop_timeout)
        attempt(f"task delete {task.container_id}", client.tasks.delete, task.container_id)
    for container in client.containers.list():
        attempt(f"container delete {container.id}", client.containers.delete, container.id)
    for image in client.images.list():
        attempt(f"image delete {image.name}", client.images.delete, image.name)
    for lease in client.leases.list():
        attempt(f"lease delete {lease.id}", client.leases.delete, lease.id)
    for snapshotter in SNAPSHOTTERS:
        _remove_snapshots(client, snapshotter, problems)
    for info in client.content.list():
        attempt(f"content delete {info.digest}", client.content.delete, info.digest)
    attempt(f"namespace delete {namespace}", root.namespaces.delete, namespace)
    return problems


def _remove_snapshots(client: Client, snapshotter: str, problems: list[str]) -> None:
    """Leaves first: a snapshot with children cannot be removed."""
    try:
        remaining = client.snapshots.list(snapshotter=snapshotter)
    except PouchError:
        return  # snapshotter not loaded here
    while remaining:
        parents = {s.parent for s in remaining}
        leaves = [s for s in remaining if s.name not in parents]
        for snap in leaves:
            try:
                client.snapshots.remove(snap.name, snapshotter=snapshotter)
            except NotFound:
                pass
            except PouchError as err:
                problems.append(f"snapshot remove {snap.name}: {err}")
                return
        remaining = client.snapshots.list(snapshotter=snapshotter)
