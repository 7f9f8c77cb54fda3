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


def _remove_snapshots(client: Client, snapshotter: str, problems: list[str], passes: int = 20) -> None:
    """Leaves first (a snapshot with children cannot go), re-listing after each pass."""
    try:
        remaining = client.snapshots.list(snapshotter=snapshotter)
    except PouchError:
        return  # snapshotter not loaded here
    errors: list[str] = []
    for _ in range(passes):
        if not remaining:
            return
        parents = {s.parent for s in remaining}
        errors = []
        for snap in remaining:
            if snap.name in parents:
                continue
            try:
                client.snapshots.remove(snap.name, snapshotter=snapshotter)
            except NotFound:
                pass
            except PouchError as err:
                errors.append(f"snapshot remove {snap.name}: {err}")
        remaining = client.snapshots.list(snapshotter=snapshotter)
    problems.extend(errors or [f"snapshots left in {snapshotter}: {[s.name for s in remaining]}"])
