"""Image archives: reading Docker and OCI archives, writing an OCI layout that docker also loads.

Reading streams the tar once (it may come from a pipe): every regular file except the layout's own
metadata goes straight into a ``BlobSink`` (containerd's content store in the image manager), and the small
JSON documents are kept in memory so the manifest tree can be walked afterwards.

- An **OCI archive** has ``oci-layout`` and ``index.json``; each index entry is an image, named by its
  ``io.containerd.image.name`` annotation, else ``org.opencontainers.image.ref.name`` (a bare tag there is
  joined to the caller's base name).
- A **Docker archive** has ``manifest.json`` (``[{Config, RepoTags, Layers}]``); a Docker schema 2 manifest is
  synthesised for each entry, as containerd's importer does.

Writing produces the layout docker ≥ 25 writes: ``oci-layout``, ``index.json``, ``blobs/sha256/…`` and a
Docker ``manifest.json`` pointing at the same blobs, so both ``docker load`` and ``ctr images import`` take it.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ctrd.errors import Interrupted, InvalidArgument, PouchError
from managers.oci import (
    ANNOTATION_NAME,
    ANNOTATION_REF,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST,
    OCI_INDEX,
    OCI_LAYER_ZSTD,
    Descriptor,
    children,
    digest_of,
    hex_of,
    load_json,
)
from managers.reference import familiar, parse

__all__ = [
    "ArchiveImage",
    "BlobSink",
    "ExportImage",
    "LoadedArchive",
    "read_archive",
    "write_archive",
]

_METADATA = ("oci-layout", "index.json", "manifest.json", "repositories")
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class BlobSink(Protocol):
    """Where read blobs go. ``put`` stores ``size`` bytes and returns their digest; with ``expected`` set it
    must refuse content whose digest differs (InvalidArgument)."""

    def put(self, ref: str, chunks: Iterable[bytes], size: int, expected: str | None) -> str: ...


@dataclass(frozen=True)
class ArchiveImage:
    """One image found in an archive: its names (normalised; empty when it has none) and root descriptor."""

    names: tuple[str, ...]
    target: Descriptor


@dataclass
class LoadedArchive:
    images: list[ArchiveImage]
    #: JSON documents (indexes, manifests, configs) by digest, for walking the tree after the read
    documents: dict[str, bytes] = field(default_factory=dict)


@dataclass
class _Blob:
    digest: str
    size: int
    magic: bytes


def read_archive(
    stream: IO[bytes],
    sink: BlobSink,
    *,
    base_name: str | None = None,
    cancel: threading.Event | None = None,
) -> LoadedArchive:
    """Read a Docker or OCI archive (optionally gzip-compressed) from ``stream`` into ``sink``.

    Raises InvalidArgument for anything that is not a complete, consistent image archive.
    """
    meta: dict[str, bytes] = {}
    blobs: dict[str, _Blob] = {}
    links: dict[str, str] = {}
    documents: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                if cancel is not None and cancel.is_set():
                    raise Interrupted("load interrupted")
                name = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
                if member.issym() or member.islnk():
                    target = (
                        member.linkname
                        if member.islnk()
                        else posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                    links[name] = posixpath.normpath(target)
                    continue
                if not member.isfile():
                    continue
                fileobj = tar.extractfile(member)
                assert fileobj is not None  # a regular file always has content
                if name in _METADATA:
                    if member.size > MAX_MANIFEST:
                        raise InvalidArgument(f"archive: {name} is larger than {MAX_MANIFEST} bytes")
                    meta[name] = _read_exact(fileobj, member.size, name)
                    continue
                blobs[name] = _store(sink, name, fileobj, member.size, documents)
    except PouchError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise InvalidArgument(f"not a readable image archive (corrupt or truncated): {exc}") from exc
    for name, target in links.items():
        if target in blobs:
            blobs[name] = blobs[target]
    if "index.json" in meta and "oci-layout" in meta:
        images = _oci_images(meta, blobs, documents, base_name)
    elif "manifest.json" in meta:
        images = _docker_images(meta["manifest.json"], blobs, documents, sink)
    else:
        raise InvalidArgument(
            "not an image archive: it has neither oci-layout + index.json nor manifest.json"
        )
    if not images:
        raise InvalidArgument("the archive holds no images")
    return LoadedArchive(images, documents)


def _read_exact(fileobj: IO[bytes], size: int, name: str) -> bytes:
    data = fileobj.read(size)
    if len(data) != size:
        raise InvalidArgument(f"archive truncated in {name}")
    return data


def _store(sink: BlobSink, name: str, fileobj: IO[bytes], size: int, documents: dict[str, bytes]) -> _Blob:
    expected = None
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
        expected = f"sha256:{parts[2]}"
    first = fileobj.read(min(size, _CHUNK))
    keep = size <= MAX_MANIFEST and first.lstrip()[:1] == b"{"
    held = [first]

    def chunks() -> Iterator[bytes]:
        yield first
        remaining = size - len(first)
        while remaining > 0:
            data = fileobj.read(min(remaining, _CHUNK))
            if not data:
                raise InvalidArgument(f"archive truncated in {name}")
            if keep:
                held.append(data)
            remaining -= len(data)
            yield data

    digest = sink.put(f"tar-{name}", chunks(), size, expected)
    if keep:
        documents[digest] = b"".join(held)
    return _Blob(digest, size, first[:4])


def _document(documents: dict[str, bytes], desc: Descriptor, what: str) -> dict[str, Any]:
    data = documents.get(desc.digest)
    if data is None:
        raise InvalidArgument(f"archive is missing {what} {desc.digest}")
    return load_json(data, f"{what} {desc.digest}")


def _oci_images(
    meta: dict[str, bytes], blobs: dict[str, _Blob], documents: dict[str, bytes], base_name: str | None
) -> list[ArchiveImage]:
    layout = load_json(meta["oci-layout"], "oci-layout")
    if layout.get("imageLayoutVersion") != "1.0.0":
        raise InvalidArgument(f"unsupported OCI layout version {layout.get('imageLayoutVersion')!r}")
    index = load_json(meta["index.json"], "index.json")
    present = {b.digest for b in blobs.values()}
    docker_tags = _docker_tags(meta.get("manifest.json"))
    images = []
    for entry in children(OCI_INDEX, index):
        _check_tree(entry, documents, present)
        names = _oci_names(entry, base_name)
        if not names:
            config = _config_of(entry, documents)
            names = docker_tags.get(config, ()) if config else ()
        images.append(ArchiveImage(names, entry))
    return images


def _check_tree(desc: Descriptor, documents: dict[str, bytes], present: set[str]) -> None:
    """Every blob an image needs is in the archive; an index may lack other platforms' manifests."""
    if desc.digest not in present:
        raise InvalidArgument(f"archive is missing blob {desc.digest}")
    if desc.media_type in INDEX_TYPES:
        doc = _document(documents, desc, "index")
        found = [kid for kid in children(desc.media_type, doc) if kid.digest in present]
        if not found:
            raise InvalidArgument(f"archive has none of the manifests of index {desc.digest}")
        for kid in found:
            _check_tree(kid, documents, present)
    elif desc.media_type in MANIFEST_TYPES:
        doc = _document(documents, desc, "manifest")
        for kid in children(desc.media_type, doc):
            if kid.digest not in present:
                raise InvalidArgument(f"archive is missing blob {kid.digest} of manifest {desc.digest}")
        _document(documents, children(desc.media_type, doc)[0], "config")


