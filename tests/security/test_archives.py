"""Hostile archives for ``load`` and hostile rootfs tarballs for ``import``, against the real containerd.

Each refusal is checked the same way: a clear error kind, and afterwards the namespace holds no new
content, image or lease, containerd has no ingest left, and the containerd root did not grow beyond a
small bound (the attacks here would cost from 32 MiB to 1.5 GB if they got through).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument, PouchError
from ctrd.images import HOST_PLATFORM

pytestmark = pytest.mark.containerd

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
NAME = "docker.io/library/hostile:1"
#: how much the containerd root may grow across a refused load (bolt pages, ingest bookkeeping)
DISK_SLACK = 8 << 20
BIG = 32 << 20


# ---------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def images(facade: Any) -> Any:
    return facade.images


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def member(name: str, data: bytes = b"", **attrs: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def small_layer() -> bytes:
    return tar_bytes([member("hello.txt", b"hello\n")])


@dataclass
class Image:
    layer: bytes
    config: bytes
    manifest: bytes
    index: bytes


def image(layer: bytes | None = None, *, layer_size: int | None = None, layer_digest: str | None = None) -> Image:
    layer = small_layer() if layer is None else layer
    config = json.dumps(
        {"architecture": HOST_PLATFORM.architecture, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}
    ).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest or digest(layer), "size": len(layer) if layer_size is None else layer_size}],
    }).encode()  # fmt: skip
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
                       "annotations": {"io.containerd.image.name": NAME}}],
    }).encode()  # fmt: skip
    return Image(layer, config, manifest, index)


def blob(data: bytes, name_digest: str | None = None) -> tuple[tarfile.TarInfo, bytes]:
    return member(f"blobs/sha256/{(name_digest or digest(data)).split(':')[1]}", data)


def oci_archive(
    img: Image,
    *,
    extra: list[tuple[tarfile.TarInfo, bytes]] = (),  # type: ignore[assignment]
    layer_member: tuple[tarfile.TarInfo, bytes] | None = None,
    skip_layer: bool = False,
    fmt: int = tarfile.PAX_FORMAT,
) -> bytes:
    members = [member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), *extra, blob(img.config), blob(img.manifest)]
    if not skip_layer:
        members.append(layer_member or blob(img.layer))
    members.append(member("index.json", img.index))
    return tar_bytes(members, fmt)


def sparse_member(name: str, apparent: int) -> bytes:
    """A GNU sparse header (type S) whose file claims ``apparent`` bytes and stores one 512-byte block."""
    info = tarfile.TarInfo(name)
    info.type = tarfile.GNUTYPE_SPARSE
    info.size = 512
    info.mtime = 0
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    # old GNU sparse map at 386: (offset 0, numbytes 512); realsize at 483
    block[386:398] = tarfile.itn(0, 12, tarfile.GNU_FORMAT)
    block[398:410] = tarfile.itn(512, 12, tarfile.GNU_FORMAT)
    block[483:495] = tarfile.itn(apparent, 12, tarfile.GNU_FORMAT)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block[:512])
    return bytes(block[:512]) + b"x" * 512


def with_raw_member(archive: bytes, raw: bytes) -> bytes:
    """``archive`` with raw header+data blocks spliced in before its end-of-archive blocks."""
    body = archive.rstrip(b"\0")
    body += b"\0" * (-len(body) % 512)
    return body + raw + b"\0" * 1024


def ctrd_root(address: str) -> Path:
    # the session fixture's layout: <base>/run/containerd/containerd.sock and <base>/root/containerd
    root = Path(address).parents[2] / "root" / "containerd"
    assert root.is_dir(), f"containerd root not found beside {address}"
    return root


def disk_usage(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def ingests(root: Path) -> set[str]:
    ingest = root / "io.containerd.content.v1.content" / "ingest"
    return set(os.listdir(ingest)) if ingest.is_dir() else set()


@pytest.fixture
def untouched(ns_client: Any, containerd_address: str) -> Iterator[Callable[[], None]]:
    """Call it after a refusal: nothing new in the namespace, no ingest, the root about as large."""
    root = ctrd_root(containerd_address)
    content = {i.digest for i in ns_client.content.list()}
    images = {i.name for i in ns_client.images.list()}
    before_ingests = ingests(root)
    before = disk_usage(root)

    def check() -> None:
        assert {i.digest for i in ns_client.content.list()} == content
        assert {i.name for i in ns_client.images.list()} == images
        assert ns_client.leases.list() == []
        assert ingests(root) <= before_ingests
        grown = disk_usage(root) - before
        assert grown < DISK_SLACK, f"the containerd root grew by {grown} bytes"

    yield check


def load_kind(images: Any, data: bytes, **kw: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        images.load(io.BytesIO(data), **kw)
    return caught.value


# ---------------------------------------------------------------------------------------------- load


def test_a_well_formed_archive_still_loads(images: Any, ns_client: Any) -> None:
    img = image()
    (record,) = images.load(io.BytesIO(oci_archive(img)))
    assert record["name"] == NAME
    assert {i.digest for i in ns_client.content.list()} == {digest(img.layer), digest(img.config), digest(img.manifest)}


def test_unreferenced_members_are_never_read_into_the_content_store(images: Any, ns_client: Any, containerd_address: str) -> None:
    img = image()
    junk = os.urandom(1 << 20) * (BIG >> 20)
    extra = [blob(junk), member("some/other/file", junk), member("blobs/sha256/" + "0" * 64, b"{}")]
    root = ctrd_root(containerd_address)
    before = disk_usage(root)
    (record,) = images.load(io.BytesIO(oci_archive(img, extra=extra)))
    assert record["name"] == NAME
    stored = {i.digest for i in ns_client.content.list()}
    assert stored == {digest(img.layer), digest(img.config), digest(img.manifest)}
    assert disk_usage(root) - before < DISK_SLACK


class CountingSink:
    """A BlobSink that only counts: what read_archive hands over, before containerd or its GC see it."""

    def __init__(self) -> None:
        self.put_bytes = 0
        self.digests: set[str] = set()

    def put(self, ref: str, chunks: Any, size: int, expected: str | None) -> str:
        hasher = hashlib.sha256()
        for chunk in chunks:
            self.put_bytes += len(chunk)
            hasher.update(chunk)
        self.digests.add("sha256:" + hasher.hexdigest())
        return "sha256:" + hasher.hexdigest()


def test_read_archive_hands_over_only_the_referenced_bytes() -> None:
    from managers.archive import read_archive

    img = image()
    junk = os.urandom(1 << 20) * 8
    sink = CountingSink()
    read_archive(io.BytesIO(oci_archive(img, extra=[blob(junk), member("other", junk)])), sink)
    assert sink.digests == {digest(img.layer), digest(img.config), digest(img.manifest)}
    assert sink.put_bytes == len(img.layer) + len(img.config) + len(img.manifest)


def test_an_unreferenced_sparse_member_is_refused_not_expanded(images: Any, untouched: Callable[[], None]) -> None:
    # the 310 KB archive of the issue: a sparse member that claims 1.5 GB
    data = with_raw_member(oci_archive(image()), sparse_member("blobs/sha256/" + "1" * 64, 1_500_000_000))
    assert len(data) < 64 << 10
    err = load_kind(images, data)
    assert "sparse" in err.message
    untouched()


def test_a_pax_sparse_member_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    data = b"1\n0\n512\n".ljust(512, b"\0") + b"x" * 512  # the 1.0 sparse map, then the one stored block
    info, _ = member("blobs/sha256/" + "2" * 64, data)
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "big", "GNU.sparse.realsize": "1500000000"}
    err = load_kind(images, oci_archive(image(), extra=[(info, data)]))
    assert "sparse" in err.message
    untouched()


def test_a_malformed_sparse_map_is_a_clean_refusal(images: Any, untouched: Callable[[], None]) -> None:
    info, _ = member("blobs/sha256/" + "3" * 64, b"x" * 512)
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "1500000000"}
    err = load_kind(images, oci_archive(image(), extra=[(info, b"x" * 512)]))
    assert "not a readable image archive" in err.message
    untouched()


def test_a_referenced_sparse_layer_is_refused_before_containerd_applies_it(images: Any, untouched: Callable[[], None]) -> None:
    layer = with_raw_member(small_layer(), sparse_member("huge", 1_500_000_000))
    err = load_kind(images, oci_archive(image(layer)))
    assert "sparse" in err.message and "corrupt" not in err.message
    untouched()


def test_a_layer_that_inflates_past_the_bound_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    layer = gzip.compress(tar_bytes([member("zeros", b"\0" * BIG)]), compresslevel=1)
    err = load_kind(images, oci_archive(image(layer)), max_size=BIG // 4)
    assert "decompression bomb" in err.message
    untouched()


def test_a_layer_that_is_not_a_tar_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    err = load_kind(images, oci_archive(image(b"\x01" * 4096)))
    assert "not a tar" in err.message
    untouched()


def test_a_layer_larger_than_its_descriptor_is_refused_before_it_is_written(images: Any, untouched: Callable[[], None]) -> None:
    big = tar_bytes([member("big", b"\0" * BIG)])
    img = image(big, layer_size=1024)
    err = load_kind(images, oci_archive(img))
    assert "descriptor says 1024" in err.message
    untouched()


def test_a_layer_with_the_wrong_digest_is_refused_and_leaves_nothing(images: Any, untouched: Callable[[], None]) -> None:
    img = image(tar_bytes([member("big", b"\0" * BIG)]))
    lying = bytearray(img.layer)
    lying[len(lying) // 2] ^= 0xFF  # same size, other bytes, under the promised digest's name
    err = load_kind(images, oci_archive(img, layer_member=blob(bytes(lying), digest(img.layer))))
    assert "corrupt archive" in err.message
    untouched()


def test_a_manifest_that_names_a_missing_blob_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    err = load_kind(images, oci_archive(image(), skip_layer=True))
    assert "missing blob" in err.message
    untouched()


def test_a_manifest_whose_bytes_differ_from_its_digest_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    img = image()
    forged = img.manifest.replace(b'"schemaVersion": 2', b'"schemaVersion":  2')[: len(img.manifest)]
    members = [member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), blob(img.config), blob(forged, digest(img.manifest)),
               blob(img.layer), member("index.json", img.index)]  # fmt: skip
    err = load_kind(images, tar_bytes(members))
    assert "does not match its digest" in err.message
    untouched()


@pytest.mark.parametrize("which", ["index.json", "manifest.json"])
def test_oversized_json_documents_are_refused(images: Any, untouched: Callable[[], None], which: str) -> None:
    huge = b"[" + b" " * (5 << 20) + b"]"
    if which == "index.json":
        data = tar_bytes([member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), member("index.json", huge)])
    else:
        data = tar_bytes([member("manifest.json", huge)])
    err = load_kind(images, data)
    assert "at most" in err.message
    untouched()


@functools.lru_cache(maxsize=1)
def hundred_thousand_members() -> bytes:
    template = tarfile.TarInfo("m").tobuf(tarfile.GNU_FORMAT)
    blocks = []
    for n in range(100_000):
        block = bytearray(template)
        block[0:7] = b"m%06d" % n
        block[148:156] = b" " * 8
        block[148:156] = b"%06o\0 " % sum(block)
        blocks.append(bytes(block))
    return b"".join(blocks) + b"\0" * 1024


def test_a_hundred_thousand_members_are_refused(images: Any, untouched: Callable[[], None]) -> None:
    err = load_kind(images, hundred_thousand_members())
    assert "more than 10000 members" in err.message
    untouched()


def test_a_member_given_twice_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    img = image()
    err = load_kind(images, oci_archive(img, extra=[member("index.json", b"{}")]))
    assert "twice" in err.message
    untouched()


@pytest.mark.parametrize(
    "layer_member",
    [
        ("symlink", lambda n: member(n, type=tarfile.SYMTYPE, linkname="/etc/passwd")),
        ("dotdot symlink", lambda n: member(n, type=tarfile.SYMTYPE, linkname="../../../../../../etc/passwd")),
        ("hard link", lambda n: member(n, type=tarfile.LNKTYPE, linkname="/etc/passwd")),
        ("device", lambda n: member(n, type=tarfile.CHRTYPE, devmajor=1, devminor=3)),
        ("fifo", lambda n: member(n, type=tarfile.FIFOTYPE)),
    ],
    ids=lambda p: p[0],
)
def test_links_resolve_inside_the_archive_only(images: Any, untouched: Callable[[], None], layer_member: Any) -> None:
    img = image()
    name = "blobs/sha256/" + digest(img.layer).split(":")[1]
    err = load_kind(images, oci_archive(img, layer_member=layer_member[1](name)))
    assert "missing" in err.message or "not a regular file" in err.message
    untouched()


@pytest.mark.parametrize("name", ["../../../../../tmp/pouchsh-escape", "/tmp/pouchsh-escape-abs"])
def test_member_names_never_reach_the_host(images: Any, ns_client: Any, name: str) -> None:
    (record,) = images.load(io.BytesIO(oci_archive(image(), extra=[member(name, b"escaped")])))
    assert record["name"] == NAME
    assert not Path("/tmp/pouchsh-escape").exists() and not Path("/tmp/pouchsh-escape-abs").exists()


def test_a_compressed_archive_that_inflates_past_its_bound_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    data = gzip.compress(oci_archive(image(), extra=[member("zeros", b"\0" * BIG)]), compresslevel=1)
    err = load_kind(images, data, max_size=BIG // 2)
    assert "decompression bomb" in err.message
    untouched()


def test_a_compressed_archive_within_its_bound_loads(images: Any) -> None:
    (record,) = images.load(io.BytesIO(gzip.compress(oci_archive(image()), compresslevel=1)))
    assert record["name"] == NAME


def test_a_non_ascii_tag_in_an_archive_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    img = image()
    entries = [{"Config": f"blobs/sha256/{digest(img.config).split(':')[1]}", "RepoTags": ["hostile:tést"],
                "Layers": [f"blobs/sha256/{digest(img.layer).split(':')[1]}"]}]  # fmt: skip
    data = tar_bytes([blob(img.config), blob(img.layer), member("manifest.json", json.dumps(entries).encode())])
    err = load_kind(images, data)
    assert "'é'" in err.message
    untouched()


class Pipe(io.RawIOBase):
    """A stream that cannot seek, as stdin from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self._data.readinto(b)


