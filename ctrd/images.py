"""Image records (name → target descriptor) and reading an image's manifest and config from content."""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask

from ctrd.api.services.images.v1 import images_pb2 as pb
from ctrd.api.services.images.v1 import images_pb2_grpc
from ctrd.convert import to_datetime
from ctrd.descriptors import INDEX_TYPES, MANIFEST_TYPES, Descriptor
from ctrd.errors import InvalidArgument, NotFound
from ctrd.service import Service

__all__ = ["HOST_PLATFORM", "Image", "ImageSpec", "Images", "Platform"]


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: ``os``, ``architecture`` and optional ``variant``."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, spec: Mapping[str, Any] | None) -> bool:
        """Does an index entry's ``platform`` object name this platform (no variant there means any)?"""
        if not spec:
            return False
        if spec.get("os") != self.os or spec.get("architecture") != self.architecture:
            return False
        return not spec.get("variant") or not self.variant or spec.get("variant") == self.variant


_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}
HOST_PLATFORM = Platform("linux", _ARCH.get(_platform.machine(), _platform.machine()))


@dataclass(frozen=True, slots=True)
class Image:
    """An image record: ``name`` (``docker.io/library/busybox:latest``), ``target`` (index or manifest
    descriptor), ``labels``, ``created_at``, ``updated_at``."""

    name: str
    target: Descriptor
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What an image resolves to for one platform: the ``manifest`` and ``config`` (parsed JSON) with
    their descriptors, the ``layers`` and their uncompressed ``diff_ids``."""

    image: Image
    manifest_descriptor: Descriptor
    manifest: Mapping[str, Any]
    config_descriptor: Descriptor
    config: Mapping[str, Any]
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]

    @property
    def chain_id(self) -> str:
        """The snapshot name of the image's top layer (its unpacked rootfs)."""
        from ctrd.chain import chain_id

        return chain_id(self.diff_ids)

    @property
    def size(self) -> int:
        """Bytes in the content store: manifest, config and (compressed) layers."""
        return self.manifest_descriptor.size + self.config_descriptor.size + sum(layer.size for layer in self.layers)


def _image(msg: pb.Image) -> Image:
    return Image(
        msg.name, Descriptor.from_proto(msg.target), dict(msg.labels), to_datetime(msg.created_at), to_datetime(msg.updated_at)
    )


class Images(Service):
    stub_class = images_pb2_grpc.ImagesStub

    def get(self, name: str) -> Image:
        return _image(self.client.call(self.stub.Get, pb.GetImageRequest(name=name), f"image {name}").image)

    def list(self, filters: Sequence[str] = ()) -> list[Image]:
        reply = self.client.call(self.stub.List, pb.ListImagesRequest(filters=list(filters)), "image list")
        return [_image(m) for m in reply.images]

    def create(self, name: str, target: Descriptor, labels: Mapping[str, str] | None = None) -> Image:
        image = pb.Image(name=name, target=target.to_proto(), labels=dict(labels or {}))
        return _image(self.client.call(self.stub.Create, pb.CreateImageRequest(image=image), f"image create {name}").image)

    def update(
        self, name: str, *, target: Descriptor | None = None, labels: Mapping[str, str | None] | None = None
    ) -> Image:
        """Change the target and/or set (None: remove) labels, leaving the rest of the record as it is."""
        image = pb.Image(name=name)
        paths = []
        if target is not None:
            image.target.CopyFrom(target.to_proto())
            paths.append("target")
        for key, value in (labels or {}).items():
            if value is not None:
                image.labels[key] = value
            paths.append(f"labels.{key}")
        if not paths:
            return self.get(name)
        request = pb.UpdateImageRequest(image=image, update_mask=FieldMask(paths=paths))
        return _image(self.client.call(self.stub.Update, request, f"image {name}").image)

    def put(self, name: str, target: Descriptor, labels: Mapping[str, str] | None = None) -> Image:
        """Point ``name`` at ``target``, creating the record if needed (what ``ctr images import`` does)."""
        try:
            return self.update(name, target=target, labels=labels)
        except NotFound:
            return self.create(name, target, labels)

    def delete(self, name: str, *, sync: bool = False) -> None:
        """Delete the record; ``sync`` waits for the garbage collection of what only it referenced."""
        self.client.call(self.stub.Delete, pb.DeleteImageRequest(name=name, sync=sync), f"image delete {name}")

    def spec(self, image: Image | str, platform: Platform = HOST_PLATFORM) -> ImageSpec:
        """Read an image's manifest (picking ``platform`` from an index) and config from content."""
        if isinstance(image, str):
            image = self.get(image)
        content = self.client.content
        manifest_descriptor = image.target
        document = content.read_json(manifest_descriptor.digest)
        if manifest_descriptor.media_type in INDEX_TYPES or (
            "manifests" in document and manifest_descriptor.media_type not in MANIFEST_TYPES
        ):
            manifest_descriptor = _pick(document, platform, image.name)
            document = content.read_json(manifest_descriptor.digest)
        try:
            config_descriptor = Descriptor.from_json(document["config"])
            layers = tuple(Descriptor.from_json(layer) for layer in document.get("layers") or ())
        except (KeyError, TypeError) as err:
            raise InvalidArgument(f"image {image.name}: malformed manifest {manifest_descriptor.digest}") from err
        config = content.read_json(config_descriptor.digest)
        try:
            diff_ids = tuple(config["rootfs"]["diff_ids"])
        except (KeyError, TypeError) as err:
            raise InvalidArgument(f"image {image.name}: config {config_descriptor.digest} has no rootfs.diff_ids") from err
        if len(diff_ids) != len(layers):
            raise InvalidArgument(
                f"image {image.name}: {len(layers)} layers in the manifest but {len(diff_ids)} diff_ids in the config"
            )
        return ImageSpec(image, manifest_descriptor, document, config_descriptor, config, layers, diff_ids)


def _pick(index: Mapping[str, Any], platform: Platform, name: str) -> Descriptor:
    entries = index.get("manifests") or []
    for entry in entries:
        if platform.matches(entry.get("platform")):
            return Descriptor.from_json(entry)
    # An index whose single manifest names no platform (e.g. an OCI layout written by hand) is that manifest.
    if len(entries) == 1 and not entries[0].get("platform"):
        return Descriptor.from_json(entries[0])
    offered = ", ".join(
        "/".join(str(v) for v in (e.get("platform") or {}).values() if isinstance(v, str) and v) for e in entries
    )
    raise NotFound(f"image {name}: no manifest for {platform} (the index offers: {offered or 'none'})")
