"""The content store: blobs by digest. Info, ranged and streaming reads, the Write stream, labels."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from google.protobuf.field_mask_pb2 import FieldMask

from ctrd.api.services.content.v1 import content_pb2 as pb
from ctrd.api.services.content.v1 import content_pb2_grpc
from ctrd.convert import to_datetime
from ctrd.descriptors import Descriptor, check_digest, sha256_digest
from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PouchError, Timeout, Unavailable
from ctrd.service import Service

__all__ = ["CHUNK", "Content", "Info"]

CHUNK = 1 << 20  # what ctr writes per WRITE message, and what the server sends per Read message
_WINDOW = 4  # WRITE messages in flight before waiting for their answers
_LOCK_RETRY = 0.05


@dataclass(frozen=True, slots=True)
class Info:
    """A blob in the content store: ``digest``, ``size`` in bytes, ``labels``, ``created_at``, ``updated_at``."""

    digest: str
    size: int
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _info(msg: pb.Info) -> Info:
    return Info(msg.digest, msg.size, dict(msg.labels), to_datetime(msg.created_at), to_datetime(msg.updated_at))


class Content(Service):
    stub_class = content_pb2_grpc.ContentStub

    def info(self, digest: str) -> Info:
        return _info(self.client.call(self.stub.Info, pb.InfoRequest(digest=digest), f"content {digest}").info)

    def exists(self, digest: str) -> bool:
        try:
            self.info(digest)
        except NotFound:
            return False
        return True

    def list(self, filters: Sequence[str] = ()) -> list[Info]:
        responses = self.client.stream(self.stub.List, pb.ListContentRequest(filters=list(filters)), "content list")
        return [_info(info) for response in responses for info in response.info]

    def read_stream(self, digest: str, *, offset: int = 0, size: int = 0) -> Iterator[bytes]:
        """The blob (or ``size`` bytes from ``offset``; 0 = to the end) in chunks of up to 1 MiB."""
        request = pb.ReadContentRequest(digest=digest, offset=offset, size=size)
        for response in self.client.stream(self.stub.Read, request, f"content read {digest}"):
            yield response.data

    def read(self, digest: str, *, offset: int = 0, size: int = 0) -> bytes:
        return b"".join(self.read_stream(digest, offset=offset, size=size))

    def read_json(self, digest: str) -> Any:
        data = self.read(digest)
        try:
            return json.loads(data)
        except ValueError as err:
            raise InvalidArgument(f"content {digest} is not JSON: {err}") from None

    def update_labels(self, digest: str, labels: Mapping[str, str | None]) -> Info:
        """Set (or, with None, remove) the given labels of a blob; others stay as they are."""
        info = pb.Info(digest=digest, labels={k: v for k, v in labels.items() if v is not None})
        mask = FieldMask(paths=[f"labels.{key}" for key in labels])
        reply = self.client.call(self.stub.Update, pb.UpdateRequest(info=info, update_mask=mask), f"content {digest}")
        return _info(reply.info)

    def delete(self, digest: str) -> None:
        self.client.call(self.stub.Delete, pb.DeleteContentRequest(digest=digest), f"content delete {digest}")

    def abort(self, ref: str) -> None:
        """Drop an unfinished write (its partial data) by ref."""
        self.client.call(self.stub.Abort, pb.AbortRequest(ref=ref), f"content abort {ref}")

    def write_blob(
        self,
        data: bytes,
        media_type: str,
        *,
        labels: Mapping[str, str] | None = None,
        ref: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Descriptor:
        """Store ``data`` (already there is fine) and return its descriptor."""
        digest = sha256_digest(data)
        self.write(data, expected=digest, total=len(data), labels=labels, ref=ref)
        return Descriptor(media_type, digest, len(data), dict(annotations or {}))

    def write(
        self,
        source: bytes | IO[bytes] | Callable[[int], IO[bytes]],
        *,
        expected: str | None = None,
        total: int | None = None,
        labels: Mapping[str, str] | None = None,
        ref: str | None = None,
        lock_timeout: float = 30.0,
        keep_partial: Callable[[BaseException], bool] | None = None,
    ) -> str:
        """Write a blob through the Content.Write stream and return its digest.

        ``source`` is bytes or a binary file positioned at the blob's start. With ``total`` a source that
        yields more bytes stops at the first chunk past it (and one that yields fewer fails); with
        ``expected`` the server verifies the digest at commit, and a blob already in the store returns at
        once. Every failure (InvalidArgument for a mismatch) aborts the ingest, so no partial data stays.
        A write interrupted earlier (by a killed process) under the same ``ref`` resumes at the server's
        offset.
        While another writer holds ``ref`` the write retries until ``lock_timeout`` seconds have passed.

        ``source`` may also be a callable, called with the offset the ingest already holds and returning
        the data from there on (so a download resumes where the last one stopped instead of reading the
        prefix again); ``expected`` is then required, as only the server sees the prefix. A failure for
        which ``keep_partial`` says True (never a size or digest mismatch) keeps the ingest for such a
        resumption.
        """
        if expected is not None:
            check_digest(expected)
        elif callable(source):
            raise InvalidArgument("a resuming source needs the expected digest")
        if isinstance(source, bytes | bytearray | memoryview):
            total = len(source) if total is None else total
        ref = ref or (f"pouchsh-{expected}" if expected else f"pouchsh-{time.time_ns()}-{os.urandom(4).hex()}")
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                return self._write_once(source, ref, expected, total or 0, labels, keep_partial)
            except Unavailable as err:
                # Only a ref locked by another writer is worth waiting for; a containerd that is down is not.
                if "locked" not in err.message:
                    raise
                if time.monotonic() >= deadline:
                    raise Timeout(f"content write {ref}: still locked by another writer after {lock_timeout:g}s") from err
                time.sleep(_LOCK_RETRY)

    def _write_once(
        self,
        source: bytes | IO[bytes] | Callable[[int], IO[bytes]],
        ref: str,
        expected: str | None,
        total: int,
        labels: Mapping[str, str] | None,
        keep_partial: Callable[[BaseException], bool] | None,
    ) -> str:
        requests: queue.SimpleQueue[pb.WriteContentRequest | None] = queue.SimpleQueue()
        responses = self.client.stream(self.stub.Write, iter(requests.get, None), f"content write {ref}")
        try:
            requests.put(pb.WriteContentRequest(action=pb.STAT, ref=ref, total=total, expected=expected or ""))
            try:
                status = next(responses)
            except AlreadyExists:
                assert expected is not None  # the server only short-circuits on a known digest
                return expected
            # From here the ingest under ``ref`` is ours: any failure drops it, so no partial data stays.
            try:
                return self._stream(requests, responses, source, ref, expected, total, labels, status.offset)
            except BaseException as err:
                if keep_partial is None or isinstance(err, InvalidArgument) or not keep_partial(err):
                    self._abort_quietly(ref)
                raise
        finally:
            requests.put(None)
            responses.cancel()

    def _stream(
        self,
        requests: queue.SimpleQueue[pb.WriteContentRequest | None],
        responses: Any,
        source: bytes | IO[bytes] | Callable[[int], IO[bytes]],
        ref: str,
        expected: str | None,
        total: int,
        labels: Mapping[str, str] | None,
        offset: int,
    ) -> str:
        """Send the data after ``offset`` and commit: a source that runs past ``total`` stops at that
        chunk; a wrong digest fails the commit. The caller aborts the ingest on any failure."""
        hasher = hashlib.sha256()
        in_flight = 0
        for chunk in _chunks_from(source, offset, hasher):
            if total and offset + len(chunk) > total:
                raise InvalidArgument(f"content write {ref}: more than the {total} bytes announced")
            requests.put(pb.WriteContentRequest(action=pb.WRITE, offset=offset, data=chunk))
            offset += len(chunk)
            in_flight += 1
            if in_flight >= _WINDOW:
                next(responses)
                in_flight -= 1
        for _ in range(in_flight):
            next(responses)
        if total and offset != total:
            raise InvalidArgument(f"content write {ref}: {offset} bytes where {total} were announced")
        # The server checks the digest of everything it holds at the commit (a resumed write's prefix too).
        digest = expected or "sha256:" + hasher.hexdigest()
        requests.put(
            pb.WriteContentRequest(
                action=pb.COMMIT, offset=offset, total=total, expected=digest, labels=dict(labels or {})
            )
        )
        try:
            next(responses)
        except AlreadyExists:
            return digest  # someone else committed the same blob meanwhile
        except Conflict as err:
            raise InvalidArgument(f"content write {ref}: {err.message.split(': ', 1)[-1]}") from err
        requests.put(None)
        for _ in responses:  # the server repeats the last answer once before closing; drain it
            pass
        return digest

    def _abort_quietly(self, ref: str) -> None:
        try:
            self.abort(ref)
        except PouchError:
            pass  # the error being raised already says what went wrong


def _chunks_from(
    source: bytes | IO[bytes] | Callable[[int], IO[bytes]], offset: int, hasher: Any
) -> Iterator[bytes]:
    """The data after ``offset`` in CHUNK pieces, hashing all of it (the skipped prefix included, but
    for a resuming source, which starts at ``offset`` and whose digest the caller gave)."""
    if callable(source):
        stream = source(offset)
        while piece := stream.read(CHUNK):
            yield piece
        return
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        hasher.update(view[:offset])
        for start in range(offset, len(view), CHUNK):
            piece = bytes(view[start : start + CHUNK])
            hasher.update(piece)
            yield piece
        return
    skipped = 0
    while skipped < offset:
        piece = source.read(min(CHUNK, offset - skipped))
        if not piece:
            raise InvalidArgument(f"source is shorter ({skipped} bytes) than the resumed offset {offset}")
        hasher.update(piece)
        skipped += len(piece)
    while piece := source.read(CHUNK):
        hasher.update(piece)
        yield piece
