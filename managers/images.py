"""The image manager: names, records, pull/push, load/save/import, on containerd's image and content stores.

An image is a containerd image record (a name pointing at an index or manifest) plus the content it
reaches. Everything that creates content runs inside a lease, and the record is written last, so a
failure at any point leaves no image, and the lease's end lets GC take whatever was half-made.

Image records (what ``images`` returns, one per name):

    name        full reference containerd stores: docker.io/library/busybox:latest
    repository  short repository as docker prints it: busybox   ("<none>" for an unnamed image)
    tag         latest                                          ("<none>" when unnamed or pinned by digest)
    id          the config digest (docker's image id): sha256:…
    digest      the digest of the record's target (index or manifest): sha256:…
    size        content-store bytes of manifest, config and (compressed) layers (a Size in the language)
    created     the config's creation time, RFC 3339 ("" when the image does not say)
    labels      the config's Labels
    platform    os/architecture[/variant] of the config
"""

from __future__ import annotations

import builtins
import contextlib
import fnmatch
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from ctrd.errors import AlreadyExists, Conflict, Interrupted, InvalidArgument, NotFound, PouchError
from ctrd.images import HOST_PLATFORM, Image, ImageSpec
from ctrd.snapshots import DEFAULT_SNAPSHOTTER
from ctrd.unpack import is_unpacked, unpack
from managers import faults, reference
from managers.credentials import DockerConfig, server_domain
from managers.filters import label_matches, matches, parse_filters, truth
from managers.labels import LABEL
from managers.oci import (
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    child_gc_labels,
    children,
    load_json,
    media_type_of,
    parse_platform,
)
from managers.progress import ProgressFn
from managers.tarscan import LAYER_MAX_MEMBERS, ExpansionLimit, LayerCheck

if TYPE_CHECKING:
    from ctrd.client import Client
    from managers import Managers
    from managers.archive import ExportImage
    from managers.registry import Registry

__all__ = ["PULL_POLICIES", "ImageConfig", "ImageInfo", "ImageManager"]

