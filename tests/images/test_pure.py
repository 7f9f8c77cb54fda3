"""Reference normalisation, archive reading into a memory sink, credentials and auth challenges (no containerd)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from ctrd.errors import InvalidArgument
from managers.archive import ExportImage, read_archive, write_archive
from managers.credentials import server_domain
from managers.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Descriptor, select_manifest
from managers.reference import familiar, normalize, parse
from managers.registry import is_loopback, parse_challenge

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("me/app", "docker.io/me/app:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("localhost/app:v1", "localhost/app:v1"),
        ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
        (f"busybox@sha256:{HEX}", f"docker.io/library/busybox@sha256:{HEX}"),
        (f"busybox:1@sha256:{HEX}", f"docker.io/library/busybox:1@sha256:{HEX}"),
    ],
)
def test_normalize(text: str, full: str) -> None:
    assert normalize(text) == full


@pytest.mark.parametrize("text", ["", "Busybox", "bad name", "a//b", "busybox:", "busybox@sha256:xyz", "-lead", "x:t@t"])
def test_invalid_references(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid reference"):
        parse(text)


def test_familiar() -> None:
    assert familiar("docker.io/library/busybox:latest") == "busybox:latest"
    assert familiar("docker.io/me/app:1") == "me/app:1"
    assert familiar("localhost:5000/app:1") == "localhost:5000/app:1"
    assert parse("docker.io/library/busybox:latest").familiar_repository == "busybox"


class MemorySink:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, ref, chunks, size, expected):
        data = b"".join(chunks)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected and digest != expected:
            raise InvalidArgument(f"corrupt archive: {ref}")
        self.blobs[digest] = data
        return digest


def _image_blobs() -> tuple[list[Descriptor], ExportImage, dict[str, bytes]]:
    # a real tar: load checks each layer as it passes (what it inflates to, its members)
    tar_out = io.BytesIO()
    with tarfile.open(fileobj=tar_out, mode="w") as tar:
        info = tarfile.TarInfo("file")
        info.size = 1100
        tar.addfile(info, io.BytesIO(b"layer bytes" * 100))
    layer = tar_out.getvalue()
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    blobs = {}

    def desc(media_type: str, data: bytes) -> Descriptor:
        d = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
        blobs[d.digest] = data
        return d

    layer_d, config_d = desc(OCI_LAYER, layer), desc(OCI_CONFIG, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_d.to_json(), "layers": [layer_d.to_json()]}).encode()
    manifest_d = desc(OCI_MANIFEST, manifest)
    image = ExportImage(("docker.io/library/pure:1",), manifest_d, config_d, (layer_d,))
    return [config_d, layer_d, manifest_d], image, blobs


def test_write_then_read_archive_round_trip() -> None:
    descs, image, blobs = _image_blobs()
    out = io.BytesIO()
    write_archive(out, [image], descs, lambda d: [blobs[d.digest]])
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == ["pure:1"]  # type: ignore[arg-type]
    sink = MemorySink()
    loaded = read_archive(io.BytesIO(out.getvalue()), sink)
    assert [(i.names, i.target.digest) for i in loaded.images] == [(image.names, image.target.digest)]
    assert set(sink.blobs) == set(blobs)


def test_writer_refuses_content_that_does_not_match() -> None:
    descs, image, _blobs = _image_blobs()
    with pytest.raises(InvalidArgument, match="content store returned"):
        write_archive(io.BytesIO(), [image], descs, lambda d: [b"x" * d.size])


def test_archive_missing_a_layer_is_refused() -> None:
    descs, image, blobs = _image_blobs()
    out = io.BytesIO()
    write_archive(out, [image], [d for d in descs if d.media_type != OCI_LAYER], lambda d: [blobs[d.digest]])
    with pytest.raises(InvalidArgument, match="missing blob"):
        read_archive(io.BytesIO(out.getvalue()), MemorySink())


def test_select_manifest_by_platform() -> None:
    index = {"manifests": [
        {"mediaType": OCI_MANIFEST, "digest": f"sha256:{'1' * 64}", "size": 1, "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": OCI_MANIFEST, "digest": f"sha256:{'2' * 64}", "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
    ]}  # fmt: skip
    from managers.oci import parse_platform

    assert select_manifest(index, parse_platform("linux/amd64")).digest.endswith("2" * 64)
    assert select_manifest(index, parse_platform("arm64")).digest.endswith("1" * 64)
    from ctrd.errors import NotFound

    with pytest.raises(NotFound, match="offered: linux/arm64, linux/amd64"):
        select_manifest(index, parse_platform("linux/s390x"))


def test_server_domains() -> None:
    assert server_domain("https://index.docker.io/v1/") == "docker.io"
    assert server_domain(None) == "docker.io"
    assert server_domain("http://localhost:5000/v2/") == "localhost:5000"


def test_challenges_and_loopback() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"')
    assert scheme == "bearer" and params == {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example:5000")
