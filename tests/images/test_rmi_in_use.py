"""Bug 1 of issue 15: ``rmi`` deleted an image that running containers used, after a tag/untag sequence,
and its content went with it. An image a container uses (by digest, whatever its names) is never deleted
without ``-f``; with ``-f`` its name goes and its content stays until no container needs it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import Conflict, NotFound

pytestmark = pytest.mark.containerd

BUSYBOX = "docker.io/library/busybox:latest"


@pytest.fixture
def facade(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path) -> Iterator[Any]:
    from managers import Managers

    managers = Managers(address=containerd_address, namespace=namespace, root=tmp_path / "root",
                        run_root=tmp_path / "run")
    yield managers
    try:
        for c in managers.ctrd.containers.list():
            managers.containers.lifecycle.destroy(c, True)
    finally:
        managers.close()


def _opts(name: str) -> Any:
    from managers.options import CreateOptions

    return CreateOptions.parse("busybox", ["sleep", "60"], name=name, network="none")


def _content(facade: Any) -> set[str]:
    return {info.digest for info in facade.ctrd.content.list()}


def _collect_garbage(facade: Any) -> None:
    """Run containerd's GC now, as an image delete with sync does: what nothing references goes."""
    from ctrd.descriptors import Descriptor

    scratch = f"scratch.local/gc:{uuid.uuid4().hex[:8]}"
    facade.ctrd.images.put(scratch, Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "0" * 64, 1))
    facade.ctrd.images.delete(scratch, sync=True)


def test_the_last_name_of_an_image_in_use_survives_a_tag_untag_sequence(facade: Any) -> None:
    images, containers = facade.images, facade.containers
    containers.run(_opts("web"), detach=True)
    images.tag("busybox", "b2:1")
    # untagging one of two names is fine: the other still names the image
    assert images.remove(["busybox"]) == [{"name": BUSYBOX, "id": images.inspect("b2:1")["id"], "deleted": False}]
    with pytest.raises(Conflict, match="used by container web"):
        images.remove(["b2:1"])
    images.tag("b2:1", "b3:1")
    images.remove(["b2:1"])
    with pytest.raises(Conflict, match="used by container web"):
        images.remove(["b3:1"])
    with pytest.raises(Conflict, match="used by container web"):
        images.remove([images.inspect("b3:1")["id"]])
    assert images.prune(all=True)["removed"] == []
    assert [r["name"] for r in images.list()] == ["docker.io/library/b3:1"]
    # a stopped container uses its image as much as a running one
    containers.stop(["web"], timeout=0)
    with pytest.raises(Conflict, match="used by container web"):
        images.remove(["b3:1"])


def test_a_forced_rmi_keeps_the_content_until_the_container_goes(facade: Any) -> None:
    images, containers = facade.images, facade.containers
    containers.run(_opts("web"), detach=True)
    before = _content(facade)
    target = facade.ctrd.images.get(BUSYBOX).target.digest
    removed = images.remove(["busybox"], force=True)
    assert removed[0]["deleted"] is True
    with pytest.raises(NotFound):
        images.inspect("busybox")
    _collect_garbage(facade)
    assert _content(facade) == before and target in before
    # what it needs is all there: it restarts from its own snapshot
    containers.stop(["web"], timeout=0)
    containers.start(["web"])
    assert containers.inspect("web")["status"] == "running"
    containers.remove(["web"], force=True)
    _collect_garbage(facade)
    assert _content(facade) == set()


def test_a_container_made_without_the_reference_is_given_it_by_a_forced_rmi(facade: Any) -> None:
    """A container another client made names its image only: rmi finds it by name, and -f gives it the
    GC reference before the name goes."""
    client = facade.ctrd
    client.containers.create("foreign", spec={"ociVersion": "1.0.2"}, image=BUSYBOX, snapshot_key="")
    before = _content(facade)
    with pytest.raises(Conflict, match="used by container foreign"):
        facade.images.remove(["busybox"])
    facade.images.remove(["busybox"], force=True)
    _collect_garbage(facade)
    assert _content(facade) == before
    client.containers.delete("foreign")
    _collect_garbage(facade)
    assert _content(facade) == set()

