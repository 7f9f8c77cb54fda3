"""load, save, import, tag, rmi and prune against the real containerd."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from ctrd.errors import Conflict, InvalidArgument, NotFound
from tests.support.images import BUSYBOX_NAME, TWO_LAYER_NAME, busybox_layer, layout_tar

pytestmark = pytest.mark.containerd


def assert_nothing_left(ns_client) -> None:
    assert ns_client.images.list() == []
    assert ns_client.leases.list() == []
    # a sync lease delete runs the GC, so unreferenced content is gone by now
    assert ns_client.content.list() == []


def load_file(images, path: Path, **kw) -> list[dict]:
    with open(path, "rb") as f:
        return images.load(f, **kw)


def test_load_oci_archive_lists_and_ensures(images, ns_client, busybox_layout, tmp_path) -> None:
    (record,) = load_file(images, layout_tar(busybox_layout, tmp_path / "bb.tar"))
    assert record["name"] == BUSYBOX_NAME
    assert (record["repository"], record["tag"]) == ("busybox", "latest")
    assert record["platform"] == "linux/amd64"
    listed = images.list()
    assert [r["name"] for r in listed] == [BUSYBOX_NAME]
    info = images.ensure("busybox", pull="never")
    assert info.name == BUSYBOX_NAME and info.config.cmd == ("sh",)
    assert ns_client.snapshots.stat(info.chain_id).name == info.chain_id
    assert ns_client.leases.list() == []


def test_save_then_load_gives_the_same_image(images, ns_client, busybox_layout, tmp_path) -> None:
    (before,) = load_file(images, layout_tar(busybox_layout, tmp_path / "bb.tar"))
    out = tmp_path / "saved.tar"
    images.save(["busybox"], path=str(out))
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    images.remove(["busybox"])
    assert images.list() == []
    (after,) = load_file(images, out)
    assert (after["name"], after["digest"], after["id"]) == (before["name"], before["digest"], before["id"])


def test_load_docker_archive(images, busybox_layout, tmp_path) -> None:
    index = json.loads((busybox_layout / "index.json").read_text())
    blobs = busybox_layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config_hex = manifest["config"]["digest"].split(":")[1]
    archive = tmp_path / "docker.tar"
    with tarfile.open(archive, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(f"{config_hex}.json", (blobs / config_hex).read_bytes())
        add("layer0/layer.tar", busybox_layer())  # docker writes layers uncompressed
        add("manifest.json", json.dumps([{"Config": f"{config_hex}.json", "RepoTags": ["dock:1"], "Layers": ["layer0/layer.tar"]}]).encode())
    (record,) = load_file(images, archive)
    assert record["name"] == "docker.io/library/dock:1"
    assert record["id"] == manifest["config"]["digest"]
    assert images.ensure("dock:1", pull="never").chain_id == json.loads((blobs / config_hex).read_bytes())["rootfs"]["diff_ids"][0]


def test_load_multi_image_oci_archive(images, busybox_layout, two_layer_layout, tmp_path) -> None:
    merged = tmp_path / "merged"
    (merged / "blobs" / "sha256").mkdir(parents=True)
    entries = []
    for layout in (busybox_layout, two_layer_layout):
        for blob in (layout / "blobs" / "sha256").iterdir():
            (merged / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
        entries += json.loads((layout / "index.json").read_text())["manifests"]
    (merged / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    (merged / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    records = load_file(images, layout_tar(merged, tmp_path / "multi.tar"))
    assert sorted(r["name"] for r in records) == sorted([BUSYBOX_NAME, TWO_LAYER_NAME])
    assert len(images.ensure(TWO_LAYER_NAME, pull="never").chain_id) == 71


def test_truncated_archive_leaves_nothing(images, ns_client, busybox_layout, tmp_path) -> None:
    data = layout_tar(busybox_layout, tmp_path / "bb.tar").read_bytes()
    with pytest.raises(InvalidArgument, match="truncated|corrupt"):
        images.load(io.BytesIO(data[: len(data) // 2]))
    assert_nothing_left(ns_client)


def test_corrupt_blob_is_refused_and_leaves_nothing(images, ns_client, busybox_layout, tmp_path) -> None:
    broken = tmp_path / "broken"
    for item in busybox_layout.rglob("*"):
        dest = broken / item.relative_to(busybox_layout)
        if item.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(item.read_bytes())
    biggest = max((broken / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[100] ^= 0xFF
    biggest.write_bytes(bytes(data))
    with pytest.raises(InvalidArgument, match="corrupt archive"):
        load_file(images, layout_tar(broken, tmp_path / "broken.tar"))
    assert_nothing_left(ns_client)


def test_not_an_archive(images, ns_client) -> None:
    with pytest.raises(InvalidArgument, match="archive"):
        images.load(io.BytesIO(b"this is not a tar file at all" * 40))
    assert_nothing_left(ns_client)


def test_import_rootfs_tarball(images, ns_client, tmp_path) -> None:
    import gzip

    tarball = gzip.compress(busybox_layer(), mtime=0)
    record = images.import_rootfs(io.BytesIO(tarball), "imported:v1", message="from a test")
    assert record["name"] == "docker.io/library/imported:v1"
    info = images.ensure("imported:v1", pull="never")
    import hashlib

    assert info.chain_id == "sha256:" + hashlib.sha256(busybox_layer()).hexdigest()
    assert images.history("imported:v1")[0]["comment"] == "from a test"
    with pytest.raises(InvalidArgument, match="not a tar"):
        images.import_rootfs(io.BytesIO(b"\x00garbage" * 200), "bad:1")


def test_tag_rmi_and_prune(images, ns_client, busybox_image) -> None:
    record = images.tag("busybox", "example.com/me/bb:2")
    assert record["name"] == "example.com/me/bb:2" and record["repository"] == "example.com/me/bb"
    image_id = record["id"]
    with pytest.raises(Conflict, match="referenced by 2 names"):
        images.remove([image_id[7:19]])
    removed = images.remove(["example.com/me/bb:2"])
    assert removed == [{"name": "example.com/me/bb:2", "id": image_id, "deleted": False}]
    assert [r["name"] for r in images.list()] == [BUSYBOX_NAME]
    assert images.prune() == {"removed": [], "reclaimed": 0}
    pruned = images.prune(all=True)
    assert pruned["removed"] == [BUSYBOX_NAME] and pruned["reclaimed"] > 0
    with pytest.raises(NotFound):
        images.inspect("busybox")


def test_rmi_of_an_image_in_use_is_refused_unless_forced(images, ns_client, busybox_image) -> None:
    ns_client.containers.create("user1", spec={"ociVersion": "1.0.2"}, image=busybox_image, snapshot_key="")
    with pytest.raises(Conflict, match="used by container user1"):
        images.remove(["busybox"])
    assert images.prune(all=True)["removed"] == []
    assert images.remove(["busybox"], force=True)[0]["deleted"] is True
    ns_client.containers.delete("user1")


def test_unknown_image(images) -> None:
    with pytest.raises(NotFound, match="nothere"):
        images.ensure("nothere", pull="never")
    with pytest.raises(InvalidArgument):
        images.inspect("Bad_Name!")


def test_images_filters(images, busybox_image) -> None:
    images.tag("busybox", "other:1")
    assert [r["name"] for r in images.list(filters=["reference=other*"])] == ["docker.io/library/other:1"]
    assert images.list(filters=["dangling=true"]) == []
    with pytest.raises(InvalidArgument, match="unknown filter"):
        images.list(filters=["colour=red"])


def test_saved_archive_is_accepted_by_ctr_import(images, ns_client, busybox_image, containerd_address, namespace, tmp_path) -> None:
    import shutil
    import subprocess

    ctr = shutil.which("ctr")
    if ctr is None:
        pytest.fail("ctr (Debian package containerd) is missing")
    before = images.inspect("busybox")
    images.save(["busybox"], path=str(tmp_path / "bb.tar"))
    images.remove(["busybox"])
    subprocess.run(
        [ctr, "--address", containerd_address, "-n", namespace, "images", "import", str(tmp_path / "bb.tar")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    after = images.inspect("busybox")
    assert (after["digest"], after["id"]) == (before["digest"], before["id"])
