"""push and pull through Debian's docker-registry on loopback, auth challenges, and bad registries."""

from __future__ import annotations

import os
import stat

import pytest

from ctrd.errors import NotFound, PouchRuntimeError, Unavailable
from tests.images.registry_front import RegistryFront

pytestmark = pytest.mark.containerd


def assert_nothing_left(ns_client) -> None:
    assert ns_client.images.list() == []
    assert ns_client.leases.list() == []
    assert ns_client.content.list() == []


def push_busybox(images, address: str, repo: str = "test/busybox:1", **kw) -> str:
    name = f"{address}/{repo}"
    images.tag("busybox", name)
    images.push(name, **kw)
    return name


def test_push_rmi_pull_round_trip(images, ns_client, busybox_image, registry) -> None:
    before = images.inspect("busybox")
    name = push_busybox(images, registry, chunk_size=64 << 10)  # chunked upload of the layer
    images.remove([name, "busybox"])
    assert_nothing_left(ns_client)
    pulled = images.pull(name)
    assert (pulled["digest"], pulled["id"]) == (before["digest"], before["id"])
    info = images.ensure(name, pull="never")
    assert info.chain_id == before["chain_id"]
    assert ns_client.leases.list() == []


def test_second_push_skips_existing_blobs(images, busybox_image, registry) -> None:
    events = []
    push_busybox(images, registry, "test/again:1")
    images.tag("busybox", f"{registry}/test/again:2")
    images.push(f"{registry}/test/again:2", progress=events.append)
    assert {e.status for e in events if e.kind in ("layer", "config")} == {"exists"}


def test_ensure_pulls_when_missing(images, busybox_image, registry) -> None:
    name = push_busybox(images, registry, "test/ensure:1")
    images.remove([name, "busybox"])
    with pytest.raises(NotFound):
        images.ensure(name, pull="never")
    assert images.ensure(name).name == name


def test_pull_unknown_tag(images, ns_client, registry) -> None:
    with pytest.raises(NotFound, match="manifest"):
        images.pull(f"{registry}/test/none:1")
    assert_nothing_left(ns_client)


def test_registry_that_is_down(images, ns_client) -> None:
    with pytest.raises(Unavailable, match="unreachable"):
        images.pull("127.0.0.1:9/x/y:1")
    assert_nothing_left(ns_client)


def test_token_auth_login_push_pull(images, ns_client, busybox_image, registry, docker_config) -> None:
    with RegistryFront(registry, auth="bearer", credentials=("alice", "s3cret")) as front:
        name = f"{front.address}/private/bb:1"
        images.tag("busybox", name)
        with pytest.raises(PouchRuntimeError, match="denied"):
            images.push(name)
        with pytest.raises(PouchRuntimeError, match="denied|refused"):
            images.login(front.address, "alice", "wrong")
        assert images.login(front.address, "alice", "s3cret")["status"] == "Login Succeeded"
        auth_file = docker_config / "config.json"
        assert stat.S_IMODE(os.stat(auth_file).st_mode) == 0o600
        images.push(name)
        assert {"service": "front", "scope": "repository:private/bb:pull,push"} in front.token_requests
        images.remove([name, "busybox"])
        assert images.pull(name)["name"] == name
        assert images.logout(front.address) == {"server": front.address, "removed": True}
        assert "s3cret" not in auth_file.read_text()


def test_basic_auth(images, busybox_image, registry) -> None:
    with RegistryFront(registry, auth="basic", credentials=("bob", "pw")) as front:
        images.login(front.address, "bob", "pw")
        push_busybox(images, front.address, "basic/bb:1")


def test_wrong_digest_is_rejected_and_leaves_nothing(images, ns_client, busybox_image, registry) -> None:
    name = push_busybox(images, registry, "test/corrupt:1")
    images.remove([name, "busybox"])
    with RegistryFront(registry) as front:
        front.corrupt_blobs = True
        # config and layer move at once: either refusal may come first
        with pytest.raises(PouchRuntimeError, match="wrong content|layer that is refused"):
            images.pull(f"{front.address}/test/corrupt:1")
    assert_nothing_left(ns_client)


def test_download_resumes_after_a_dropped_connection(images, busybox_image, registry) -> None:
    name = push_busybox(images, registry, "test/resume:1")
    images.remove([name, "busybox"])
    with RegistryFront(registry) as front:
        front.drop_first_download = True
        images.pull(f"{front.address}/test/resume:1")
    assert any(r.startswith("bytes=") and r != "bytes=0-" for r in front.ranges)
