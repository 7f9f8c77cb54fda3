"""Moving images between a registry and containerd's content store (the client-side pull and push).

``fetch`` walks an image's tree from the root descriptor (an index narrowed to one platform, a manifest,
its config and layers), writes every blob it lacks through Content.Write with the expected digest, and
labels each parent with its children so containerd's GC keeps the tree together. ``push`` walks the
tree the other way: blobs the registry lacks first, then manifests, the tagged root last.

Both run inside the caller's lease; a failure leaves nothing the lease does not cover.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, cast

from ctrd.errors import (
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchRuntimeError,
    Timeout,
    Unavailable,
)
from managers.oci import (
    INDEX_TYPES,
    LAYER_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    Platform,
    child_gc_labels,
    children,
    load_json,
    media_type_of,
    select_manifest,
)
from managers import sources
from managers.progress import Progress, ProgressFn, report
from managers.registry import BlobStream, Registry
from managers.tarscan import ExpansionLimit, LayerCheck

if TYPE_CHECKING:
    from ctrd.client import Client

__all__ = ["fetch", "push", "resumable"]

_RESUMES = 3
_MAX_DEPTH = 4  # indexes within indexes


def _kind(desc: Descriptor) -> str:
    if desc.media_type in INDEX_TYPES:
        return "index"
    if desc.media_type in MANIFEST_TYPES:
        return "manifest"
    return "config" if "config" in desc.media_type else "layer"


# ---------------------------------------------------------------------------------------------- pull


def fetch(
    client: Client,
    registry: Registry,
    repo: str,
    root: Descriptor,
    platform: Platform,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    concurrency: int = 3,
    unpack_onto: str | None = None,
    depth: int = 0,
) -> Descriptor:
    """Bring ``root``'s tree for ``platform`` into the content store; returns the platform manifest.

    Only what the tree references is fetched; each manifest is bounded in size and checked against its
    descriptor's digest and size before it is parsed, each blob's size as it streams (see ``_BlobSource``)
    and its digest by containerd as it is written.
    A manifest's blobs move ``concurrency`` at a time. With ``unpack_onto`` (a snapshotter) each layer
    is applied as soon as it and the layers below it are stored, while the later ones still download.
    """
    if depth > _MAX_DEPTH:
        raise InvalidArgument(f"{registry.domain}/{repo}: indexes nested more than {_MAX_DEPTH} deep")
    if root.media_type not in INDEX_TYPES and root.media_type not in MANIFEST_TYPES:
        raise InvalidArgument(f"{registry.domain}/{repo}: unsupported manifest type {root.media_type!r}")
    data = _manifest(client, registry, repo, root)
    if len(data) != root.size:
        raise PouchRuntimeError(
            f"registry {registry.domain} served {len(data)} bytes for manifest {root.digest}, "
            f"which has {root.size}"
        )
    doc = load_json(data, f"manifest {root.digest}")
    media_type = media_type_of(doc, root.media_type)
    if media_type in INDEX_TYPES:
        chosen = select_manifest(doc, platform)
        manifest = fetch(
            client,
            registry,
            repo,
            chosen,
            platform,
            progress=progress,
            cancel=cancel,
            concurrency=concurrency,
            unpack_onto=unpack_onto,
            depth=depth + 1,
        )
        kids = [chosen]
    else:
        manifest = root
        kids = children(media_type, doc)
        unpacker = None
        if unpack_onto is not None and kids:
            _blob(client, registry, repo, kids[0], progress, cancel)  # the config: it lists the diff IDs
            unpacker = _Unpacker.start(client, kids[0], kids[1:], unpack_onto)
        pending = kids[1:] if unpacker is not None else kids

        def job(kid: Descriptor) -> Callable[[threading.Event], None]:
            def run(stop: threading.Event) -> None:
                _blob(client, registry, repo, kid, progress, stop)
                if unpacker is not None:
                    unpacker.landed(kid.digest)

            return run

        try:
            _in_parallel([job(kid) for kid in pending], concurrency, cancel)
        except BaseException:
            if unpacker is not None:
                unpacker.abandon()
            raise
        if unpacker is not None:
            unpacker.finish()
    _store_json(client, root, data, child_gc_labels(media_type, kids))
    report(progress, Progress(root.digest, _kind(root), "done", root.size, root.size))
    return manifest


class _Stop(threading.Event):
    """Set by the first failing transfer of a batch, and set too whenever the caller's cancel is."""

    def __init__(self, outer: threading.Event | None) -> None:
        super().__init__()
        self._outer = outer

    def is_set(self) -> bool:
        return super().is_set() or (self._outer is not None and self._outer.is_set())


