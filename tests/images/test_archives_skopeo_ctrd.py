"""save and load against skopeo (Debian's), both ways: skopeo reads pouchsh's archive as a docker-archive and
as an oci-archive and reports pouchsh's digests; pouchsh loads what skopeo writes in either layout."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.containerd


def skopeo(*args: str) -> bytes:
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is missing (Debian package skopeo; scripts/setup-host.sh installs it)")
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=120).stdout


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_skopeo_reads_a_saved_archive_in_both_layouts(images, ns_client, busybox_image: str, tmp_path: Path) -> None:
    record = images.inspect("busybox")
    saved = tmp_path / "busybox.tar"
    images.save(["busybox"], path=str(saved))
    spec = ns_client.images.spec(ns_client.images.get(busybox_image))
    manifest_digest = spec.manifest_descriptor.digest
    layers = [layer.digest for layer in spec.layers]

    oci = json.loads(skopeo("inspect", f"oci-archive:{saved}"))
    assert oci["Digest"] == manifest_digest and oci["Layers"] == layers
    docker = json.loads(skopeo("inspect", f"docker-archive:{saved}"))
    assert docker["Layers"] == list(spec.config["rootfs"]["diff_ids"])  # a docker-archive names layers so
    assert sha256(skopeo("inspect", "--config", "--raw", f"docker-archive:{saved}")) == record["id"]
    assert sha256(skopeo("inspect", "--config", "--raw", f"oci-archive:{saved}")) == record["id"]


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_an_archive_skopeo_wrote_loads(images, busybox_layout: Path, tmp_path: Path, transport: str) -> None:
    archive = tmp_path / f"{transport}.tar"
    skopeo("copy", "-q", f"oci:{busybox_layout}", f"{transport}:{archive}:sk/busybox:1")
    config = json.loads(skopeo("inspect", f"oci:{busybox_layout}"))
    with archive.open("rb") as stream:
        (loaded,) = images.load(stream, name="docker.io/sk/busybox:1")
    assert loaded["name"] == "docker.io/sk/busybox:1"
    assert loaded["platform"] == f"{config['Os']}/{config['Architecture']}"
    expected_id = sha256(skopeo("inspect", "--config", "--raw", f"oci:{busybox_layout}"))
    assert loaded["id"] == expected_id
