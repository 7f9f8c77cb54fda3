"""OCI and Docker image formats: media types, descriptors, the manifest tree and platforms.

Pure data handling shared by the archive reader and writer, the registry client and the image manager;
none of it talks to containerd or the network. The descriptor and platform types are ctrd's, so what is
parsed here goes to containerd as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from ctrd.descriptors import INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, Descriptor, MediaType, check_digest
from ctrd.errors import InvalidArgument, NotFound
from ctrd.images import HOST_PLATFORM, Platform

__all__ = [
    "CONFIG_TYPES",
    "INDEX_TYPES",
    "LAYER_TYPES",
    "MANIFEST_TYPES",
    "MAX_MANIFEST",
    "Descriptor",
    "Platform",
    "child_gc_labels",
    "children",
    "descriptor",
    "digest_of",
    "hex_of",
    "load_json",
    "media_type_of",
    "parse_platform",
    "select_manifest",
]

OCI_INDEX = MediaType.OCI_INDEX
OCI_MANIFEST = MediaType.OCI_MANIFEST
OCI_CONFIG = MediaType.OCI_CONFIG
OCI_LAYER = MediaType.OCI_LAYER
OCI_LAYER_GZIP = MediaType.OCI_LAYER_GZIP
OCI_LAYER_ZSTD = MediaType.OCI_LAYER_ZSTD
DOCKER_LIST = MediaType.DOCKER_MANIFEST_LIST
DOCKER_MANIFEST = MediaType.DOCKER_MANIFEST
DOCKER_CONFIG = MediaType.DOCKER_CONFIG
DOCKER_LAYER = MediaType.DOCKER_LAYER
DOCKER_LAYER_GZIP = MediaType.DOCKER_LAYER_GZIP

CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
#: containerd's limit on a manifest or index read into memory.
MAX_MANIFEST = 4 << 20

ANNOTATION_NAME = "io.containerd.image.name"
ANNOTATION_REF = "org.opencontainers.image.ref.name"


def parse_platform(text: str) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8`` or just ``arm64`` (linux assumed)."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1 and parts[0]:
        return Platform("linux", _ARCH.get(parts[0], parts[0]))
    if 2 <= len(parts) <= 3 and all(parts):
        return Platform(parts[0], _ARCH.get(parts[1], parts[1]), parts[2] if len(parts) == 3 else "")
    raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant], e.g. linux/amd64")


_ARCH = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}


def descriptor(doc: Any, what: str = "descriptor") -> Descriptor:
    """A descriptor from JSON, with its digest checked (archives and registries are not trusted)."""
    desc = Descriptor.from_json(doc if isinstance(doc, dict) else {})
    check_digest(desc.digest)
    if desc.size < 0:
        raise InvalidArgument(f"{what} {desc.digest} has a negative size")
    return desc


def hex_of(digest: str) -> str:
    return digest.split(":", 1)[1]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what} is not a JSON object")
    return doc


def media_type_of(doc: dict[str, Any], fallback: str = "") -> str:
    """A manifest's own media type; old OCI documents omit it, so it is inferred from the shape."""
    mt = doc.get("mediaType")
    if mt:
        return str(mt)
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    return fallback


def children(media_type: str, doc: dict[str, Any]) -> list[Descriptor]:
    """The descriptors an index or manifest points at (config first, then layers)."""
    if media_type in INDEX_TYPES:
        return [descriptor(d, "manifest") for d in doc.get("manifests") or []]
    if media_type in MANIFEST_TYPES:
        out = [descriptor(doc.get("config"), "config")]
        out.extend(descriptor(d, "layer") for d in doc.get("layers") or [])
        return out
    return []


def child_gc_labels(media_type: str, kids: Iterable[Descriptor]) -> dict[str, str]:
    """The labels that keep a parent's children alive in containerd's GC (images/mediatypes.go)."""
    labels: dict[str, str] = {}
    layer_n = manifest_n = other_n = 0
    for kid in kids:
        if kid.media_type in CONFIG_TYPES:
            labels["containerd.io/gc.ref.content.config"] = kid.digest
        elif kid.media_type in MANIFEST_TYPES or kid.media_type in INDEX_TYPES:
            labels[f"containerd.io/gc.ref.content.m.{manifest_n}"] = kid.digest
            manifest_n += 1
        elif media_type in MANIFEST_TYPES:
            labels[f"containerd.io/gc.ref.content.l.{layer_n}"] = kid.digest
            layer_n += 1
        else:
            labels[f"containerd.io/gc.ref.content.{other_n}"] = kid.digest
            other_n += 1
    return labels


def select_manifest(index: dict[str, Any], want: Platform = HOST_PLATFORM) -> Descriptor:
    """The manifest of ``want`` in an index; an entry without a platform matches only when it is alone."""
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    for entry in entries:
        if want.matches(entry.get("platform")):
            return descriptor(entry, "manifest")
    if len(entries) == 1 and not entries[0].get("platform"):
        return descriptor(entries[0], "manifest")
    offered = ", ".join(
        "/".join(filter(None, (p.get(k) for k in ("os", "architecture", "variant"))))
        for e in entries
        if isinstance(p := e.get("platform"), dict)
    )
    raise NotFound(f"no manifest for platform {want} (offered: {offered or 'none'})")