def _oci_names(entry: Descriptor, base_name: str | None) -> tuple[str, ...]:
    full = entry.annotations.get(ANNOTATION_NAME)
    if full:
        return (str(parse(full)),)
    ref = entry.annotations.get(ANNOTATION_REF)
    if not ref:
        return (str(parse(base_name)),) if base_name else ()
    if "/" in ref or ":" in ref:
        return (str(parse(ref)),)
    if base_name:
        return (str(parse(base_name).with_tag(ref)),)
    return ()


def _config_of(entry: Descriptor, documents: dict[str, bytes]) -> str | None:
    if entry.media_type not in MANIFEST_TYPES:
        return None
    return children(entry.media_type, _document(documents, entry, "manifest"))[0].digest


def _docker_tags(manifest_json: bytes | None) -> dict[str, tuple[str, ...]]:
    """config digest → RepoTags from a Docker manifest.json that sits beside an OCI index."""
    if manifest_json is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for entry in _docker_entries(manifest_json):
        config = str(entry.get("Config", ""))
        if config.startswith("blobs/sha256/"):
            out["sha256:" + config.rsplit("/", 1)[1]] = tuple(
                str(parse(t)) for t in entry.get("RepoTags") or []
            )
    return out


def _docker_entries(manifest_json: bytes) -> list[dict[str, Any]]:
    try:
        entries = json.loads(manifest_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidArgument("manifest.json is not a list of images")
    return entries


def _docker_images(
    manifest_json: bytes, blobs: dict[str, _Blob], documents: dict[str, bytes], sink: BlobSink
) -> list[ArchiveImage]:
    images = []
    for entry in _docker_entries(manifest_json):
        config_blob = _blob(blobs, entry.get("Config"), "config")
        if config_blob.digest not in documents:
            raise InvalidArgument(f"config {entry.get('Config')} is not a JSON document")
        layers = []
        for path in entry.get("Layers") or []:
            blob = _blob(blobs, path, "layer")
            if blob.magic.startswith(_GZIP_MAGIC):
                media_type = DOCKER_LAYER_GZIP
            elif blob.magic.startswith(_ZSTD_MAGIC):
                media_type = OCI_LAYER_ZSTD
            else:
                media_type = DOCKER_LAYER
            layers.append(Descriptor(media_type, blob.digest, blob.size).to_json())
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": Descriptor(DOCKER_CONFIG, config_blob.digest, config_blob.size).to_json(),
            "layers": layers,
        }
        data = json.dumps(manifest, separators=(",", ":")).encode()
        digest = sink.put(f"manifest-{digest_of(data)}", [data], len(data), digest_of(data))
        documents[digest] = data
        names = tuple(str(parse(tag)) for tag in entry.get("RepoTags") or [])
        images.append(ArchiveImage(names, Descriptor(DOCKER_MANIFEST, digest, len(data))))
    return images