class _Unpacker:
    """Applies a manifest's layers in order, in a thread of its own, each once its blob is stored."""

    def __init__(
        self, client: Client, config: Descriptor, layers: list[Descriptor], diff_ids: list[str]
    ) -> None:
        self._client = client
        self._config = config
        self._layers = layers
        self._diff_ids = diff_ids
        self._landed: set[str] = set()
        self._abandoned = False
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls, client: Client, config: Descriptor, layers: list[Descriptor], snapshotter: str
    ) -> _Unpacker | None:
        """An unpacker running, or None when the layers are not all plain layers or the config does not
        list one diff ID each (then the image is unpacked after the fetch, which reports what is wrong)."""
        try:
            diff_ids = client.content.read_json(config.digest)["rootfs"]["diff_ids"]
        except (NotFound, InvalidArgument, KeyError, TypeError):
            return None
        if (
            not isinstance(diff_ids, list)
            or len(diff_ids) != len(layers)
            or not all(isinstance(d, str) for d in diff_ids)
            or not all(layer.media_type in LAYER_TYPES for layer in layers)
        ):
            return None
        unpacker = cls(client, config, layers, diff_ids)
        unpacker._thread = threading.Thread(
            target=unpacker._run, args=(snapshotter,), name="unpack", daemon=True
        )
        unpacker._thread.start()
        return unpacker

    def landed(self, digest: str) -> None:
        with self._cond:
            self._landed.add(digest)
            self._cond.notify_all()

    def abandon(self) -> None:
        """The fetch failed: stop after the layer being applied, and wait for that."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def finish(self) -> None:
        """Wait for the last layer; a failure of the unpack is raised here."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _ready(self, i: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._abandoned or self._layers[i].digest in self._landed)
            if self._abandoned:
                raise Interrupted("unpack stopped: the fetch failed")

    def _run(self, snapshotter: str) -> None:
        from ctrd.unpack import unpack_layers

        try:
            unpack_layers(
                self._client,
                self._layers,
                self._diff_ids,
                self._config,
                snapshotter=snapshotter,
                ready=self._ready,
            )
        except BaseException as exc:  # handed to the fetching thread by finish()
            self._error = exc


def _in_parallel(
    jobs: list[Callable[[threading.Event], None]], concurrency: int, cancel: threading.Event | None
) -> None:
    """Run the jobs ``concurrency`` at a time; the first failure stops the rest, and is raised once
    every job has ended (nothing is left writing into the lease when the caller drops it)."""
    stop = _Stop(cancel)
    if concurrency <= 1 or len(jobs) <= 1:
        for job in jobs:
            job(stop)
        return
    from concurrent.futures import ThreadPoolExecutor

    failures: list[BaseException] = []

    def run(job: Callable[[threading.Event], None]) -> None:
        if stop.is_set():
            return
        try:
            job(stop)
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)), thread_name_prefix="transfer") as pool:
        list(pool.map(run, jobs))
    if failures:
        # the first failure is the cause; the others are the transfers it stopped
        first = next((f for f in failures if not isinstance(f, Interrupted)), failures[0])
        raise first
    if cancel is not None and cancel.is_set():
        raise Interrupted("transfer interrupted")


def _manifest(client: Client, registry: Registry, repo: str, desc: Descriptor) -> bytes:
    try:
        return client.content.read(desc.digest)
    except NotFound:
        data, _, _ = registry.get_manifest(repo, desc.digest, expected=desc.digest)
        return data