def test_a_piped_archive_is_spooled_and_the_spool_vanishes(images: Any, roots: tuple[Path, Path], facade: Any) -> None:
    before = set(os.listdir(facade.root)) if Path(facade.root).exists() else set()
    (record,) = images.load(io.BufferedReader(Pipe(oci_archive(image()))))
    assert record["name"] == NAME
    after = set(os.listdir(facade.root))
    assert not {n for n in after - before if n.startswith(".load-")}


def test_a_piped_hostile_archive_is_refused_and_leaves_nothing(images: Any, untouched: Callable[[], None]) -> None:
    data = with_raw_member(oci_archive(image()), sparse_member("junk", 1_500_000_000))
    with pytest.raises(InvalidArgument, match="sparse"):
        images.load(io.BufferedReader(Pipe(data)))
    untouched()


def test_load_refusals_reach_the_user_as_invalid_argument(shell: Any, tmp_path: Path) -> None:
    path = tmp_path / "sparse.tar"
    path.write_bytes(with_raw_member(oci_archive(image()), sparse_member("junk", 1_500_000_000)))
    assert shell.kind(f"load -i '{path}'") == "invalid-argument"
    assert all(i.name != NAME for i in shell.facade.ctrd.images.list())
    assert shell.facade.ctrd.leases.list() == []


