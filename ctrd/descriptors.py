"""OCI content descriptors and the media types ctrd recognises."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ctrd.api.types import descriptor_pb2
from ctrd.errors import InvalidArgument

__all__ = [
    "INDEX_TYPES",
    "LAYER_TYPES",
    "MANIFEST_TYPES",
    "Descriptor",
    "MediaType",
    "check_digest",
    "sha256_digest",
]


class MediaType:
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


INDEX_TYPES = frozenset({MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST})
LAYER_TYPES = frozenset(
    {
        MediaType.OCI_LAYER,
        MediaType.OCI_LAYER_GZIP,
        MediaType.OCI_LAYER_ZSTD,
        MediaType.DOCKER_LAYER,
        MediaType.DOCKER_LAYER_GZIP,
    }
)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI descriptor: ``media_type``, ``digest`` (``sha256:<hex>``), ``size`` in bytes, ``annotations``."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_proto(cls, msg: descriptor_pb2.Descriptor) -> Descriptor:
        return cls(msg.media_type, msg.digest, msg.size, dict(msg.annotations))

    def to_proto(self) -> descriptor_pb2.Descriptor:
        return descriptor_pb2.Descriptor(
            media_type=self.media_type, digest=self.digest, size=self.size, annotations=dict(self.annotations)
        )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Descriptor:
        """From an OCI JSON descriptor (``{"mediaType", "digest", "size", "annotations"}``)."""
        try:
            return cls(obj["mediaType"], obj["digest"], int(obj["size"]), dict(obj.get("annotations") or {}))
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidArgument(f"malformed OCI descriptor {obj!r}") from err

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` if it is a well-formed ``sha256:<64 hex>``; InvalidArgument otherwise."""
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest {digest!r} (want sha256:<64 lowercase hex digits>)")
    return digest
