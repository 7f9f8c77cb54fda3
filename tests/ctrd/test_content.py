"""The content store through ctrd: the Write stream, reads, labels, and leases protecting blobs from GC."""

from __future__ import annotations

import hashlib
import io

import pytest

import ctrd
from ctrd.api.services.content.v1 import content_pb2 as pb
from ctrd.content import CHUNK
from ctrd.descriptors import sha256_digest
from ctrd.errors import InvalidArgument, NotFound

pytestmark = pytest.mark.containerd

ROOT = {"containerd.io/gc.root": "test"}


def blob(size: int) -> bytes:
    return hashlib.sha256(b"seed").digest() * (size // 32) + b"x" * (size % 32)


def test_write_read_round_trip(ns_client: ctrd.Client) -> None:
    data = blob(3 * CHUNK + 123)
    digest = ns_client.content.write(data, expected=sha256_digest(data), labels=ROOT)
    assert digest == sha256_digest(data)
    info = ns_client.content.info(digest)
    assert (info.size, info.labels) == (len(data), ROOT)
    assert ns_client.content.read(digest) == data
    assert ns_client.content.read(digest, offset=CHUNK - 5, size=10) == data[CHUNK - 5 : CHUNK + 5]
    chunks = list(ns_client.content.read_stream(digest))
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_write_from_a_file_computes_the_digest(ns_client: ctrd.Client) -> None:
    data = blob(CHUNK + 7)
    digest = ns_client.content.write(io.BytesIO(data), labels=ROOT)
    assert digest == sha256_digest(data)
    assert ns_client.content.read(digest) == data


def test_existing_blob_short_circuits(ns_client: ctrd.Client) -> None:
    data = b"already here"
    digest = ns_client.content.write(data, expected=sha256_digest(data), labels=ROOT)
    created = ns_client.content.info(digest).created_at
    # A source that fails when read proves that nothing was sent a second time.
    class Unreadable(io.RawIOBase):
        def read(self, n: int = -1) -> bytes:
            raise AssertionError("the blob exists; its data must not be read")

    assert ns_client.content.write(Unreadable(), expected=digest, total=len(data)) == digest  # type: ignore[arg-type]
    assert ns_client.content.info(digest).created_at == created


def test_wrong_digest_is_rejected_and_leaves_nothing(ns_client: ctrd.Client) -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(InvalidArgument, match="unexpected commit digest"):
        ns_client.content.write(b"not what you expect", expected=wrong, ref="wrong-one")
    with pytest.raises(NotFound):
        ns_client.content.info(wrong)
    with pytest.raises(NotFound):  # the ingest was aborted, not left half-written
        ns_client.content.abort("wrong-one")


def test_malformed_digest_is_invalid_argument(ns_client: ctrd.Client) -> None:
    with pytest.raises(InvalidArgument, match="invalid digest"):
        ns_client.content.write(b"x", expected="md5:1234")


def test_interrupted_write_resumes_at_the_servers_offset(ns_client: ctrd.Client) -> None:
    data = blob(2 * CHUNK)
    digest = sha256_digest(data)
    ref = "resume-me"
    # Write the first chunk by hand, then drop the stream: the server keeps the partial ingest.
    first = [
        pb.WriteContentRequest(action=pb.STAT, ref=ref, total=len(data), expected=digest),
        pb.WriteContentRequest(action=pb.WRITE, offset=0, data=data[:CHUNK]),
    ]
    responses = ns_client.stream(ns_client.content.stub.Write, iter(first), "partial write")
    assert [r.offset for r in responses][-1] == CHUNK
    # The source's first chunk is garbage: only a write that resumes at the server's offset (and so
    # never sends those bytes) can commit with the expected digest.
    source = io.BytesIO(b"\0" * CHUNK + data[CHUNK:])
    assert ns_client.content.write(source, expected=digest, total=len(data), ref=ref, labels=ROOT) == digest
    assert ns_client.content.read(digest) == data


def test_labels_update_and_delete(ns_client: ctrd.Client) -> None:
    # Once the root label is gone only the lease keeps the blob from a GC that a parallel test may set off.
    with ns_client.lease() as leased:
        digest = leased.content.write(b"labelled", labels=ROOT)
        info = leased.content.update_labels(digest, {"a": "1", "containerd.io/gc.root": None})
        assert info.labels == {"a": "1"}
        assert digest in [i.digest for i in leased.content.list()]
        leased.content.delete(digest)
    with pytest.raises(NotFound):
        ns_client.content.info(digest)


def test_lease_protects_content_until_deleted(ns_client: ctrd.Client) -> None:
    data = b"only the lease holds me"
    with ns_client.lease(sync_delete=True) as leased:
        digest = leased.content.write(data)
        # Another lease deleted with sync runs the garbage collector now: our blob must survive it.
        with ns_client.lease(sync_delete=True):
            pass
        assert ns_client.content.read(digest) == data
    with pytest.raises(NotFound):
        ns_client.content.info(digest)


def test_unreferenced_content_is_collected(ns_client: ctrd.Client) -> None:
    digest = ns_client.content.write(b"nobody refers to me")
    with ns_client.lease(sync_delete=True):
        pass
    with pytest.raises(NotFound):
        ns_client.content.info(digest)