def test_interrupting_a_load_leaves_nothing(images: Any, untouched: Callable[[], None]) -> None:
    cancel = threading.Event()
    cancel.set()
    from ctrd.errors import Interrupted

    with pytest.raises(Interrupted):
        images.load(io.BytesIO(oci_archive(image(tar_bytes([member("big", b"\0" * BIG)])))), cancel=cancel)
    untouched()


# ---------------------------------------------------------------------------------------------- import


def zero_bomb(apparent: int, step: int = 64 << 20) -> bytes:
    """A gzip stream (many members, as a multi-member gzip may have) of a tar holding one file of
    ``apparent`` zero bytes: a few MB that inflate to ``apparent``."""
    header = tarfile.TarInfo("zeros")
    header.size = apparent
    zeros = gzip.compress(b"\0" * step, compresslevel=9, mtime=0)
    parts = [gzip.compress(header.tobuf(tarfile.GNU_FORMAT), mtime=0)]
    parts += [zeros] * (apparent // step)
    parts.append(gzip.compress(b"\0" * 1024, mtime=0))
    return b"".join(parts)


def test_import_refuses_a_gzip_bomb_under_the_default_bound(images: Any, untouched: Callable[[], None]) -> None:
    bomb = zero_bomb(2 << 30)
    assert len(bomb) < 4 << 20
    with pytest.raises(InvalidArgument, match="decompression bomb"):
        images.import_rootfs(io.BytesIO(bomb), "bomb:1")
    untouched()


def test_import_bound_is_a_setting(images: Any, untouched: Callable[[], None]) -> None:
    tarball = gzip.compress(tar_bytes([member("zeros", b"\0" * BIG)]), compresslevel=1)
    with pytest.raises(InvalidArgument, match="exceeds 1048576 bytes"):
        images.import_rootfs(io.BytesIO(tarball), "bounded:1", max_size=1 << 20)
    untouched()
    record = images.import_rootfs(io.BytesIO(tarball), "bounded:1", max_size=BIG * 2)
    assert record["name"] == "docker.io/library/bounded:1"


def test_import_max_size_flag_reaches_the_manager(shell: Any, tmp_path: Path) -> None:
    path = tmp_path / "zeros.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes([member("zeros", b"\0" * BIG)]), compresslevel=1))
    assert shell.kind(f"import '{path}' flagged:1 --max-size 1MiB") == "invalid-argument"
    assert "flagged" in shell.run(f"import '{path}' flagged:1 --max-size 64MiB")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_import_refuses_sparse_members(images: Any, untouched: Callable[[], None], compress: bool) -> None:
    data = with_raw_member(small_layer(), sparse_member("huge", 1_500_000_000))
    with pytest.raises(InvalidArgument, match="sparse"):
        images.import_rootfs(io.BytesIO(gzip.compress(data) if compress else data), "sparse:1")
    untouched()


def test_import_refuses_too_many_members(images: Any, untouched: Callable[[], None]) -> None:
    with pytest.raises(InvalidArgument, match="more than 50000 members"):
        images.import_rootfs(io.BytesIO(hundred_thousand_members()), "many:1", max_members=50_000)
    untouched()


def test_import_refuses_a_truncated_tar(images: Any, untouched: Callable[[], None]) -> None:
    data = tar_bytes([member("big", b"x" * 100_000)])
    with pytest.raises(InvalidArgument, match="truncated"):
        images.import_rootfs(io.BytesIO(data[:50_000]), "cut:1")
    untouched()


def _snapshots(root: Path) -> Path:
    return root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"


#: case → (members for an outside directory ``out`` and a unique ``tag``, what must then exist in the
#: snapshot: the file named ``tag`` and the kind of file it must be)
HOSTILE_MEMBERS: dict[str, Callable[[Path, str], list[tuple[tarfile.TarInfo, bytes]]]] = {
    "dotdot": lambda out, tag: [member(f"../../../../../../../../{out.relative_to('/')}/{tag}", b"x")],
    "absolute": lambda out, tag: [member(f"{out}/{tag}", b"x")],
    "symlink out then write through it": lambda out, tag: [
        member("out", type=tarfile.SYMTYPE, linkname=str(out)),
        member(f"out/{tag}", b"x"),
    ],
    "relative symlink out then write through it": lambda out, tag: [
        member("rel", type=tarfile.SYMTYPE, linkname="../../../../../../../../../" + str(out.relative_to("/"))),
        member(f"rel/{tag}", b"x"),
    ],
    "hard link to /etc/passwd": lambda out, tag: [member(tag, type=tarfile.LNKTYPE, linkname="/etc/passwd")],
    "hard link via dotdot": lambda out, tag: [member(tag, type=tarfile.LNKTYPE, linkname="../../../../../../etc/passwd")],
    "device node": lambda out, tag: [member(tag, type=tarfile.BLKTYPE, devmajor=8, devminor=0)],
    "setuid file": lambda out, tag: [member(tag, b"#!/bin/sh\n", mode=0o4755)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MEMBERS))
def test_import_keeps_hostile_members_inside_the_snapshot(
    images: Any, ns_client: Any, containerd_address: str, tmp_path: Path, case: str
) -> None:
    """containerd's applier resolves every name and link target inside the snapshot: it either refuses
    the member (a hard link to a file the snapshot lacks) or re-roots it there; nothing lands outside,
    /etc/passwd is untouched, and a device node or setuid file exists only inside the snapshot."""
    tag = f"hostile-{os.urandom(6).hex()}"
    out = tmp_path / "outside"
    out.mkdir()
    passwd = Path("/etc/passwd")
    passwd_before = (passwd.read_bytes(), passwd.stat().st_nlink)
    snapshots = _snapshots(ctrd_root(containerd_address))
    tarball = tar_bytes([member("ok.txt", b"fine"), *HOSTILE_MEMBERS[case](out, tag)])
    try:
        images.import_rootfs(io.BytesIO(tarball), "hostile-import:1")
        applied = True
    except PouchError as exc:
        assert exc.kind in ("invalid-argument", "runtime"), f"{case}: {exc.kind}: {exc}"
        applied = False
    assert list(out.iterdir()) == [], f"{case}: written outside: {list(out.iterdir())}"
    assert (passwd.read_bytes(), passwd.stat().st_nlink) == passwd_before
    found = list(snapshots.rglob(tag))
    if case.startswith("hard link"):
        assert not applied and found == []
        assert ns_client.images.list() == [] and ns_client.leases.list() == []
        return
    assert applied and len(found) == 1, f"{case}: {found}"
    info = os.lstat(found[0])
    if case == "device node":
        assert stat.S_ISBLK(info.st_mode)
    elif case == "setuid file":
        assert info.st_mode & stat.S_ISUID
    else:
        assert stat.S_ISREG(info.st_mode)


# ---------------------------------------------------------------------------------------------- the writer


@pytest.mark.parametrize(("sent", "announced"), [(BIG, 1 << 20), (1 << 20, BIG)], ids=["too-many-bytes", "too-few-bytes"])
def test_the_content_writer_stops_at_a_size_mismatch_and_aborts(
    ns_client: Any, containerd_address: str, sent: int, announced: int
) -> None:
    root = ctrd_root(containerd_address)
    before, usage = ingests(root), disk_usage(root)
    data = os.urandom(1 << 20) * (sent >> 20)
    with pytest.raises(InvalidArgument, match="announced"):
        ns_client.content.write(io.BytesIO(data), total=announced, ref="size-mismatch")
    assert ingests(root) <= before
    assert ns_client.content.list() == []
    assert disk_usage(root) - usage < DISK_SLACK


def test_an_index_that_repeats_one_entry_is_planned_once(images: Any, ns_client: Any) -> None:
    img = image()
    index = json.loads(img.index)
    index["manifests"] = index["manifests"] * 15_000
    img.index = json.dumps(index).encode()
    records = images.load(io.BytesIO(oci_archive(img)))
    assert [r["name"] for r in records] == [NAME]
    assert ns_client.leases.list() == []


def test_a_link_loop_inside_the_archive_is_refused(images: Any, untouched: Callable[[], None]) -> None:
    img = image()
    name = "blobs/sha256/" + digest(img.layer).split(":")[1]
    loop = [member(name, type=tarfile.SYMTYPE, linkname="loop"), member("blobs/sha256/loop", type=tarfile.SYMTYPE, linkname=name.rsplit("/", 1)[1])]
    members = [member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), blob(img.config), blob(img.manifest), *loop, member("index.json", img.index)]
    err = load_kind(images, tar_bytes(members))
    assert "links" in err.message
    untouched()