def _blob(blobs: dict[str, _Blob], path: Any, what: str) -> _Blob:
    if not isinstance(path, str):
        raise InvalidArgument(f"manifest.json: {what} path {path!r} is not a string")
    blob = blobs.get(posixpath.normpath(path).removeprefix("./"))
    if blob is None:
        raise InvalidArgument(f"archive is missing {what} {path}")
    return blob


# ---------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class ExportImage:
    """An image to save: its names, the descriptor index.json points at, and its platform manifest's parts."""

    names: tuple[str, ...]
    target: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]


def write_archive(
    out: IO[bytes],
    images: list[ExportImage],
    blobs: list[Descriptor],
    open_blob: Callable[[Descriptor], Iterable[bytes]],
    *,
    cancel: threading.Event | None = None,
) -> None:
    """Write an OCI layout with a Docker manifest.json to ``out`` (which need not be seekable)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        seen: set[str] = set()
        for desc in blobs:
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            if cancel is not None and cancel.is_set():
                raise Interrupted("save interrupted")
            info = _info(f"blobs/sha256/{hex_of(desc.digest)}", desc.size)
            tar.addfile(info, _ChunkReader(open_blob(desc), desc))
        _add_bytes(tar, "index.json", _index_json(images))
        _add_bytes(tar, "manifest.json", _manifest_json(images))


def _index_json(images: list[ExportImage]) -> bytes:
    manifests = []
    for image in images:
        for name in image.names or (None,):
            entry = image.target.to_json()
            entry.pop("annotations", None)
            if name is not None:
                ref = parse(name)
                entry["annotations"] = {ANNOTATION_NAME: name}
                if ref.tag:
                    entry["annotations"][ANNOTATION_REF] = ref.tag
            manifests.append(entry)
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return json.dumps(doc, separators=(",", ":")).encode()


def _manifest_json(images: list[ExportImage]) -> bytes:
    entries = []
    for image in images:
        tags = [familiar(n) for n in image.names if parse(n).tag]
        entries.append(
            {
                "Config": f"blobs/sha256/{hex_of(image.config.digest)}",
                "RepoTags": tags or None,
                "Layers": [f"blobs/sha256/{hex_of(layer.digest)}" for layer in image.layers],
            }
        )
    return json.dumps(entries, separators=(",", ":")).encode()


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _info(name, 0)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


class _ChunkReader(io.RawIOBase):
    """A file object over a blob's chunks that checks the bytes against the descriptor as they pass."""

    def __init__(self, chunks: Iterable[bytes], desc: Descriptor) -> None:
        self._it = iter(chunks)
        self._buf = b""
        self._desc = desc
        self._hash = hashlib.sha256()
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                self._verify()
                return 0
            self._hash.update(self._buf)
            self._count += len(self._buf)
            if self._count >= self._desc.size:
                self._verify()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def _verify(self) -> None:
        digest = "sha256:" + self._hash.hexdigest()
        if self._count != self._desc.size or digest != self._desc.digest:
            raise InvalidArgument(
                f"content store returned {self._count} bytes with digest {digest} for {self._desc.digest}"
            )
