"""Import an OCI image layout (a directory or a tar of one) into containerd, through ctrd alone.

Like ``ctr images import``: inside one lease, write every blob reachable from ``index.json`` to the content
store, label each parent with the GC references to its children, point an image record at each manifest
entry of the index, and unpack it.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ctrd.descriptors import INDEX_TYPES, MANIFEST_TYPES, Descriptor
from ctrd.errors import InvalidArgument, NotFound
from ctrd.snapshots import DEFAULT_SNAPSHOTTER

if TYPE_CHECKING:
    from ctrd.client import Client
    from ctrd.images import Image

__all__ = ["import_oci_layout"]

NAME_ANNOTATION = "io.containerd.image.name"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


class _Layout:
    """Blob access to an OCI layout, either a directory or a tar archive of one."""

    def __init__(self, root: Path | None, tar: tarfile.TarFile | None) -> None:
        self.root = root
        self.tar = tar

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        if self.root is not None:
            try:
                with (self.root / path).open("rb") as f:
                    yield f
            except FileNotFoundError:
                raise NotFound(f"OCI layout: {path} is missing") from None
            return
        assert self.tar is not None
        for candidate in (path, "./" + path):
            try:
                member = self.tar.extractfile(candidate)
                break
            except KeyError:
                continue
        else:
            raise NotFound(f"OCI layout: {path} is missing")
        if member is None:
            raise InvalidArgument(f"OCI layout: {path} is not a regular file")
        with member:
            yield member

    def read_json(self, path: str) -> Any:
        with self.open(path) as f:
            try:
                return json.load(f)
            except ValueError as err:
                raise InvalidArgument(f"OCI layout: {path} is not JSON ({err})") from None


def _blob_path(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    if not hexpart or "/" in hexpart or "/" in algorithm:
        raise InvalidArgument(f"OCI layout: bad digest {digest!r}")
    return f"blobs/{algorithm}/{hexpart}"


def import_oci_layout(
    client: Client,
    source: str | Path,
    *,
    name: str | None = None,
    unpack: bool = True,
    snapshotter: str = DEFAULT_SNAPSHOTTER,
) -> list[Image]:
    """Import the layout at ``source`` (directory or tar); returns the image records it created.

    Each index entry is named by its ``io.containerd.image.name`` annotation, else a full
    ``org.opencontainers.image.ref.name``, else ``name`` (allowed only for a single-entry index).
    """
    path = Path(source)
    if path.is_dir():
        return _import(client, _Layout(path, None), name, unpack, snapshotter)
    try:
        tar = tarfile.open(path)  # noqa: SIM115 (closed below; the open itself is what may fail)
    except (OSError, tarfile.TarError) as err:
        raise InvalidArgument(f"{path}: not an OCI layout directory or tar archive ({err})") from None
    with tar:
        return _import(client, _Layout(None, tar), name, unpack, snapshotter)


def _import(client: Client, layout: _Layout, name: str | None, unpack: bool, snapshotter: str) -> list[Image]:
    marker = layout.read_json("oci-layout")
    if not isinstance(marker, dict) or "imageLayoutVersion" not in marker:
        raise InvalidArgument("OCI layout: oci-layout has no imageLayoutVersion")
    index = layout.read_json("index.json")
    entries = [Descriptor.from_json(e) for e in index.get("manifests") or []]
    if not entries:
        raise InvalidArgument("OCI layout: index.json lists no manifests")
    named = [(_name_of(entry, name, len(entries)), entry) for entry in entries]
    images: list[Image] = []
    with client.lease() as leased:
        for _image_name, entry in named:
            _store_tree(leased, layout, entry)
        for image_name, entry in named:
            images.append(leased.images.put(image_name, entry))
        if unpack:
            from ctrd.unpack import unpack as unpack_image

            for image in images:
                unpack_image(leased, image, snapshotter=snapshotter)
    return images


def _name_of(entry: Descriptor, name: str | None, count: int) -> str:
    annotations = entry.annotations
    if annotations.get(NAME_ANNOTATION):
        return annotations[NAME_ANNOTATION]
    ref = annotations.get(REF_NAME_ANNOTATION, "")
    if "/" in ref or ":" in ref:
        return ref
    if name and count == 1:
        return name
    raise InvalidArgument(
        f"OCI layout: manifest {entry.digest} has no image name annotation; give a name (single-manifest layouts only)"
    )


def _store_tree(client: Client, layout: _Layout, desc: Descriptor) -> None:
    """Write ``desc`` and everything below it, children first, parents labelled with GC refs to them."""
    labels: dict[str, str] = {}
    if desc.media_type in INDEX_TYPES or desc.media_type in MANIFEST_TYPES:
        document = layout.read_json(_blob_path(desc.digest))
        if desc.media_type in INDEX_TYPES:
            for n, child in enumerate(document.get("manifests") or []):
                child_desc = Descriptor.from_json(child)
                _store_tree(client, layout, child_desc)
                labels[f"containerd.io/gc.ref.content.m.{n}"] = child_desc.digest
        else:
            config = Descriptor.from_json(document["config"])
            _store_blob(client, layout, config)
            labels["containerd.io/gc.ref.content.config"] = config.digest
            for n, layer in enumerate(document.get("layers") or []):
                layer_desc = Descriptor.from_json(layer)
                _store_blob(client, layout, layer_desc)
                labels[f"containerd.io/gc.ref.content.l.{n}"] = layer_desc.digest
    _store_blob(client, layout, desc)
    if labels:
        # Commit-time labels are lost when the blob was already there; set them either way.
        client.content.update_labels(desc.digest, labels)


def _store_blob(client: Client, layout: _Layout, desc: Descriptor) -> None:
    with layout.open(_blob_path(desc.digest)) as f:
        client.content.write(f, expected=desc.digest, total=desc.size)
