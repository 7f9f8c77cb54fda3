"""Import and unpack through ctrd: OCI layouts, chain IDs, snapshots, GC labels, image records."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

import ctrd
from ctrd.errors import InvalidArgument, NotFound
from ctrd.imports import import_oci_layout
from ctrd.snapshots import Kind
from ctrd.chain import chain_id, chain_ids
from ctrd.unpack import unpack
from tests.support.images import HELLO_TEXT, TWO_LAYER_NAME, build_layout, busybox_layer, layout_tar


def test_chain_id_follows_the_image_spec() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    # identity.ChainID: sha256 of "<parent chain> <diff id>" in ASCII.
    import hashlib

    expected = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, expected]
    assert chain_id([a]) == a
    assert chain_id([]) == ""


@pytest.mark.containerd
def test_import_and_unpack_a_two_layer_image(ns_client: ctrd.Client, two_layer_layout: Path) -> None:
    (image,) = import_oci_layout(ns_client, two_layer_layout)
    assert image.name == TWO_LAYER_NAME
    spec = ns_client.images.spec(image.name)
    assert len(spec.layers) == 2
    chain = chain_ids(spec.diff_ids)
    base, top = (ns_client.snapshots.stat(name) for name in chain)
    assert (base.kind, top.kind) == (Kind.COMMITTED, Kind.COMMITTED)
    assert top.parent == base.name and base.parent == ""
    # GC labels: config → top snapshot, layers → their diff IDs, manifest → its children.
    config_labels = ns_client.content.info(spec.config_descriptor.digest).labels
    assert config_labels["containerd.io/gc.ref.snapshot.overlayfs"] == spec.chain_id
    for layer, diff_id in zip(spec.layers, spec.diff_ids, strict=True):
        assert ns_client.content.info(layer.digest).labels["containerd.io/uncompressed"] == diff_id
    manifest_labels = ns_client.content.info(spec.manifest_descriptor.digest).labels
    assert manifest_labels["containerd.io/gc.ref.content.config"] == spec.config_descriptor.digest
    assert manifest_labels["containerd.io/gc.ref.content.l.1"] == spec.layers[1].digest
    # Everything is referenced: a forced GC keeps it all.
    with ns_client.lease(sync_delete=True):
        pass
    assert ns_client.snapshots.stat(spec.chain_id).kind == Kind.COMMITTED
    assert ns_client.content.read(spec.layers[0].digest)


@pytest.mark.containerd
def test_unpacked_rootfs_holds_both_layers(ns_client: ctrd.Client, two_layer_layout: Path) -> None:
    (image,) = import_oci_layout(ns_client, two_layer_layout)
    spec = ns_client.images.spec(image)
    # Under a lease: a snapshot nothing refers to is fair game for the garbage collector.
    with ns_client.lease() as leased, tempfile.TemporaryDirectory() as target:
        mounts = leased.snapshots.view("inspect", spec.chain_id)
        (mount,) = mounts
        subprocess.run(["mount", "-t", mount.type, "-o", ",".join(mount.options), mount.source, target], check=True)
        try:
            assert (Path(target) / "data" / "hello.txt").read_bytes() == HELLO_TEXT
            assert (Path(target) / "bin" / "sh").is_symlink()
        finally:
            subprocess.run(["umount", target], check=True)
            leased.snapshots.remove("inspect")


@pytest.mark.containerd
def test_unpack_is_idempotent_and_reimport_from_tar(
    ns_client: ctrd.Client, two_layer_layout: Path, tmp_path: Path
) -> None:
    (image,) = import_oci_layout(ns_client, layout_tar(two_layer_layout, tmp_path / "image.tar"))
    before = {s.name for s in ns_client.snapshots.list()}
    assert unpack(ns_client, image.name) == ns_client.images.spec(image).chain_id
    assert {s.name for s in ns_client.snapshots.list()} == before
    assert ns_client.leases.list() == []


@pytest.mark.containerd
def test_layer_that_does_not_match_its_diff_id_is_refused(ns_client: ctrd.Client, tmp_path: Path) -> None:
    layout = build_layout(tmp_path / "bad", [busybox_layer()], name="docker.io/library/bad:latest")
    # Claim a different diff ID in the config (and fix up the digests that name it).
    import json

    from ctrd.descriptors import sha256_digest

    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest_path = layout / "blobs" / "sha256" / manifest_digest.split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_text())
    config["rootfs"]["diff_ids"] = ["sha256:" + "1" * 64]
    config_bytes = json.dumps(config).encode()
    (layout / "blobs" / "sha256" / sha256_digest(config_bytes).split(":")[1]).write_bytes(config_bytes)
    manifest["config"].update(digest=sha256_digest(config_bytes), size=len(config_bytes))
    manifest_bytes = json.dumps(manifest).encode()
    (layout / "blobs" / "sha256" / sha256_digest(manifest_bytes).split(":")[1]).write_bytes(manifest_bytes)
    index["manifests"][0].update(digest=sha256_digest(manifest_bytes), size=len(manifest_bytes))
    (layout / "index.json").write_text(json.dumps(index))

    with pytest.raises(InvalidArgument, match="image config says sha256:1111"):
        import_oci_layout(ns_client, layout)
    assert ns_client.snapshots.list() == []  # the extract snapshot was removed
    assert ns_client.leases.list() == []


@pytest.mark.containerd
def test_image_records(ns_client: ctrd.Client, busybox_image: str) -> None:
    images = ns_client.images
    record = images.get(busybox_image)
    assert busybox_image == "docker.io/library/busybox:latest"
    alias = images.create("busybox:latest", record.target, {"a": "1"})
    assert alias.labels == {"a": "1"}
    updated = images.update("busybox:latest", labels={"a": None, "b": "2"})
    assert updated.labels == {"b": "2"} and updated.target == record.target
    assert sorted(i.name for i in images.list()) == ["busybox:latest", busybox_image]
    images.delete("busybox:latest")
    with pytest.raises(NotFound):
        images.get("busybox:latest")
    spec = images.spec(busybox_image)
    assert spec.config["config"]["Cmd"] == ["sh"]
    assert spec.config["os"] == "linux"


@pytest.mark.containerd
def test_layout_without_names_needs_one(ns_client: ctrd.Client, tmp_path: Path) -> None:
    layout = build_layout(tmp_path / "l", [busybox_layer()], name="x:latest")
    import json

    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["annotations"] = {}
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidArgument, match="no image name"):
        import_oci_layout(ns_client, layout, unpack=False)
    (image,) = import_oci_layout(ns_client, layout, name="docker.io/library/named:1", unpack=False)
    assert image.name == "docker.io/library/named:1"


@pytest.mark.containerd
def test_spec_picks_the_platform_from_an_index(ns_client: ctrd.Client, busybox_image: str) -> None:
    import json

    from ctrd.descriptors import MediaType
    from ctrd.images import Platform

    manifest = ns_client.images.get(busybox_image).target
    arm = {"mediaType": MediaType.OCI_MANIFEST, "digest": "sha256:" + "2" * 64, "size": 1,
           "platform": {"os": "linux", "architecture": "arm64"}}  # fmt: skip
    amd = {**manifest.to_json(), "platform": {"os": "linux", "architecture": "amd64"}}
    index = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [arm, amd]}).encode()
    target = ns_client.content.write_blob(index, MediaType.OCI_INDEX, labels={"containerd.io/gc.root": "t"})
    ns_client.images.create("docker.io/library/multi:latest", target)
    spec = ns_client.images.spec("docker.io/library/multi:latest", Platform("linux", "amd64"))
    assert spec.manifest_descriptor.digest == manifest.digest
    with pytest.raises(NotFound, match="no manifest for linux/s390x"):
        ns_client.images.spec("docker.io/library/multi:latest", Platform("linux", "s390x"))