PULL_POLICIES = ("always", "missing", "never")
UNNAMED = "<none>"
#: ``images --filter`` keys
FILTERS = ("reference", "label", "dangling", "before", "since")
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SPOOL_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImageConfig:
    """The run-time defaults an image's config carries (OCI image-spec ``config``), in snake_case."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None  # docker's Healthcheck (Test, Interval, ...): managers.health

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageConfig:
        c = config.get("config") or {}

        def strings(value: Any) -> tuple[str, ...] | None:
            return tuple(str(v) for v in value) if isinstance(value, list) else None

        return cls(
            env=strings(c.get("Env")) or (),
            cmd=strings(c.get("Cmd")),
            entrypoint=strings(c.get("Entrypoint")),
            working_dir=str(c.get("WorkingDir") or ""),
            user=str(c.get("User") or ""),
            stop_signal=str(c.get("StopSignal") or ""),
            exposed_ports=tuple(sorted(c.get("ExposedPorts") or {})),
            volumes=tuple(sorted(c.get("Volumes") or {})),
            labels={str(k): str(v) for k, v in (c.get("Labels") or {}).items()},
            healthcheck=dict(c["Healthcheck"]) if isinstance(c.get("Healthcheck"), dict) else None,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "env": list(self.env),
            "cmd": list(self.cmd) if self.cmd is not None else None,
            "entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "working_dir": self.working_dir,
            "user": self.user,
            "stop_signal": self.stop_signal,
            "exposed_ports": list(self.exposed_ports),
            "volumes": list(self.volumes),
            "labels": dict(self.labels),
            "healthcheck": dict(self.healthcheck) if self.healthcheck else None,
        }


@dataclass(frozen=True)
class ImageInfo:
    """What the container manager needs to make a container from an image (``ImageManager.ensure``)."""

    name: str  # the full name of the image record
    target: str  # digest of the record's target (index or manifest)
    id: str  # config digest
    chain_id: str  # snapshot name of the top layer: the parent of a container's rootfs
    snapshotter: str
    config: ImageConfig


class ImageManager:
    def __init__(self, managers: Managers, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> None:
        self._managers = managers
        self.snapshotter = snapshotter
        self._migrated = False
        self._docs: dict[str, Any] = {}  # digest → parsed JSON; content is immutable, so never stale
        self._lock = threading.Lock()

    @property
    def _credentials(self) -> DockerConfig:
        """docker's config.json (``$DOCKER_CONFIG``), read afresh each time; pouchsh's former store under
        the data root is moved into it on first use."""
        config = DockerConfig()
        if not self._migrated:
            config.migrate(Path(self._managers.root) / "auth.json")
            self._migrated = True
        return config

    @property
    def _client(self) -> Client:
        return self._managers.ctrd

    # ------------------------------------------------------------------ for the container manager

    def ensure(
        self,
        ref: str,
        *,
        pull: str = "missing",
        platform: str | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> ImageInfo:
        """The image ``ref`` ready to run: pulled per ``pull`` (always|missing|never) and unpacked."""
        if pull not in PULL_POLICIES:
            raise InvalidArgument(f"invalid pull policy {pull!r}: use always, missing or never")
        want = parse_platform(platform) if platform else HOST_PLATFORM
        if pull == "always":
            self.pull(ref, platform=platform, progress=progress, cancel=cancel)
        try:
            image = self._find(ref)
        except NotFound:
            if pull == "never" or _looks_like_id(ref):
                raise
            self.pull(ref, platform=platform, progress=progress, cancel=cancel)
            image = self._find(ref)
        spec = self._spec(image, want)
        if not is_unpacked(self._client, spec, self.snapshotter):
            unpack(self._client, spec, snapshotter=self.snapshotter)
        return ImageInfo(
            name=image.name,
            target=image.target.digest,
            id=spec.config_descriptor.digest,
            chain_id=spec.chain_id,
            snapshotter=self.snapshotter,
            config=ImageConfig.from_config(dict(spec.config)),
        )

    def config(self, ref: str) -> ImageConfig:
        """The run-time defaults of a local image (no pull, no unpack)."""
        return ImageConfig.from_config(dict(self._spec(self._find(ref)).config))

    # ------------------------------------------------------------------ listing

    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        """One record per image name (see the module doc), newest first, filtered docker-style."""
        parsed = parse_filters(filters, FILTERS, "images", switches=("dangling",))
        predicates = {key: [self._filter(key, value) for value in values] for key, values in parsed.items()}
        records = []
        for image in self._client.images.list():
            record = self._record(image)
            if matches(predicates, lambda _key, p: p(record)):
                records.append(record)
        records.sort(key=lambda r: (r["created"], r["name"]), reverse=True)
        return records

    def inspect(self, ref: str) -> dict[str, Any]:
        image = self._find(ref)
        spec = self._spec(image)
        config = dict(spec.config)
        same = [i.name for i in self._client.images.list() if i.target.digest == image.target.digest]
        named = [n for n in same if _parses(n)]
        return {
            "id": spec.config_descriptor.digest,
            "name": image.name,
            "repo_tags": [reference.familiar(n) for n in named if reference.parse(n).tag],
            "repo_digests": sorted(
                {f"{reference.parse(n).familiar_repository}@{image.target.digest}" for n in named}
            ),
            "digest": image.target.digest,
            "media_type": image.target.media_type,
            "created": str(config.get("created") or ""),
            "author": str(config.get("author") or ""),
            "platform": _platform_of(config),
            "architecture": str(config.get("architecture") or ""),
            "os": str(config.get("os") or ""),
            "size": spec.size,
            "config": ImageConfig.from_config(config).to_record(),
            "rootfs": {"type": "layers", "diff_ids": list(spec.diff_ids)},
            "layers": [layer.digest for layer in spec.layers],
            "chain_id": spec.chain_id,
            "unpacked": is_unpacked(self._client, spec, self.snapshotter),
            "labels": dict(image.labels),
        }

    def history(self, ref: str) -> builtins.list[dict[str, Any]]:
        """The config's history, newest first, each step paired with the layer it made (if any)."""
        spec = self._spec(self._find(ref))
        layers = list(spec.layers)
        rows = []
        for step in spec.config.get("history") or []:
            empty = bool(step.get("empty_layer"))
            layer = None if empty or not layers else layers.pop(0)
            rows.append(
                {
                    "id": layer.digest if layer else "<missing>",
                    "created": str(step.get("created") or ""),
                    "created_by": str(step.get("created_by") or ""),
                    "size": layer.size if layer else 0,
                    "comment": str(step.get("comment") or ""),
                    "empty_layer": empty,
                }
            )
        rows.reverse()
        return rows

    # ------------------------------------------------------------------ names

    def tag(self, source: str, target: str) -> dict[str, Any]:
        ref = reference.parse(target)  # a bad name is refused before anything is looked up
        image = self._find(source)
        if ref.digest:
            raise InvalidArgument(f"cannot tag with a digest reference: {target}")
        created = self._client.images.put(str(ref), image.target, dict(image.labels))
        return self._record(created)

    def remove(self, refs: Iterable[str], *, force: bool = False) -> builtins.list[dict[str, Any]]:
        """``rmi``: untag each name; the content goes with the last name. The last name of an image a
        container uses (by digest, whatever names it was created under: ``_used_targets``) is refused
        unless ``force``; then the name goes but the content stays until no container holds it (its
        ``IMAGE_CONTENT`` label, a containerd GC reference). An id with several names is refused
        unless ``force``."""
        images = self._client.images.list()
        used = self._used_targets(images)
        out = []
        for ref in refs:
            victims = self._victims(ref, images, force)
            for image in victims:
                others = [
                    i for i in images if i.target.digest == image.target.digest and i.name != image.name
                ]
                users = used.get(image.target.digest, [])
                if not others and users:
                    if not force:
                        raise Conflict(
                            f"image {reference.familiar(image.name)} is used by container {_shown_user(users[0])}",
                            hint="remove the container first, or use rmi -f (the container keeps what it needs)",
                        )
                    self._hold_content(users, image.target.digest)
                record = self._record(image)
                self._client.images.delete(image.name, sync=not others)
                images = [i for i in images if i.name != image.name]
                out.append({"name": image.name, "id": record["id"], "deleted": not others})
        return out

    def prune(self, *, all: bool = False) -> dict[str, Any]:
        """Remove unnamed images, or with ``all`` every image no container uses."""
        images = self._client.images.list()
        used = self._used_targets(images)
        doomed = [i for i in images if (all or not _parses(i.name)) and i.target.digest not in used]
        keep = [i for i in images if i not in doomed]
        kept_blobs = {d for i in keep for d in self._blobs(i)}
        freed = {d: s for i in doomed for d, s in self._blob_sizes(i).items() if d not in kept_blobs}
        for n, image in enumerate(doomed):
            self._client.images.delete(image.name, sync=n == len(doomed) - 1)
        return {"removed": [i.name for i in doomed], "reclaimed": sum(freed.values())}

    # ------------------------------------------------------------------ registries

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        insecure: bool = False,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        max_concurrent_downloads: int | None = None,
    ) -> dict[str, Any]:
        """Pull ``ref`` for ``platform`` (default the host's), unpack it, and name it; returns its record.
        Layers download ``max_concurrent_downloads`` at a time (default: the settings file's, 3)."""
        parsed = reference.parse(ref)
        want = parse_platform(platform) if platform else HOST_PLATFORM
        settings = self._settings()
        concurrency = _positive(max_concurrent_downloads, settings.max_concurrent_downloads)
        sources = self._sources(parsed.domain, insecure, cancel, settings.registry_mirrors)
        from managers import distribution  # with the registry client: pull and push only

        lease = self._pull_lease(str(parsed))
        leased = self._client.with_lease(lease)
        keep = fetching = False
        try:
            for n, registry in enumerate(sources):
                try:
                    root = registry.resolve(parsed.path, parsed.object)
                    faults.point("pull.fetch.before")
                    fetching = True
                    distribution.fetch(
                        leased,
                        registry,
                        parsed.path,
                        root,
                        want,
                        progress=progress,
                        cancel=cancel,
                        concurrency=concurrency,
                        unpack_onto=self.snapshotter,
                    )
                    break
                except Interrupted:
                    keep = fetching
                    raise
                except PouchError as exc:
                    # a mirror that fails is passed over for the next source; the last one's error stands
                    if n == len(sources) - 1:
                        keep = fetching and distribution.resumable(exc)
                        raise
            spec = self._spec(Image(str(parsed), root), want, client=leased)
            faults.point("pull.unpack.before")
            unpack(leased, spec, snapshotter=self.snapshotter)  # the layers were applied as they landed
            faults.point("pull.name.before")
            image = leased.images.put(str(parsed), root)
        finally:
            if not keep:
                self._client.leases.delete(lease, sync=True)
        return self._record(image, want)

    def _pull_lease(self, name: str) -> str:
        """The lease of a pull of ``name``: the one an interrupted pull of it left (its partial blobs,
        which this pull resumes), else a new one. It carries no owner label, so ``system prune`` leaves
        it to the next pull; its 24 hours bound how long an abandoned partial stays."""
        import hashlib
        from datetime import timedelta

        lease_id = "pouchsh-pull-" + hashlib.sha256(name.encode()).hexdigest()[:32]
        try:
            self._client.leases.create(
                lease_id, labels={LABEL.PULL: name[:4000]}, expire=timedelta(hours=24)
            )
        except AlreadyExists:
            pass
        return lease_id

    def push(
        self,
        ref: str,
        *,
        insecure: bool = False,
        chunk_size: int | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        max_concurrent_uploads: int | None = None,
    ) -> dict[str, Any]:
        """Push a local image to the registry its name points at; returns {name, digest, size}.
        Blobs go up ``max_concurrent_uploads`` at a time (default: the settings file's, 5), each in one
        streamed PUT (as docker), or in PATCHes of ``chunk_size`` bytes for a registry that needs them."""
        image = self._find(ref)
        if not _parses(image.name):
            raise InvalidArgument(f"image {ref} has no name to push under; tag it first")
        parsed = reference.parse(image.name)
        registry = self._registry(parsed.domain, insecure, cancel)
        from managers import distribution

        pushed = distribution.push(
            self._client,
            registry,
            parsed.path,
            parsed.tag or image.target.digest,
            image.target,
            chunk_size=chunk_size,
            progress=progress,
            cancel=cancel,
            concurrency=_positive(max_concurrent_uploads, self._settings().max_concurrent_uploads),
        )
        return {"name": image.name, "digest": pushed.digest, "size": pushed.size}

    def login(
        self, server: str | None, username: str, password: str, *, insecure: bool = False
    ) -> dict[str, Any]:
        """Check the credentials against the registry, then store them where docker does (config.json,
        0600, or its credential helper)."""
        domain = server_domain(server)
        if not username:
            raise InvalidArgument("login needs a username")
        from managers.registry import Registry

        registry = Registry(
            domain,
            insecure=insecure,
            insecure_hosts=self._insecure_hosts(),
            credentials=lambda _domain: (username, password),
        )
        registry.ping()
        stored = self._credentials.put(domain, username, password)
        return {"server": domain, "username": username, "status": "Login Succeeded", "stored": stored}

    def logout(self, server: str | None) -> dict[str, Any]:
        domain = server_domain(server)
        return {"server": domain, "removed": self._credentials.remove(domain)}

    def _registry(self, domain: str, insecure: bool, cancel: threading.Event | None) -> Registry:
        from managers.registry import Registry

        return Registry(
            domain,
            insecure=insecure,
            insecure_hosts=self._insecure_hosts(),
            credentials=self._credentials.get,
            cancel=cancel,
        )

    def _sources(
        self, domain: str, insecure: bool, cancel: threading.Event | None, mirrors: tuple[str, ...]
    ) -> builtins.list[Registry]:
        """Where to pull ``domain``'s images from, in order: for docker.io the ``registry-mirrors`` of
        the settings file first, as dockerd; then the registry itself."""
        from managers.registry import Registry

        found: builtins.list[Registry] = []
        if domain == reference.DEFAULT_DOMAIN:
            for mirror in mirrors:
                host = _mirror_host(mirror)
                found.append(
                    Registry(
                        domain,
                        host=host,
                        insecure_hosts=self._insecure_hosts(),
                        credentials=self._credentials.get,
                        cancel=cancel,
                    )
                )
        return [*found, self._registry(domain, insecure, cancel)]

    def add_insecure_registries(self, hosts: Iterable[str]) -> dict[str, Any]:
        """``registry insecure HOST…``: treat these registries (``HOST[:PORT]`` or a CIDR) as insecure
        for the rest of the session or script, as ``pouchsh --insecure-registry`` does for a run; none
        given only shows them. Every entry is checked before any is added."""
        from managers.tls import session_entry

        new = [session_entry(h) for h in hosts]
        now = tuple(dict.fromkeys((*self._managers.insecure_registries, *new)))
        self._managers.insecure_registries = now
        return {
            "session": builtins.list(now),
            "settings": builtins.list(self._settings().insecure_registries),
            "loopback": True,  # always insecure, as dockerd's
        }

    def _insecure_hosts(self) -> Any:
        """Loopback, ``insecure-registries`` of the settings file, and ``pouchsh --insecure-registry``."""
        from managers.tls import InsecureHosts

        return InsecureHosts((*self._settings().insecure_registries, *self._managers.insecure_registries))

    def _settings(self) -> Any:
        from managers.config import load

        return load()

    # ------------------------------------------------------------------ archives

    def load(
        self,
        stream: IO[bytes],
        *,
        name: str | None = None,
        cancel: threading.Event | None = None,
        max_size: int | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Load a Docker or OCI archive (every image in it); returns one record per name created.

        ``name`` names images the archive leaves unnamed (a bare ``ref.name`` tag is joined to it).
        Only blobs the archive's manifests reference reach the content store; a compressed archive may
        not inflate beyond ``max_size`` bytes (default: see ``tarscan.ExpansionLimit``). A stream that
        cannot seek (a pipe) is first copied to an unlinked temporary file under the data root.
        """
        from managers.archive import ArchiveLimits, read_archive  # the archive format: load and save only

        base = str(reference.parse(name)) if name else None
        limits = ArchiveLimits(expansion=ExpansionLimit(fixed=max_size))
        with (
            _seekable(stream, Path(self._managers.root), cancel) as source,
            self._client.lease(sync_delete=True) as leased,
        ):
            archive = read_archive(
                source, _ContentSink(leased), base_name=base, cancel=cancel, limits=limits
            )
            planned: builtins.list[tuple[str, Descriptor]] = []
            done: set[str] = set()  # an index may name one target many times: label and unpack it once
            for image in archive.images:
                names = image.names or (_unnamed(image.target),)
                planned.extend((n, image.target) for n in names)
                if image.target.digest in done:
                    continue
                done.add(image.target.digest)
                self._label_tree(leased, image.target, archive.documents)
                try:
                    spec = self._spec(Image(names[0], image.target), client=leased)
                except NotFound:
                    spec = None  # no manifest for this host's platform: keep it, unpack it never
                if spec is not None:
                    unpack(leased, spec, snapshotter=self.snapshotter)
            unique = {(n, target.digest): (n, target) for n, target in planned}
            created = [leased.images.put(n, target) for n, target in unique.values()]
        return [self._record(i) for i in created]

    def save(
        self,
        refs: Iterable[str],
        *,
        path: str | None = None,
        stream: IO[bytes] | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Write the images to ``path`` (atomically: a temp file renamed at the end) or to ``stream``."""
        from managers.archive import ExportImage, write_archive

        exports: builtins.list[ExportImage] = []
        blobs: builtins.list[Descriptor] = []
        for ref in refs:
            image = self._find(ref)
            spec = self._spec(image)
            names = (image.name,) if _parses(image.name) and not _looks_like_id(ref) else ()
            target = image.target if image.target.media_type not in INDEX_TYPES else spec.manifest_descriptor
            exports.append(ExportImage(names, target, spec.config_descriptor, tuple(spec.layers)))
            blobs.extend([spec.config_descriptor, *spec.layers, spec.manifest_descriptor])
        if not exports:
            raise InvalidArgument("save needs at least one image")
        for desc in blobs:
            self._client.content.info(desc.digest)  # a missing blob fails before a byte is written

        def open_blob(desc: Descriptor) -> Iterator[bytes]:
            return self._client.content.read_stream(desc.digest)

        if stream is not None:
            write_archive(stream, exports, blobs, open_blob, cancel=cancel)
            return {"images": [e.names[0] if e.names else e.target.digest for e in exports], "path": None}
        if not path:
            raise InvalidArgument("save needs an output: -o FILE, or redirect stdout")
        from managers.hostwrite import write_file

        target_path = Path(path)
        write_file(target_path, self._managers.root, "save",
                   lambda out: write_archive(out, exports, blobs, open_blob, cancel=cancel))
        return {
            "images": [e.names[0] if e.names else e.target.digest for e in exports],
            "path": str(target_path),
            "size": target_path.stat().st_size,
        }

    def import_rootfs(
        self,
        stream: IO[bytes],
        ref: str | None = None,
        *,
        message: str = "",
        platform: str | None = None,
        max_size: int | None = None,
        max_members: int = LAYER_MAX_MEMBERS,
        changes: Iterable[str] = (),
    ) -> dict[str, Any]:
        """``import``: a root filesystem tarball (plain or gzip) becomes a one-layer image, its run-time
        config made of ``changes`` (Dockerfile instructions, managers.changes; checked before anything
        is read).

        The tarball is checked as it streams into the content store, before containerd applies it: its
        uncompressed tar may not exceed ``max_size`` bytes (default: see ``tarscan.ExpansionLimit``) nor
        hold more than ``max_members`` members or any sparse member.
        """
        from managers.changes import apply_changes

        name = str(reference.parse(ref)) if ref else None
        want = parse_platform(platform) if platform else HOST_PLATFORM
        runtime_config = apply_changes({}, changes)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        with self._client.lease(sync_delete=True) as leased:
            layer_source = _LayerSource(stream, ExpansionLimit(fixed=max_size), max_members)
            layer_digest = leased.content.write(
                cast(IO[bytes], layer_source), ref=f"import-{os.getpid()}-{id(layer_source)}"
            )
            diff_id, compressed, size = layer_source.finish()
            layer = Descriptor(OCI_LAYER_GZIP if compressed else OCI_LAYER, layer_digest, size)
            config = {
                "created": now,
                "architecture": want.architecture,
                "os": want.os,
                **({"variant": want.variant} if want.variant else {}),
                "config": runtime_config,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [
                    {
                        "created": now,
                        "created_by": "pouchsh import",
                        **({"comment": message} if message else {}),
                    }
                ],
            }
            config_data = json.dumps(config, separators=(",", ":")).encode()
            config_desc = leased.content.write_blob(config_data, OCI_CONFIG)
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config_desc.to_json(),
                "layers": [layer.to_json()],
            }
            manifest_data = json.dumps(manifest, separators=(",", ":")).encode()
            target = leased.content.write_blob(
                manifest_data, OCI_MANIFEST, labels=child_gc_labels(OCI_MANIFEST, [config_desc, layer])
            )
            leased.content.update_labels(target.digest, child_gc_labels(OCI_MANIFEST, [config_desc, layer]))
            image_name = name or _unnamed(target)
            unpack(
                leased,
                self._spec(Image(image_name, target), want, client=leased),
                snapshotter=self.snapshotter,
            )
            image = leased.images.put(image_name, target)
        return self._record(image)

    # ------------------------------------------------------------------ internals

    def _find(self, ref: str) -> Image:
        """The image record for a name, a full id, or a unique id prefix."""
        text = ref.strip()
        name: str | None = None
        try:
            name = reference.normalize(text)
        except InvalidArgument:
            if not _looks_like_id(text):
                raise
        if name is not None:
            try:
                return self._client.images.get(name)
            except NotFound:
                if not _looks_like_id(text):
                    raise NotFound(f"image {ref}: not found", hint=f"pull it first: pull {ref}") from None
        matches = self._by_id(text)
        if not matches:
            raise NotFound(f"image {ref}: not found")
        ids = {self._config_digest(i) for i in matches}
        if len(ids) > 1:
            raise InvalidArgument(f"image id prefix {ref} is ambiguous ({len(ids)} images)")
        return matches[0]

    def _by_id(self, text: str) -> builtins.list[Image]:
        prefix = text.removeprefix("sha256:")
        out = []
        for image in self._client.images.list():
            try:
                digest = self._config_digest(image)
            except PouchError:
                continue
            if digest.removeprefix("sha256:").startswith(prefix):
                out.append(image)
        return out

    def _victims(self, ref: str, images: builtins.list[Image], force: bool) -> builtins.list[Image]:
        image = self._find(ref)
        if _looks_like_id(ref.strip()) and not _names_ref(ref, image):
            same = [i for i in images if i.target.digest == image.target.digest]
            if len(same) > 1 and not force:
                raise Conflict(
                    f"image {ref} is referenced by {len(same)} names ({', '.join(reference.familiar(i.name) for i in same)})",
                    hint="remove them by name, or use rmi -f",
                )
            return same
        return [image]

    def _used_targets(self, images: builtins.list[Image]) -> dict[str, builtins.list[Any]]:
        """target digest → the containers using it, over every container of the namespace: the digest
        a container was created from (its ``IMAGE_CONTENT`` label), so a tag, an untag or a name that
        now points elsewhere changes nothing; by its image name only for a container without the label
        (made by another client, or before pouchsh wrote it)."""
        by_name = {i.name: i.target.digest for i in images}
        used: dict[str, builtins.list[Any]] = {}
        for container in self._client.containers.list():
            target = container.labels.get(LABEL.IMAGE_CONTENT) or by_name.get(container.image)
            if target is not None:
                used.setdefault(target, []).append(container)
        return used

    def _hold_content(self, containers: builtins.list[Any], digest: str) -> None:
        """Before ``rmi -f`` deletes the last name of an image these containers use: each one without
        the GC reference gets it, so containerd keeps the content they need until they are removed."""
        for container in containers:
            if container.labels.get(LABEL.IMAGE_CONTENT) != digest:
                self._client.containers.update(container.id, labels={LABEL.IMAGE_CONTENT: digest})

    def _spec(
        self, image: Image, platform: Platform = HOST_PLATFORM, *, client: Client | None = None
    ) -> ImageSpec:
        return (client or self._client).images.spec(image, platform)

    def _config_digest(self, image: Image) -> str:
        return self._spec(image).config_descriptor.digest

    def _record(self, image: Image, platform: Platform | None = None) -> dict[str, Any]:
        try:
            spec = self._spec(image, platform) if platform is not None else self._spec(image)
            config: dict[str, Any] = dict(spec.config)
            image_id, size = spec.config_descriptor.digest, spec.size
        except NotFound:
            config, image_id, size = {}, "", image.target.size
        repository, tag = UNNAMED, UNNAMED
        if _parses(image.name):
            parsed = reference.parse(image.name)
            repository = parsed.familiar_repository
            tag = parsed.tag or UNNAMED
        return {
            "name": image.name,
            "repository": repository,
            "tag": tag,
            "id": image_id,
            "digest": image.target.digest,
            "size": size,
            "created": str(config.get("created") or ""),
            "labels": dict((config.get("config") or {}).get("Labels") or {}),
            "platform": _platform_of(config),
        }

    def _blobs(self, image: Image) -> set[str]:
        return set(self._blob_sizes(image))

    def _blob_sizes(self, image: Image) -> dict[str, int]:
        try:
            spec = self._spec(image)
        except NotFound:
            return {image.target.digest: image.target.size}
        out = {
            image.target.digest: image.target.size,
            spec.manifest_descriptor.digest: spec.manifest_descriptor.size,
        }
        out[spec.config_descriptor.digest] = spec.config_descriptor.size
        out.update({layer.digest: layer.size for layer in spec.layers})
        return out

    def _label_tree(self, client: Client, desc: Descriptor, documents: dict[str, bytes]) -> None:
        """Give each index and manifest the GC labels of the children the archive brought."""
        data = documents.get(desc.digest)
        if data is None or (desc.media_type not in INDEX_TYPES and "manifest" not in desc.media_type):
            return
        doc = load_json(data, f"manifest {desc.digest}")
        media_type = media_type_of(doc, desc.media_type)
        kids = [
            k for k in children(media_type, doc) if k.digest in documents or client.content.exists(k.digest)
        ]
        if kids:
            client.content.update_labels(desc.digest, child_gc_labels(media_type, kids))
        for kid in kids:
            self._label_tree(client, kid, documents)

    def _filter(self, key: str, value: str) -> Callable[[dict[str, Any]], bool]:
        """One ``--filter`` as a predicate on records (combined by managers.filters.matches)."""
        if key == "reference":
            return lambda r: (
                fnmatch.fnmatchcase(reference.familiar(r["name"]), value)
                or fnmatch.fnmatchcase(r["name"], value)
                or fnmatch.fnmatchcase(r["repository"], value)
            )
        if key == "label":
            return lambda r: label_matches(r["labels"], value)
        if key == "dangling":
            dangling = truth(key, value)
            return lambda r: (r["repository"] == UNNAMED) == dangling
        pivot = self._record(self._find(value))["created"]  # before, since
        return (lambda r: r["created"] < pivot) if key == "before" else (lambda r: r["created"] > pivot)


