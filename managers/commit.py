"""``commit``: a new image from a container's changes, the image it was made from plus one layer.

containerd makes the layer: its Diff service compares a read-only view of the container's parent
snapshot (the image's unpacked layers) with the container's own snapshot and writes the difference as a
gzip tar blob to the content store (containerd's walking differ, on its side: pouchsh reads nothing of
the container's files). The new config is the image's with the layer's diff ID, a history entry and the
``--change`` instructions applied (managers.changes); then a manifest, the image record, and an unpack
of the new layer so the image runs at once. Everything is made under one lease: a failure or a kill at
any step leaves nothing the garbage collector keeps.

A running container is paused for the diff (``--pause``, docker's default), so the layer is one moment
of its filesystem. The pause is the one step outside a lease: it is bracketed by an intent
(``container.commit``), so a ``kill -9`` while the container is frozen is undone by the next invocation,
which resumes it.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ctrd.errors import Conflict, InvalidArgument, NotFound
from ctrd.images import Image
from ctrd.unpack import UNCOMPRESSED_LABEL, unpack
from managers import faults, reference
from managers.changes import apply_changes
from managers.intents import Journal
from managers.labels import LABEL
from managers.lifecycle import quiet
from managers.oci import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, child_gc_labels
from managers.resolver import name_of

if TYPE_CHECKING:
    from managers.containers import ContainerManager

__all__ = ["commit", "reconcile_intent"]

#: the record name of an image committed without one (as ``import``'s): never a valid reference
_UNNAMED = "<none>"


def commit(
    manager: ContainerManager, ref: str, repository: str | None = None, *, changes: builtins.list[str] = (),  # type: ignore[assignment]
    message: str = "", author: str = "", pause: bool = True,
) -> dict[str, Any]:
    """The new image's record (as ``images`` shows it). ``changes`` are checked before anything is made."""
    client = manager.client
    name = str(reference.parse(repository)) if repository else None
    c = manager.resolver.get(ref)
    apply_changes({}, changes)  # a bad instruction fails here, before the container is paused
    base = client.images.spec(_image_of(client, c))
    parent = client.snapshots.stat(c.snapshot_key or c.id).parent
    if parent != base.chain_id:
        raise Conflict(f"container {name_of(c)}: its snapshot's parent is not its image's layers")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    with client.lease(sync_delete=True) as leased:
        layer = _diff(manager, leased, c, parent, pause)
        faults.point("container.commit.layer")
        diff_id = client.content.info(layer.digest).labels.get(UNCOMPRESSED_LABEL)
        if not diff_id:
            raise InvalidArgument(f"commit {name_of(c)}: containerd gave the layer no uncompressed digest")
        config = copy.deepcopy(dict(base.config))
        config["created"] = now
        if author:
            config["author"] = author
        config["config"] = apply_changes(config.get("config"), changes)
        rootfs = dict(config.get("rootfs") or {})
        rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), diff_id]
        config["rootfs"] = {**rootfs, "type": "layers"}
        entry = {"created": now, "created_by": f"pouchsh commit {name_of(c)}"}
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        config["history"] = [*(config.get("history") or []), entry]
        config_desc = leased.content.write_blob(json.dumps(config, separators=(",", ":")).encode(), OCI_CONFIG)
        layers = [*base.layers, layer]
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc.to_json(),
                    "layers": [d.to_json() for d in layers]}
        gc = child_gc_labels(OCI_MANIFEST, [config_desc, *layers])
        target = leased.content.write_blob(json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST, labels=gc)
        leased.content.update_labels(target.digest, gc)
        image = Image(name or f"{_UNNAMED}@{target.digest}", target)
        unpack(leased, leased.images.spec(image), snapshotter=manager.facade.images.snapshotter)
        faults.point("container.commit.image")
        leased.images.put(image.name, target)
    # by its id: an unnamed image's record name is no reference
    return dict(manager.facade.images.inspect(config_desc.digest))


def _image_of(client: Any, c: Any) -> Image:
    """The image the container was made from, by the content its label holds (the name may have moved
    to another image since, or be gone: the content stays while the container needs it)."""
    digest = c.labels.get(LABEL.IMAGE_CONTENT)
    if not digest:
        return client.images.get(c.image)
    try:
        info = client.content.info(digest)
        document = client.content.read_json(digest)
    except NotFound:
        raise NotFound(f"container {name_of(c)}: the content of its image {c.image} is gone") from None
    media = document.get("mediaType") if isinstance(document, dict) else None
    if not isinstance(media, str) or not media:
        media = OCI_INDEX if isinstance(document, dict) and "manifests" in document else OCI_MANIFEST
    return Image(c.image, Descriptor(media, digest, info.size))


def _diff(manager: ContainerManager, leased: Any, c: Any, parent: str, pause: bool) -> Descriptor:
    """The layer of the container's changes, made while it is paused (if it runs and ``pause``), under
    the caller's lease (``leased``), which keeps the blob until the image references it."""
    client = manager.client
    task = manager.resolver.task(c.id)
    freeze = pause and task is not None and task.status == "running"
    view = f"commit-{c.id[:20]}-{os.urandom(6).hex()}"
    journal = Journal(manager.facade.root)
    intent = journal.begin("container.commit", namespace=manager.facade.namespace, id=c.id, paused=freeze)
    try:
        if freeze:
            client.tasks.pause(c.id)
            faults.point("container.commit.paused")
        lower = leased.snapshots.view(view, parent)
        try:
            upper = client.snapshots.mounts(c.snapshot_key or c.id)
            return leased.diff.compare(lower, upper, media_type=OCI_LAYER_GZIP, ref=f"commit-{view}")
        finally:
            quiet(client.snapshots.remove, view)
    finally:
        if freeze:
            quiet(client.tasks.resume, c.id)
        intent.clear()


def reconcile_intent(manager: ContainerManager, record: dict[str, Any]) -> None:
    """A commit killed while its container was frozen: thaw it (a container removed since needs nothing)."""
    if record.get("paused"):
        task = manager.resolver.task(str(record["id"]))
        if task is not None and task.status in ("paused", "pausing"):
            manager.client.tasks.resume(str(record["id"]))
