"""A registry that lies, on loopback, against the real containerd: a pull refuses every lie as it streams
and leaves nothing behind (no content, no image, no lease, no ingest, no disk growth). References are
checked against docker's grammar where they are typed, before any request.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ctrd.errors import PouchError
from tests.security.test_archives import (
    NAME,
    OCI_MANIFEST,
    ctrd_root,
    digest,
    disk_usage,
    image,
    ingests,
    member,
    sparse_member,
    tar_bytes,
    with_raw_member,
    zero_bomb,
)

pytestmark = pytest.mark.containerd

DISK_SLACK = 8 << 20
BIG = 32 << 20


@dataclass
class Lies:
    """What the registry serves instead of the truth; each field left alone is honest."""

    layer_body: bytes | None = None
    layer_length: int | None = None  # a Content-Length header that is not the body's
    no_length: bool = False  # close the connection instead of announcing a length
    manifest_body: bytes | None = None
    manifest_head_length: int | None = None
    manifest_head_digest: str | None = None
    requests: list[str] = field(default_factory=list)


class LyingRegistry:
    """Serves one image, ``hostile:1``, whose manifest names a 32 MiB layer, lying as ``lies`` says."""

    def __init__(self, layer: bytes | None = None) -> None:
        self.image = image(tar_bytes([member("big", b"\1" * BIG)]) if layer is None else layer)
        self.lies = Lies()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LyingRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: bytes, headers: dict[str, str], length: int | None = None, close: bool = False) -> None:
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if self.command == "GET":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client refused the rest: what the tests want

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                lies, img = registry.lies, registry.image
                lies.requests.append(f"{self.command} {self.path}")
                if self.path == "/v2/":
                    self._send(b"{}", {"Content-Type": "application/json"})
                elif self.path.startswith("/v2/hostile/manifests/"):
                    body = img.manifest if lies.manifest_body is None else lies.manifest_body
                    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": lies.manifest_head_digest or digest(img.manifest)}
                    length = None
                    if self.command == "HEAD":
                        length = len(img.manifest) if lies.manifest_head_length is None else lies.manifest_head_length
                    self._send(body, headers, length)
                elif self.path == f"/v2/hostile/blobs/{digest(img.config)}":
                    self._send(img.config, {"Content-Type": "application/octet-stream"})
                elif self.path == f"/v2/hostile/blobs/{digest(img.layer)}":
                    body = img.layer if lies.layer_body is None else lies.layer_body
                    self._send(body, {"Content-Type": "application/octet-stream"}, lies.layer_length, close=lies.no_length)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            do_HEAD = do_GET

        return Handler


@pytest.fixture
def registry() -> Iterator[LyingRegistry]:
    with LyingRegistry() as served:
        yield served


@pytest.fixture
def untouched(facade: Any, containerd_address: str) -> Iterator[Callable[[], None]]:
    client = facade.ctrd
    root = ctrd_root(containerd_address)
    before_ingests = ingests(root)
    before = disk_usage(root)

    def check() -> None:
        assert client.content.list() == []
        assert client.images.list() == []
        assert client.leases.list() == []
        assert ingests(root) <= before_ingests
        grown = disk_usage(root) - before
        assert grown < DISK_SLACK, f"the containerd root grew by {grown} bytes"

    yield check


def pull_error(facade: Any, registry: LyingRegistry) -> PouchError:
    with pytest.raises(PouchError) as caught:
        facade.images.pull(f"{registry.address}/hostile:1")
    return caught.value


def test_an_honest_registry_is_pulled(facade: Any, registry: LyingRegistry) -> None:
    record = facade.images.pull(f"{registry.address}/hostile:1")
    assert record["name"] == f"{registry.address}/hostile:1"


def test_a_layer_with_the_wrong_bytes_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    lying = bytearray(registry.image.layer)
    lying[len(lying) // 2] ^= 0xFF
    registry.lies.layer_body = bytes(lying)
    err = pull_error(facade, registry)
    assert "served wrong content" in err.message
    untouched()


def test_a_layer_announced_larger_than_its_descriptor_is_refused_before_a_byte(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.layer_body = registry.image.layer + b"\0" * BIG
    err = pull_error(facade, registry)
    assert f"where the manifest says {len(registry.image.layer)}" in err.message
    untouched()


def test_a_layer_streaming_past_its_descriptor_without_a_length_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.layer_body = registry.image.layer + b"\0" * BIG
    registry.lies.no_length = True
    err = pull_error(facade, registry)
    assert "more bytes than the manifest says" in err.message
    untouched()


def test_a_layer_cut_short_is_refused_after_the_resumes(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.layer_body = registry.image.layer[: len(registry.image.layer) // 2]
    registry.lies.no_length = True
    err = pull_error(facade, registry)
    assert err.kind == "unavailable"
    untouched()


def test_a_manifest_announced_over_the_bound_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.manifest_head_length = 5 << 20
    err = pull_error(facade, registry)
    assert err.kind == "invalid-argument" and "more than the" in err.message
    untouched()


def test_a_manifest_body_over_the_bound_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.manifest_body = b'{"pad":"' + b"x" * (5 << 20) + b'"}'
    registry.lies.manifest_head_digest = digest(registry.lies.manifest_body)
    registry.lies.manifest_head_length = 0  # makes the client GET the body to learn its size
    err = pull_error(facade, registry)
    assert err.kind == "invalid-argument" and "larger than" in err.message
    untouched()


def test_a_manifest_with_the_wrong_digest_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.manifest_body = registry.image.manifest.replace(b"schemaVersion", b"schemaversion")
    err = pull_error(facade, registry)
    assert "digest mismatch" in err.message
    untouched()


def test_a_manifest_of_another_size_than_announced_is_refused(facade: Any, registry: LyingRegistry, untouched: Callable[[], None]) -> None:
    registry.lies.manifest_head_length = len(registry.image.manifest) + 10
    err = pull_error(facade, registry)
    assert "bytes for manifest" in err.message
    untouched()


def test_a_sparse_layer_is_refused_before_containerd_applies_it(facade: Any, untouched: Callable[[], None]) -> None:
    with LyingRegistry(with_raw_member(tar_bytes([member("a", b"a")]), sparse_member("huge", 1_500_000_000))) as served:
        err = pull_error(facade, served)
    assert err.kind == "runtime" and "sparse" in err.message
    untouched()


def test_a_gzip_bomb_layer_is_refused_under_the_default_bound(facade: Any, untouched: Callable[[], None]) -> None:
    with LyingRegistry(zero_bomb(2 << 30)) as served:
        err = pull_error(facade, served)
    assert err.kind == "runtime" and "decompression bomb" in err.message
    untouched()


def test_a_lying_registry_through_the_shell_is_an_error_kind(shell: Any, registry: LyingRegistry) -> None:
    registry.lies.layer_body = registry.image.layer + b"\0" * BIG
    assert shell.kind(f"pull {registry.address}/hostile:1") == "runtime"
    assert all(i.name != f"{registry.address}/hostile:1" for i in shell.facade.ctrd.images.list())


# ---------------------------------------------------------------------------------------------- references


BAD_REFERENCES = ["busybox:tést", "bùsybox", "busybox:la test", "busybox:\u200blatest", "busybox:1\x00", "BusyBox", "busybox:" + "t" * 129]


@pytest.mark.parametrize("ref", BAD_REFERENCES)
def test_pull_refuses_an_invalid_reference_before_any_request(facade: Any, registry: LyingRegistry, ref: str) -> None:
    with pytest.raises(PouchError) as caught:
        facade.images.pull(f"{registry.address}/{ref}")
    assert caught.value.kind == "invalid-argument"
    assert registry.lies.requests == []


@pytest.mark.parametrize("command", ["tag busybox {ref}", "push {ref}", "run --rm {ref} true", "pull {ref}", "rmi {ref}", "image inspect {ref}"])
def test_non_ascii_references_are_refused_where_they_are_typed(shell: Any, command: str) -> None:
    assert shell.kind(command.format(ref="'busybox:tést'")) == "invalid-argument"
    assert all(i.name.isascii() for i in shell.facade.ctrd.images.list())


def test_the_refusal_names_the_offending_character(facade: Any) -> None:
    with pytest.raises(PouchError, match=r"character 'é' \(U\+00E9\) at position 9"):
        facade.images.tag("busybox", "busybox:tést")


def test_load_of_an_archive_named_with_a_non_ascii_tag_is_refused(facade: Any) -> None:
    img = image()
    index = json.loads(img.index)
    index["manifests"][0]["annotations"] = {"io.containerd.image.name": NAME.replace(":1", ":tést")}
    data = tar_bytes([
        member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        member(f"blobs/sha256/{digest(img.config)[7:]}", img.config),
        member(f"blobs/sha256/{digest(img.manifest)[7:]}", img.manifest),
        member(f"blobs/sha256/{digest(img.layer)[7:]}", img.layer),
        member("index.json", json.dumps(index).encode()),
    ])  # fmt: skip
    with pytest.raises(PouchError, match="'é'") as caught:
        facade.images.load(io.BytesIO(data))
    assert caught.value.kind == "invalid-argument"
    assert facade.ctrd.images.list() == [] and facade.ctrd.leases.list() == []
