"""Image archives: reading Docker and OCI archives, writing an OCI layout that docker also loads.

Reading takes only what the manifests reference: the member headers first (a plain tar is seeked
through, never read), then index.json or manifest.json, the manifests and configs they name (bounded in
size, their digests checked), and last the referenced layers, streamed into a ``BlobSink`` (containerd's
content store in the image manager) with their sizes and digests checked as they pass. Sparse members and
archives beyond ``ArchiveLimits`` are refused; a member no manifest names is never read at all. The
stream must be seekable (the image manager spools a pipe to an unlinked temporary file first).

- An **OCI archive** has ``oci-layout`` and ``index.json``; each index entry is an image, named by its
  ``io.containerd.image.name`` annotation, else ``org.opencontainers.image.ref.name`` (a bare tag there is
  joined to the caller's base name).
- A **Docker archive** has ``manifest.json`` (``[{Config, RepoTags, Layers}]``); a Docker schema 2 manifest is
  synthesised for each entry, as containerd's importer does.

Writing produces the layout docker ≥ 25 writes: ``oci-layout``, ``index.json``, ``blobs/sha256/…`` and a
Docker ``manifest.json`` pointing at the same blobs, so both ``docker load`` and ``ctr images import`` take it.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import posixpath
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast

from ctrd.errors import Interrupted, InvalidArgument, PouchError
from managers.oci import (
    ANNOTATION_NAME,
    ANNOTATION_REF,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    LAYER_TYPES,
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
from managers.tarscan import ExpansionLimit, LayerCheck

__all__ = [
    "ArchiveImage",
    "ArchiveLimits",
    "BlobSink",
    "ExportImage",
    "LoadedArchive",
    "read_archive",
    "write_archive",
]

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_DEPTH = 4  # indexes within indexes
_LINK_HOPS = 8


@dataclass(frozen=True)
class ArchiveLimits:
    """What a loaded archive may hold: ``max_members`` tar members, JSON documents (index.json,
    manifest.json, manifests, configs) of at most ``max_document`` bytes each and ``max_documents``
    together, and a compressed archive may not inflate beyond ``expansion``."""

    max_members: int = 10_000
    max_document: int = MAX_MANIFEST
    max_documents: int = 64 << 20
    expansion: ExpansionLimit = field(default_factory=ExpansionLimit)


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


def read_archive(
    stream: IO[bytes],
    sink: BlobSink,
    *,
    base_name: str | None = None,
    cancel: threading.Event | None = None,
    limits: ArchiveLimits | None = None,
) -> LoadedArchive:
    """Read a Docker or OCI archive (plain, gzip, bzip2 or xz) from the seekable ``stream`` into ``sink``.

    Only what the archive's manifests reference reaches the sink: the member headers are read first, then
    index.json or manifest.json, the manifests and configs they name (each checked against its
    descriptor's size and digest), and last the referenced layers, streamed with their sizes and digests
    checked. Unreferenced members are never read. Raises InvalidArgument for anything that is not a
    complete, consistent image archive within ``limits``.
    """
    try:
        return _Reader(stream, sink, limits or ArchiveLimits(), cancel).read(base_name)
    except PouchError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as exc:
        # ValueError too: tarfile's own parsing of a malformed extended header can raise one
        raise InvalidArgument(f"not a readable image archive (corrupt or truncated): {exc}") from exc


@dataclass
class _Layer:
    """A referenced blob still to stream: its member, its expected digest when known, and what it gave."""

    member: tarfile.TarInfo
    expected: str | None
    tar: bool = True  # a layer tar (checked as it passes), not some other artifact
    digest: str = ""
    magic: bytes = b""


class _Reader:
    def __init__(
        self, stream: IO[bytes], sink: BlobSink, limits: ArchiveLimits, cancel: threading.Event | None
    ) -> None:
        self.sink = sink
        self.limits = limits
        self.cancel = cancel
        self.tar = tarfile.open(fileobj=_decompressed(stream, limits.expansion), mode="r:")
        self.members: dict[str, tarfile.TarInfo] = {}
        self.documents: dict[str, bytes] = {}
        self.held = 0  # bytes of JSON read into memory
        self.layers: dict[str, _Layer] = {}  # by member name
        self.planned: dict[str, bool] = {}  # _tree's answer by digest: an index may repeat an entry
        self.parsed: dict[str, dict[str, Any]] = {}  # documents parsed once, however often named

    def read(self, base_name: str | None) -> LoadedArchive:
        self._scan()
        if "index.json" in self.members and "oci-layout" in self.members:
            images = self._oci(base_name)
            self._stream_layers()
        elif "manifest.json" in self.members:
            entries = _docker_entries(self._metadata("manifest.json"))
            plans = [self._docker_plan(entry) for entry in entries]
            self._stream_layers()
            images = [self._docker_image(*plan) for plan in plans]
        else:
            raise InvalidArgument(
                "not an image archive: it has neither oci-layout + index.json nor manifest.json"
            )
        if not images:
            raise InvalidArgument("the archive holds no images")
        return LoadedArchive(images, self.documents)

    def _interrupted(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Interrupted("load interrupted")

    def _scan(self) -> None:
        """Every member header, without reading any data (a plain tar is only seeked through)."""
        count = 0
        while (member := self.tar.next()) is not None:
            self._interrupted()
            count += 1
            if count > self.limits.max_members:
                raise InvalidArgument(f"archive has more than {self.limits.max_members} members")
            name = _clean(member.name)
            if member.issparse():
                raise InvalidArgument(
                    f"archive member {name} is a sparse file; image archives never hold one, so it is refused"
                )
            if name in self.members and not (member.isdir() and self.members[name].isdir()):
                raise InvalidArgument(f"archive holds {name} twice")
            self.members[name] = member

    def _find(self, path: str, what: str) -> tarfile.TarInfo | None:
        """The regular file at ``path``, following links inside the archive's own names; None if absent."""
        name = _clean(path)
        for _ in range(_LINK_HOPS):
            member = self.members.get(name)
            if member is None:
                return None
            if member.isfile():
                return member
            if member.islnk():
                name = _clean(member.linkname)
            elif member.issym():
                name = _clean(posixpath.join(posixpath.dirname(name), member.linkname))
            else:
                raise InvalidArgument(f"archive: {what} {path} is not a regular file")
        raise InvalidArgument(f"archive: {what} {path} is behind more than {_LINK_HOPS} links")

    def _read(self, member: tarfile.TarInfo, what: str) -> bytes:
        """A small member's bytes, counted against the documents' bounds."""
        if member.size > self.limits.max_document:
            raise InvalidArgument(
                f"archive: {what} is {member.size} bytes (at most {self.limits.max_document})"
            )
        self.held += member.size
        if self.held > self.limits.max_documents:
            raise InvalidArgument(
                f"archive: its JSON documents exceed {self.limits.max_documents} bytes together"
            )
        fileobj = self.tar.extractfile(member)
        assert fileobj is not None  # a regular file always has content
        data = fileobj.read(member.size)
        if len(data) != member.size:
            raise InvalidArgument(f"archive truncated in {member.name}")
        return data

    def _metadata(self, name: str) -> bytes:
        member = self._find(name, name)
        if member is None:
            raise InvalidArgument(f"archive is missing {name}")
        return self._read(member, name)

    # ------------------------------------------------------------------ OCI layout

    def _oci(self, base_name: str | None) -> list[ArchiveImage]:
        layout = load_json(self._metadata("oci-layout"), "oci-layout")
        if layout.get("imageLayoutVersion") != "1.0.0":
            raise InvalidArgument(f"unsupported OCI layout version {layout.get('imageLayoutVersion')!r}")
        index = load_json(self._metadata("index.json"), "index.json")
        beside = self._metadata("manifest.json") if "manifest.json" in self.members else None
        docker_tags = _docker_tags(beside)
        images = []
        for entry in children(OCI_INDEX, index):
            self._interrupted()
            if not self._tree(entry, 0):
                raise InvalidArgument(f"archive is missing blob {entry.digest}")
            names = _oci_names(entry, base_name)
            if not names:
                config = self._config_of(entry)
                names = docker_tags.get(config, ()) if config else ()
            images.append(ArchiveImage(names, entry))
        return images

    def _config_of(self, entry: Descriptor) -> str | None:
        if entry.media_type not in MANIFEST_TYPES or entry.digest not in self.parsed:
            return None
        return children(entry.media_type, self.parsed[entry.digest])[0].digest

    def _blob_member(self, desc: Descriptor) -> tarfile.TarInfo | None:
        algorithm, _, hexpart = desc.digest.partition(":")
        member = self._find(f"blobs/{algorithm}/{hexpart}", "blob")
        if member is not None and member.size != desc.size:
            raise InvalidArgument(
                f"archive blob {desc.digest} is {member.size} bytes but its descriptor says {desc.size}"
            )
        return member

    def _document(self, desc: Descriptor, what: str) -> dict[str, Any] | None:
        """The JSON blob ``desc`` names, its digest checked; None when the archive lacks it."""
        member = self._blob_member(desc)
        if member is None:
            return None
        if desc.digest not in self.documents:
            data = self._read(member, f"{what} {desc.digest}")
            if digest_of(data) != desc.digest:
                raise InvalidArgument(f"corrupt archive: {what} {desc.digest} does not match its digest")
            self.sink.put(f"{what}-{hex_of(desc.digest)}", [data], len(data), desc.digest)
            self.documents[desc.digest] = data
        if desc.digest not in self.parsed:
            self.parsed[desc.digest] = load_json(self.documents[desc.digest], f"{what} {desc.digest}")
        return self.parsed[desc.digest]

    def _tree(self, desc: Descriptor, depth: int) -> bool:
        """Plan ``desc``'s tree; False when its root is not in the archive. An index may lack other
        platforms' manifests, a manifest may lack nothing. Each digest is planned once."""
        if desc.digest not in self.planned:
            self.planned[desc.digest] = self._plan(desc, depth)
        return self.planned[desc.digest]

    def _plan(self, desc: Descriptor, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            raise InvalidArgument(f"archive: indexes nested more than {_MAX_DEPTH} deep")
        if desc.media_type in INDEX_TYPES:
            doc = self._document(desc, "index")
            if doc is None:
                return False
            found = [kid for kid in children(desc.media_type, doc) if self._tree(kid, depth + 1)]
            if not found:
                raise InvalidArgument(f"archive has none of the manifests of index {desc.digest}")
            return True
        if desc.media_type not in MANIFEST_TYPES:
            raise InvalidArgument(f"archive: unsupported media type {desc.media_type!r} for {desc.digest}")
        doc = self._document(desc, "manifest")
        if doc is None:
            return False
        config, *layers = children(desc.media_type, doc)
        if self._document(config, "config") is None:
            raise InvalidArgument(f"archive is missing blob {config.digest} of manifest {desc.digest}")
        for layer in layers:
            member = self._blob_member(layer)
            if member is None:
                raise InvalidArgument(f"archive is missing blob {layer.digest} of manifest {desc.digest}")
            planned = _Layer(member, layer.digest, layer.media_type in LAYER_TYPES)
            self.layers.setdefault(_clean(member.name), planned)
        return True

    # ------------------------------------------------------------------ Docker archive

    def _docker_plan(self, entry: dict[str, Any]) -> tuple[dict[str, Any], Descriptor, list[_Layer]]:
        config_path = entry.get("Config")
        config_member = self._docker_member(config_path, "config")
        data = self._read(config_member, f"config {config_path}")
        digest = digest_of(data)
        named = _named_digest(config_member.name)
        if named is not None and named != digest:
            raise InvalidArgument(f"corrupt archive: config {config_path} does not match its digest")
        load_json(data, f"config {config_path}")
        if digest not in self.documents:
            self.sink.put(f"config-{hex_of(digest)}", [data], len(data), digest)
            self.documents[digest] = data
        layers = []
        for path in entry.get("Layers") or []:
            member = self._docker_member(path, "layer")
            planned = _Layer(member, _named_digest(member.name))
            layers.append(self.layers.setdefault(_clean(member.name), planned))
        return entry, Descriptor(DOCKER_CONFIG, digest, len(data)), layers

    def _docker_member(self, path: Any, what: str) -> tarfile.TarInfo:
        if not isinstance(path, str):
            raise InvalidArgument(f"manifest.json: {what} path {path!r} is not a string")
        member = self._find(path, what)
        if member is None:
            raise InvalidArgument(f"archive is missing {what} {path}")
        return member

    def _docker_image(self, entry: dict[str, Any], config: Descriptor, layers: list[_Layer]) -> ArchiveImage:
        """A Docker schema 2 manifest for an entry of manifest.json, as containerd's importer makes."""
        descs = []
        for layer in layers:
            if layer.magic.startswith(_GZIP_MAGIC):
                media_type = DOCKER_LAYER_GZIP
            elif layer.magic.startswith(_ZSTD_MAGIC):
                media_type = OCI_LAYER_ZSTD
            else:
                media_type = DOCKER_LAYER
            descs.append(Descriptor(media_type, layer.digest, layer.member.size).to_json())
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": config.to_json(),
            "layers": descs,
        }
        data = json.dumps(manifest, separators=(",", ":")).encode()
        digest = self.sink.put(f"manifest-{hex_of(digest_of(data))}", [data], len(data), digest_of(data))
        self.documents[digest] = data
        names = tuple(str(parse(tag)) for tag in entry.get("RepoTags") or [])
        return ArchiveImage(names, Descriptor(DOCKER_MANIFEST, digest, len(data)))

    # ------------------------------------------------------------------ layers

    def _stream_layers(self) -> None:
        """Stream each referenced layer into the sink, in archive order (a compressed archive is read
        forward once), with its size fixed by its header and its digest checked by the sink."""
        for name, layer in sorted(self.layers.items(), key=lambda item: item[1].member.offset_data):
            self._interrupted()
            fileobj = self.tar.extractfile(layer.member)
            assert fileobj is not None
            first = fileobj.read(min(layer.member.size, _CHUNK))
            layer.magic = first[:4]
            check = LayerCheck(f"archive layer {name}", self.limits.expansion) if layer.tar else None

            def chunks(
                first: bytes = first,
                fileobj: IO[bytes] = fileobj,
                size: int = layer.member.size,
                check: LayerCheck | None = check,
            ) -> Iterator[bytes]:
                remaining = size - len(first)
                data = first
                while True:
                    if check is not None:
                        check.feed(data)
                        if not remaining:
                            check.finish()  # inside the write: a bad layer is never committed
                    yield data
                    if not remaining:
                        return
                    self._interrupted()
                    data = fileobj.read(min(remaining, _CHUNK))
                    if not data:
                        raise InvalidArgument(f"archive truncated in {name}")
                    remaining -= len(data)

            if len(first) < min(layer.member.size, _CHUNK):
                raise InvalidArgument(f"archive truncated in {name}")
            layer.digest = self.sink.put(f"layer-{name}", chunks(), layer.member.size, layer.expected)


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def _named_digest(name: str) -> str | None:
    """``sha256:<hex>`` for a member named ``blobs/sha256/<hex>`` (its name promises that digest)."""
    parts = _clean(name).split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
        return f"sha256:{parts[2]}"
    return None


def _decompressed(stream: IO[bytes], limit: ExpansionLimit) -> IO[bytes]:
    """The tar inside ``stream``: itself when plain, else a decompressing reader bounded by ``limit``."""
    if not stream.seekable():
        raise InvalidArgument("load needs a seekable archive")
    start = stream.tell()
    magic = stream.read(6)
    stream.seek(start)
    opener: Callable[[IO[bytes]], IO[bytes]]
    if magic.startswith(_GZIP_MAGIC):
        opener = lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")  # noqa: E731
    elif magic.startswith(_BZIP2_MAGIC):
        opener = lambda raw: bz2.BZ2File(raw)  # noqa: E731
    elif magic.startswith(_XZ_MAGIC):
        opener = lambda raw: lzma.LZMAFile(raw)  # noqa: E731
    elif magic.startswith(_ZSTD_MAGIC):
        raise InvalidArgument("archive: zstd-compressed archives are not supported; decompress it first")
    else:
        return stream
    raw = _Counted(stream)
    return cast(IO[bytes], _Inflated(opener(cast(IO[bytes], raw)), raw, limit))


class _Counted(io.RawIOBase):
    """A raw stream that notes how far into it reading went (the compressed bytes consumed)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.furthest = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.furthest = max(self.furthest, self._stream.tell())
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


class _Inflated:
    """A seekable decompressed view that refuses to inflate past its bound; seeking forward reads (and
    checks) the bytes it passes rather than letting the decompressor skip them unchecked."""

    def __init__(self, inner: IO[bytes], raw: _Counted, limit: ExpansionLimit) -> None:
        self._inner = inner
        self._raw = raw
        self._limit = limit
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        data = self._inner.read(size)
        self._pos += len(data)
        self._limit.check(self._pos, self._raw.furthest, "archive")
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence not in (io.SEEK_SET, io.SEEK_CUR):
            raise io.UnsupportedOperation("seek from the end of a compressed archive")
        target = offset if whence == io.SEEK_SET else self._pos + offset
        if target < self._pos:
            self._pos = self._inner.seek(target)
            return self._pos
        while self._pos < target:
            if not self.read(min(target - self._pos, _CHUNK)):
                break
        return self._pos

    def tell(self) -> int:
        return self._pos


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
