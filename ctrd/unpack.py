"""Client-side unpack: apply an image's layers into committed snapshots named by their chain IDs.

This is what containerd 1.6's Go client does in ``(*image).Unpack``: per layer, skip it when its chain
snapshot exists, else Prepare an extract snapshot on the previous chain, Diff.Apply the blob into it,
check the applied digest against the config's diff ID, and Commit it under the chain ID. Everything runs
inside a lease, so a failure half-way leaves nothing for the garbage collector to miss.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ctrd.chain import chain_ids
from ctrd.errors import AlreadyExists, InvalidArgument, NotFound, PouchError
from ctrd.snapshots import DEFAULT_SNAPSHOTTER

if TYPE_CHECKING:
    from ctrd.client import Client
    from ctrd.descriptors import Descriptor
    from ctrd.images import Image, ImageSpec

__all__ = ["UNCOMPRESSED_LABEL", "is_unpacked", "unpack", "unpack_layers"]

UNCOMPRESSED_LABEL = "containerd.io/uncompressed"
SNAPSHOT_REF_LABEL = "containerd.io/gc.ref.snapshot.{snapshotter}"
_PREPARE_ATTEMPTS = 3


def is_unpacked(client: Client, spec: ImageSpec, snapshotter: str = DEFAULT_SNAPSHOTTER) -> bool:
    try:
        client.snapshots.stat(spec.chain_id, snapshotter=snapshotter)
    except NotFound:
        return False
    return True


def unpack(client: Client, image: Image | ImageSpec | str, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> str:
    """Unpack an image (name, record or resolved spec) onto ``snapshotter``; returns its chain ID."""
    from ctrd.images import ImageSpec

    spec = image if isinstance(image, ImageSpec) else client.images.spec(image)
    return unpack_layers(
        client, spec.layers, spec.diff_ids, spec.config_descriptor, snapshotter=snapshotter
    )


def unpack_layers(
    client: Client,
    layers: Sequence[Descriptor],
    diff_ids: Sequence[str],
    config: Descriptor,
    *,
    snapshotter: str = DEFAULT_SNAPSHOTTER,
    ready: Callable[[int], None] | None = None,
) -> str:
    """Apply ``layers`` in order; ``ready(i)``, when given, returns once layer ``i``'s blob is in the
    content store (a pull calls this while the later layers still download). Returns the chain ID."""
    if len(layers) != len(diff_ids):
        raise InvalidArgument(f"image has {len(layers)} layers but {len(diff_ids)} diff IDs")
    chain = chain_ids(list(diff_ids))
    with client.lease() as leased:
        for i, (layer, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            parent = chain[i - 1] if i else ""
            try:
                leased.snapshots.stat(chain[i], snapshotter=snapshotter)
                continue
            except NotFound:
                pass
            if ready is not None:
                ready(i)
            _apply_layer(leased, layer, diff_id, chain[i], parent, snapshotter)
            leased.content.update_labels(layer.digest, {UNCOMPRESSED_LABEL: diff_id})
        if chain:
            label = SNAPSHOT_REF_LABEL.format(snapshotter=snapshotter)
            leased.content.update_labels(config.digest, {label: chain[-1]})
    return chain[-1] if chain else ""


def _apply_layer(client: Client, layer: Descriptor, diff_id: str, name: str, parent: str, snapshotter: str) -> None:
    snapshots = client.snapshots
    for attempt in range(_PREPARE_ATTEMPTS):
        key = f"extract-{time.time_ns()}-{base64.urlsafe_b64encode(os.urandom(6)).decode()} {name}"
        try:
            mounts = snapshots.prepare(key, parent, snapshotter=snapshotter)
            break
        except AlreadyExists:
            if attempt == _PREPARE_ATTEMPTS - 1:
                raise
    try:
        applied = client.diff.apply(layer, mounts)
        if applied.digest != diff_id:
            raise InvalidArgument(
                f"layer {layer.digest}: unpacked to {applied.digest}, but the image config says {diff_id}"
            )
        snapshots.commit(name, key, snapshotter=snapshotter)
    except AlreadyExists:
        # Another unpack committed the same chain meanwhile: theirs is as good as ours.
        _remove_quietly(client, key, snapshotter)
    except BaseException:
        _remove_quietly(client, key, snapshotter)
        raise


def _remove_quietly(client: Client, key: str, snapshotter: str) -> None:
    try:
        client.snapshots.remove(key, snapshotter=snapshotter)
    except PouchError:
        pass  # the lease still covers it, and the error being raised says what went wrong