class _ContentSink:
    """archive.BlobSink over the content store (inside the load's lease). The writer checks each blob's
    size and digest as it streams and aborts its ingest on any failure."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def put(self, ref: str, chunks: Iterable[bytes], size: int, expected: str | None) -> str:
        ref = f"load-{expected}" if expected else f"load-{os.getpid()}-{ref}"
        reader = _IterReader(chunks)
        try:
            return self._client.content.write(cast(IO[bytes], reader), expected=expected, total=size, ref=ref)
        except InvalidArgument as exc:
            if reader.failed is exc:
                raise  # the archive reader's own refusal (a layer check) says what it is
            raise InvalidArgument(
                f"corrupt archive: {ref.removeprefix('load-')} does not match its digest or size "
                f"({exc.message})"
            ) from exc


class _IterReader(io.RawIOBase):
    """A file object over an iterator of byte chunks (what Content.write reads from)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""
        self.failed: BaseException | None = None  # what the chunks raised, if they did

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            try:
                self._buf = next(self._it, b"")
            except BaseException as exc:
                self.failed = exc
                raise
            if not self._buf:
                return b""
        if size < 0 or size >= len(self._buf):
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


class _LayerSource(io.RawIOBase):
    """A rootfs tarball as it is read into the content store, checked on the way through (see
    ``tarscan.LayerCheck``), so a bomb or a sparse member stops the write before containerd applies it."""

    def __init__(self, stream: IO[bytes], limit: ExpansionLimit, max_members: int) -> None:
        self._stream = stream
        self._check = LayerCheck("import tarball", limit, max_members)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data[:4] == _ZSTD_MAGIC and not self._check.size:
            raise InvalidArgument("import: zstd-compressed tarballs are not supported; decompress it first")
        self._check.feed(data)
        return data

    def finish(self) -> tuple[str, bool, int]:
        """(diff ID, compressed?, size in bytes), once the stream is read to its end."""
        return self._check.finish(), bool(self._check.compressed), self._check.size