def test_indexes_nested_too_deep_are_refused(images: Any, untouched: Callable[[], None]) -> None:
    img = image()
    blobs = [blob(img.config), blob(img.manifest), blob(img.layer)]
    target = {"mediaType": OCI_MANIFEST, "digest": digest(img.manifest), "size": len(img.manifest)}
    for _ in range(8):
        nested = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [target]}).encode()
        blobs.append(blob(nested))
        target = {"mediaType": OCI_INDEX, "digest": digest(nested), "size": len(nested)}
    index = json.dumps({"schemaVersion": 2, "manifests": [{**target, "annotations": {"io.containerd.image.name": NAME}}]}).encode()
    members = [member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), *blobs, member("index.json", index)]
    err = load_kind(images, tar_bytes(members))
    assert "nested" in err.message
    untouched()


def test_import_refuses_megabytes_after_the_end_of_the_tar(images: Any, untouched: Callable[[], None]) -> None:
    # nothing reads past the end-of-archive blocks: such bytes could only fill the content store
    data = small_layer() + b"\0" * BIG
    with pytest.raises(InvalidArgument, match="after the end of the tar"):
        images.import_rootfs(io.BytesIO(data), "padded:1")
    untouched()


def test_import_accepts_ordinary_record_padding(images: Any) -> None:
    data = small_layer() + b"\0" * (64 << 10)
    assert images.import_rootfs(io.BytesIO(data), "padded:1")["name"] == "docker.io/library/padded:1"
