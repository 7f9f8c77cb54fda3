"""``pull --platform`` chooses from a multi-platform index pushed to Debian's docker-registry; a platform
the index does not offer is a NotFound that names what it offers, and nothing is left behind."""

from __future__ import annotations

import hashlib
import http.client
import json

import pytest

from ctrd.errors import NotFound
from tests.support.images import _gzip, busybox_layer

pytestmark = pytest.mark.containerd

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(registry: str, method: str, path: str, body: bytes, content_type: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(registry, timeout=30)
    conn.request(method, path, body=body, headers={"Content-Type": content_type})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status in (201, 202), (method, path, resp.status)
    return resp


def push_blob(registry: str, repo: str, data: bytes) -> dict:
    conn = http.client.HTTPConnection(registry, timeout=30)
    conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    resp = conn.getresponse()
    resp.read()
    location = resp.getheader("Location")
    conn.close()
    sep = "&" if "?" in location else "?"
    _put(registry, "PUT", f"{location}{sep}digest={_digest(data)}", data, "application/octet-stream")
    return {"digest": _digest(data), "size": len(data)}


def push_index(registry: str, repo: str, tag: str) -> None:
    layer = _gzip(busybox_layer())
    layer_desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **push_blob(registry, repo, layer)}
    entries = []
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": [_digest(busybox_layer())]}}).encode()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          **push_blob(registry, repo, config)},
                               "layers": [layer_desc]}).encode()
        _put(registry, "PUT", f"/v2/{repo}/manifests/{_digest(manifest)}", manifest, OCI_MANIFEST)
        entries.append({"mediaType": OCI_MANIFEST, "digest": _digest(manifest), "size": len(manifest),
                        "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    _put(registry, "PUT", f"/v2/{repo}/manifests/{tag}", index, OCI_INDEX)


def test_platform_is_chosen_from_the_index(images, ns_client, registry: str) -> None:
    push_index(registry, "multi/bb", "1")
    name = f"{registry}/multi/bb:1"
    assert images.pull(name, platform="linux/arm64")["platform"] == "linux/arm64"
    images.remove([name])
    with pytest.raises(NotFound, match=r"no manifest for platform linux/s390x \(offered: linux/amd64, linux/arm64\)"):
        images.pull(name, platform="linux/s390x")
    assert ns_client.images.list() == [] and ns_client.leases.list() == []
    assert images.pull(name)["platform"] == "linux/amd64"