@contextlib.contextmanager
def _seekable(stream: IO[bytes], directory: Path, cancel: threading.Event | None) -> Iterator[IO[bytes]]:
    """``stream`` itself when it can seek, else its bytes copied to an unlinked temporary file (O_TMPFILE:
    a killed pouchsh leaves nothing) in ``directory``. The copy holds the archive as given (compressed),
    so it costs no more than the archive's own size."""
    try:
        seekable = stream.seekable() and stream.tell() >= 0
    except (OSError, ValueError):
        seekable = False
    if seekable:
        yield stream
        return
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory, prefix=".load-") as spool:
        while data := stream.read(_SPOOL_CHUNK):
            if cancel is not None and cancel.is_set():
                raise Interrupted("load interrupted")
            spool.write(data)
        spool.seek(0)
        yield cast(IO[bytes], spool)


def _parses(name: str) -> bool:
    try:
        reference.parse(name)
    except InvalidArgument:
        return False
    return True


def _mirror_host(mirror: str) -> str:
    """``https://mirror.example:5000/`` → ``mirror.example:5000`` (its scheme is the transport's to
    choose: HTTPS, or plain HTTP only for an insecure host)."""
    text = mirror.strip()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    host = text.split("/", 1)[0]
    if not host or any(c.isspace() or c in "@?#" for c in host):
        raise InvalidArgument(f"invalid registry mirror {mirror!r} in the settings file")
    return host


def _positive(given: int | None, default: int) -> int:
    if given is None:
        return default
    if given < 1:
        raise InvalidArgument(f"a concurrency must be at least 1, not {given}")
    return given


def _looks_like_id(text: str) -> bool:
    hexpart = text.removeprefix("sha256:")
    return 4 <= len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart)


def _names_ref(ref: str, image: Image) -> bool:
    """True when ``ref`` names ``image`` (as opposed to giving its id)."""
    try:
        return reference.normalize(ref) == image.name
    except InvalidArgument:
        return False


def _unnamed(target: Descriptor) -> str:
    """The record name of an image that came without one: unique per target, never a valid reference."""
    return f"{UNNAMED}@{target.digest}"


def _platform_of(config: dict[str, Any]) -> str:
    return "/".join(str(config.get(k)) for k in ("os", "architecture", "variant") if config.get(k))


def _shown_user(container: Any) -> str:
    return str(container.labels.get(LABEL.NAME) or container.id[:12])