def _store_json(client: Client, desc: Descriptor, data: bytes, labels: dict[str, str]) -> None:
    client.content.write(data, expected=desc.digest, total=len(data), ref=f"{_kind(desc)}-{desc.digest}")
    if labels:
        client.content.update_labels(desc.digest, labels)


def _blob(
    client: Client,
    registry: Registry,
    repo: str,
    desc: Descriptor,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> None:
    kind = _kind(desc)
    try:
        info = client.content.info(desc.digest)
    except NotFound:
        info = None
    if info is not None:
        # what a push elsewhere in this registry may mount from (managers.sources)
        label = sources.added(info.labels, registry.domain, repo)
        if label:
            client.content.update_labels(desc.digest, label)
        report(progress, Progress(desc.digest, kind, "exists", desc.size, desc.size))
        return
    ref = f"{kind}-{desc.digest}"
    opened: list[_BlobSource] = []

    def source_from(offset: int) -> IO[bytes]:
        # the ingest under ``ref`` may hold what an earlier, interrupted pull fetched: go on from there
        opened.append(_BlobSource(registry, repo, desc, kind, progress, cancel, start=offset))
        return cast(IO[bytes], opened[-1])

    try:
        client.content.write(
            source_from,
            expected=desc.digest,
            total=desc.size,
            ref=ref,
            keep_partial=resumable,
            labels=sources.added({}, registry.domain, repo),
        )
    except InvalidArgument as exc:
        # The server's commit check: the bytes do not hash to the digest the manifest promised.
        raise PouchRuntimeError(
            f"registry {registry.domain} served wrong content for {desc.digest} ({exc.message})"
        ) from exc
    finally:
        for source in opened:
            source.close()
    if opened and opened[0].start and kind == "layer" and desc.media_type in LAYER_TYPES:
        _check_stored_layer(client, registry, desc)
    report(progress, Progress(desc.digest, kind, "done", desc.size, desc.size))


def resumable(exc: BaseException) -> bool:
    """Whether a failed pull keeps what it fetched for the next one: the registry went away, a deadline
    passed, or the user interrupted; never when the registry lied or kept cutting downloads short."""
    return isinstance(exc, (Unavailable, Timeout, Interrupted)) and not isinstance(exc, _CutShort)


class _CutShort(Unavailable):
    """A registry that answers but keeps ending a download early: no partial of it is kept."""


def _check_stored_layer(client: Client, registry: Registry, desc: Descriptor) -> None:
    """A layer resumed from an earlier pull's partial was not seen whole while streaming; check what it
    would cost to apply (bomb, sparse, member count) from the store, before anything applies it."""
    check = LayerCheck(f"layer {desc.digest} from {registry.domain}", ExpansionLimit(), diff_id=False)
    try:
        for chunk in client.content.read_stream(desc.digest):
            check.feed(chunk)
        check.finish()
    except InvalidArgument as exc:
        raise PouchRuntimeError(
            f"registry {registry.domain} served a layer that is refused: {exc.message}"
        ) from exc


class _BlobSource(io.RawIOBase):
    """A registry blob as a file object: checks its size as it reads (and a layer's cost once applied),
    and when the connection drops it reopens the download at the current offset (``Range``) instead of
    starting over. The digest is containerd's to check: its ingest hashes the bytes as they are written
    and the commit refuses a mismatch (hashing here too cost a second pass over every byte)."""

    def __init__(
        self,
        registry: Registry,
        repo: str,
        desc: Descriptor,
        kind: str,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        *,
        start: int = 0,
    ) -> None:
        self._registry = registry
        self._repo = repo
        self._desc = desc
        self._kind = kind
        self._progress = progress
        self._cancel = cancel
        self._stream: BlobStream | None = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = b""  # read from the connection, not handed out yet
        self._failed: BaseException | None = None  # raised by the read after the one it cut short
        # from ``start`` on when an earlier pull's partial holds the bytes before it: then the layer
        # check reads the stored blob (``_blob``)
        self.start = start
        self._offset = start
        self._resumes = 0
        # a layer is also checked for what it would cost once applied (bomb, sparse, member count)
        self._check = (
            LayerCheck(f"layer {desc.digest} from {registry.domain}", ExpansionLimit(), diff_id=False)
            if kind == "layer" and desc.media_type in LAYER_TYPES and start == 0
            else None
        )

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, as many as that unless the blob ends first: the socket hands out 64 KiB
        at a time, and each read becomes one Content.Write message, which containerd answers one by
        one (a full 1 MiB a message, as ctr writes, took a fifth of containerd's CPU off a pull)."""
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        remaining = self._desc.size - self._offset
        if remaining <= 0:
            return b""
        want = remaining if size < 0 else min(size, remaining)
        pieces: list[bytes] = []
        got = 0
        while got < want:
            try:
                piece = self._next(want - got)
            except (Unavailable, Timeout, Interrupted) as exc:
                if not pieces:
                    raise
                # what came before the failure is written first, so a later pull resumes after it
                self._failed = exc
                break
            self._offset += len(piece)  # where a dropped connection resumes
            got += len(piece)
            pieces.append(piece)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if self._check is not None:
            self._checked(self._check.feed, data)
        report(
            self._progress,
            Progress(self._desc.digest, self._kind, "downloading", self._offset, self._desc.size),
        )
        if self._offset == self._desc.size:
            self._verify()
        return data

    def _next(self, want: int) -> bytes:
        while True:
            if not self._pending:
                if self._chunks is None:
                    self._open()  # which leaves the start in _pending when it skipped a prefix
                assert self._chunks is not None
                try:
                    if not self._pending:
                        self._pending = next(self._chunks, b"")
                except (Unavailable, Timeout) as exc:
                    if self._resumes >= _RESUMES:
                        raise _CutShort(exc.message) from exc
            if self._pending:
                # a chunk from the socket may run past what was asked for: the rest is the next read's
                data, self._pending = self._pending[:want], self._pending[want:]
                return data
            if self._resumes >= _RESUMES:
                raise _CutShort(
                    f"registry {self._registry.domain}: download of {self._desc.digest} ended at "
                    f"{self._offset} of {self._desc.size} bytes"
                )
            self._resumes += 1
            self.close()

    def _open(self) -> None:
        stream = self._registry.open_blob(self._repo, self._desc.digest, self._offset)
        if stream.length is not None and stream.start + stream.length > self._desc.size:
            stream.close()
            raise PouchRuntimeError(
                f"registry {self._registry.domain} served wrong content for {self._desc.digest}: "
                f"{stream.start + stream.length} bytes where the manifest says {self._desc.size}"
            )
        chunks = stream.chunks(self._cancel)
        if stream.start < self._offset:
            # The server ignored Range: skip what was already read (and hashed).
            skip = self._offset - stream.start
            while skip > 0:
                piece = next(chunks, b"")
                if not piece:
                    raise Unavailable(f"registry {self._registry.domain}: blob {self._desc.digest} is short")
                if len(piece) > skip:
                    self._pending = piece[skip:]
                    break
                skip -= len(piece)
        self._stream, self._chunks = stream, chunks

    def _verify(self) -> None:
        if self._pending or (self._chunks is not None and next(self._chunks, b"")):
            raise PouchRuntimeError(
                f"registry {self._registry.domain} served wrong content for {self._desc.digest}: "
                "more bytes than the manifest says"
            )
        if self._check is not None:
            self._checked(self._check.finish)

    def _checked(self, step: Callable[..., object], *args: bytes) -> None:
        """A step of the layer check; its refusal says the registry served a layer no host should apply."""
        try:
            step(*args)
        except InvalidArgument as exc:
            raise PouchRuntimeError(
                f"registry {self._registry.domain} served a layer that is refused: {exc.message}"
            ) from exc

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream = self._chunks = None


# ---------------------------------------------------------------------------------------------- push


def push(
    client: Client,
    registry: Registry,
    repo: str,
    tag: str,
    target: Descriptor,
    *,
    chunk_size: int | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    concurrency: int = 5,
) -> Descriptor:
    """Push ``target``'s tree and tag it; returns the descriptor now under ``tag``. Blobs go up
    ``concurrency`` at a time.

    An index whose other platforms were never pulled cannot be pushed whole; then its platform manifest
    (the one that is complete locally) is pushed under the tag instead.
    """
    doc = client.content.read_json(target.digest)
    if target.media_type in INDEX_TYPES:
        present = [kid for kid in children(target.media_type, doc) if _complete(client, kid)]
        if len(present) != len(doc.get("manifests") or []):
            if not present:
                raise NotFound(f"none of the manifests of {target.digest} are in the content store")
            return push(
                client,
                registry,
                repo,
                tag,
                present[0],
                chunk_size=chunk_size,
                progress=progress,
                cancel=cancel,
                concurrency=concurrency,
            )
        for kid in present:
            _push_manifest(client, registry, repo, kid, kid.digest, chunk_size, progress, cancel, concurrency)
        _put(client, registry, repo, target, tag, progress)
        return target
    _push_manifest(client, registry, repo, target, tag, chunk_size, progress, cancel, concurrency)
    return target


def _complete(client: Client, desc: Descriptor) -> bool:
    try:
        doc = client.content.read_json(desc.digest)
    except NotFound:
        return False
    return all(client.content.exists(kid.digest) for kid in children(desc.media_type, doc))


def _push_manifest(
    client: Client,
    registry: Registry,
    repo: str,
    desc: Descriptor,
    obj: str,
    chunk_size: int | None,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    concurrency: int,
) -> None:
    doc: dict[str, Any] = client.content.read_json(desc.digest)

    def upload(kid: Descriptor, stop: threading.Event) -> None:
        kind = _kind(kid)
        labels = client.content.info(kid.digest).labels
        if registry.blob_exists(repo, kid.digest):
            report(progress, Progress(kid.digest, kind, "exists", kid.size, kid.size))
        else:
            if stop.is_set():
                raise Interrupted("push interrupted")
            mounted, location = False, None
            # Another repository of this registry that holds the blob: the registry links it into this
            # one (201) or, when it will not (202: that repository lacks it, or we may not read it),
            # opens the upload the blob then goes into.
            origins = sources.sources(labels, registry.domain, besides=repo)
            if origins:
                mounted, location = registry.mount_blob(repo, kid.digest, origins[0])
                if mounted:
                    report(progress, Progress(kid.digest, kind, "mounted", kid.size, kid.size))
            if not mounted:
                report(progress, Progress(kid.digest, kind, "uploading", 0, kid.size))
                registry.upload_blob(
                    repo,
                    kid,
                    lambda: _counted(client.content.read_stream(kid.digest), kid, kind, progress, stop),
                    chunk_size=chunk_size if chunk_size and kid.size > chunk_size else None,
                    location=location,
                )
                report(progress, Progress(kid.digest, kind, "done", kid.size, kid.size))
        label = sources.added(labels, registry.domain, repo)
        if label:
            client.content.update_labels(kid.digest, label)

    kids = children(desc.media_type, doc)
    _in_parallel([lambda stop, kid=kid: upload(kid, stop) for kid in kids], concurrency, cancel)
    _put(client, registry, repo, desc, obj, progress)


def _counted(
    chunks: Iterator[bytes],
    desc: Descriptor,
    kind: str,
    progress: ProgressFn | None,
    stop: threading.Event,
) -> Iterator[bytes]:
    """An upload's bytes, reported as they go, stopping when the batch is stopped."""
    sent = 0
    for chunk in chunks:
        if stop.is_set():
            raise Interrupted("push interrupted")
        sent += len(chunk)
        report(progress, Progress(desc.digest, kind, "uploading", sent, desc.size))
        yield chunk


def _put(
    client: Client, registry: Registry, repo: str, desc: Descriptor, obj: str, progress: ProgressFn | None
) -> None:
    data = client.content.read(desc.digest)
    registry.put_manifest(repo, obj, desc.media_type, data)
    report(progress, Progress(desc.digest, _kind(desc), "done", desc.size, desc.size))
