"""The container manager's collaborators, each used alone: the image cache (one Images.Get for a name
already resolved, afresh once forgotten) and the reference resolver (docker's precedence, one clear
error for an ambiguous prefix), which ``--network container:REF`` shares with the container verbs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ctrd.errors import Conflict, NotFound
from managers.containerpaths import ContainerPaths
from managers.imagecache import ImageCache
from managers.images import ImageConfig
from managers.names import resolve
from managers.resolver import ContainerResolver
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd

IDS = ["ab" + "1" * 62, "ab" + "2" * 62, "cd" + "3" * 62]


@pytest.fixture
def ensures(mgr: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references the image manager was asked to resolve (pull/unpack) since the fixture began."""
    asked: list[str] = []
    images = mgr.images
    original = images.ensure

    def recording(ref: str, **kw: Any) -> Any:
        asked.append(ref)
        return original(ref, **kw)

    monkeypatch.setattr(images, "ensure", recording)
    return asked


def test_the_image_cache_resolves_a_name_once_until_forgotten(mgr: Any, ensures: list[str]) -> None:
    cache = ImageCache(mgr)
    first = cache.resolve("busybox", "missing")  # uncached: the image manager answers
    assert ensures == ["busybox"]
    assert isinstance(first.config, ImageConfig) and first.chain_id
    cache.forget(first)
    got = cache.get("busybox", "missing")
    again = cache.get("docker.io/library/busybox:latest", "missing")  # the same name, spelled in full
    assert again is got and ensures == ["busybox", "busybox"]
    cache.forget(got)
    assert cache.get("busybox", "missing") is not got and ensures == ["busybox", "busybox", "busybox"]


def test_precedence_exact_id_then_exact_name_then_unique_prefix() -> None:
    # one container is named with another's id: the id wins, whichever comes first
    assert resolve(IDS[1], [(IDS[0], IDS[1]), (IDS[1], "b")]) == IDS[1]
    # a name that is also a prefix of two ids names the container
    assert resolve("ab", [(IDS[0], ""), (IDS[1], ""), (IDS[2], "ab")]) == IDS[2]
    assert resolve("cd", [(IDS[0], ""), (IDS[2], "x")]) == IDS[2]
    with pytest.raises(Conflict, match="multiple containers match the id prefix 'ab'"):
        resolve("ab", [(IDS[0], ""), (IDS[1], "")])


@pytest.fixture
def bare(mgr: Any) -> Iterator[ContainerResolver]:
    """Three bare records (two ids share the prefix ``ab``) and a resolver built alone."""
    client = mgr.ctrd
    for cid, name in zip(IDS, ["first", "second", "third"], strict=True):
        client.containers.create(cid, spec={"ociVersion": "1.0.2"}, labels={"pouchsh/name": name})
    yield ContainerResolver(mgr, ContainerPaths(mgr))
    for cid in IDS:
        client.containers.delete(cid)


def test_the_resolver_alone(bare: ContainerResolver) -> None:
    assert bare.resolve("first") == IDS[0]
    assert bare.resolve({"id": IDS[1][:5]}) == IDS[1]
    assert [c.id for c in bare.get_all(["third", "ab2", IDS[0]])] == [IDS[2], IDS[1], IDS[0]]
    assert bare.task(IDS[0]) is None
    assert bare.record(IDS[2])["name"] == "third"
    with pytest.raises(Conflict, match="multiple containers match"):
        bare.resolve("ab")


def test_network_container_mode_resolves_as_the_verbs_do(mgr: Any, bare: ContainerResolver) -> None:
    with pytest.raises(Conflict, match="multiple containers match"):
        mgr.containers.create(opts("true", network="container:ab"))
    with pytest.raises(NotFound, match="no such container: nobody"):
        mgr.containers.create(opts("true", network="container:nobody"))
    with pytest.raises(Conflict, match="not running"):  # found by name, then refused: it has no task
        mgr.containers.create(opts("true", network="container:first"))
    assert len(mgr.ctrd.containers.list()) == 3  # nothing half-made
