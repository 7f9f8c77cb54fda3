"""Cross-repository blob mounts on push, through Debian's docker-registry behind a logging front: a blob a
repository of the same registry holds (as the content store's distribution-source label records) is
mounted, not uploaded again; a mount the registry will not make falls back to an upload."""

from __future__ import annotations

import pytest

from ctrd.imports import import_oci_layout
from managers.labels import LABEL
from managers.sources import added, sources
from tests.images.registry_front import RegistryFront

pytestmark = pytest.mark.containerd


def _uploads(front: RegistryFront) -> list[str]:
    """The blobs whose bytes were sent: the closing PUT of an upload names the digest."""
    return [path for method, path, _ in front.requests if method == "PUT" and "/blobs/uploads/" in path]


def _mounts(front: RegistryFront) -> list[tuple[str, int]]:
    posts = [(path, status) for method, path, status in front.requests if method == "POST"]
    return [(path, status) for path, status in posts if "mount=" in path]


def _image_blobs(ns_client, name: str) -> list[str]:
    image = ns_client.images.get(name)
    manifest = ns_client.content.read_json(image.target.digest)
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def test_push_mounts_shared_layers_from_another_repository(
    images, ns_client, busybox_image, two_layer_layout, registry
) -> None:
    with RegistryFront(registry) as front:
        first = f"{front.address}/team/a:1"
        images.tag("busybox", first)
        images.push(first)
        assert len(_uploads(front)) == 2  # config and layer
        (two,) = import_oci_layout(ns_client, two_layer_layout)
        second = f"{front.address}/team/b:1"
        images.tag(two.name, second)
        front.requests.clear()
        events = []
        images.push(second, progress=events.append)
        shared = _image_blobs(ns_client, first)[1]  # busybox's layer, the first of the two-layer image
        mount = f"/v2/team/b/blobs/uploads/?mount={shared.replace(':', '%3A')}&from=team%2Fa"
        assert _mounts(front) == [(mount, 201)]
        assert len(_uploads(front)) == 2  # the new config and the second layer only
        assert [e.status for e in events if e.id == shared][-1] == "mounted"
        key = LABEL.DISTRIBUTION_SOURCE + front.address
        assert ns_client.content.info(shared).labels[key] == "team/a,team/b"
        # and what the registry holds under team/b is whole: pulled back into a clean store
        images.remove([second, first, two.name, "busybox"])
        assert ns_client.content.list() == []
        assert images.pull(second)["name"] == second


def test_pull_records_the_source_and_a_push_elsewhere_mounts_from_it(
    images, ns_client, busybox_image, registry
) -> None:
    with RegistryFront(registry) as front:
        name = f"{front.address}/team/pulled:1"
        images.tag("busybox", name)
        images.push(name)
        images.remove([name, "busybox"])
        assert ns_client.content.list() == []
        images.pull(name)
        key = LABEL.DISTRIBUTION_SOURCE + front.address
        blobs = _image_blobs(ns_client, name)
        assert [ns_client.content.info(d).labels.get(key) for d in blobs] == ["team/pulled", "team/pulled"]
        front.requests.clear()
        other = f"{front.address}/team/copy:1"
        images.tag(name, other)
        images.push(other)
        assert [status for _, status in _mounts(front)] == [201, 201]
        assert _uploads(front) == []


def test_a_refused_mount_falls_back_to_an_upload(images, ns_client, busybox_image, registry) -> None:
    with RegistryFront(registry) as front:
        name = f"{front.address}/team/fallback:1"
        images.tag("busybox", name)
        key = LABEL.DISTRIBUTION_SOURCE + front.address
        blobs = _image_blobs(ns_client, name)
        # a repository of that registry that does not hold the blobs (the label may be stale or anyone's)
        for digest in blobs:
            ns_client.content.update_labels(digest, {key: "team/nowhere"})
        images.push(name)
        assert [status for _, status in _mounts(front)] == [202, 202]
        assert len(_uploads(front)) == 2  # into the uploads the refused mounts opened
        assert not any(m == "POST" and "mount=" not in p for m, p, _ in front.requests)
        images.remove([name, "busybox"])
        assert images.pull(name)["name"] == name


def test_a_mount_asks_for_a_token_for_both_repositories(images, busybox_image, registry) -> None:
    with RegistryFront(registry, auth="bearer") as front:
        first = f"{front.address}/team/tok-a:1"
        images.tag("busybox", first)
        images.push(first)
        images.tag("busybox", f"{front.address}/team/tok-b:1")
        images.push(f"{front.address}/team/tok-b:1")
        assert ["repository:team/tok-b:pull,push", "repository:team/tok-a:pull"] in front.token_scopes
        assert [status for _, status in _mounts(front)] == [201, 201]


def test_source_labels_from_the_store_are_checked() -> None:
    key = LABEL.DISTRIBUTION_SOURCE + "reg:5000"
    hostile = {key: "ok/one,../../etc,a?b=c,UPPER/case,x:1,ok/two,,ok/one,target/repo," + "a" * 30}
    assert sources(hostile, "reg:5000", besides="target/repo") == ["a" * 30, "ok/one", "ok/two"]
    assert sources({}, "reg:5000", besides="x") == []
    assert sources({key: "team/a"}, "other:5000", besides="x") == []
    assert added({key: "team/a,team/b"}, "reg:5000", "team/b") == {}
    assert added({key: "team/b,team/a"}, "reg:5000", "team/b") == {key: "team/a,team/b"}
    # the oldest names give way when the label would pass containerd's limit
    many = ",".join(f"r/{i:04d}" for i in range(1000))
    grown = added({key: many}, "reg:5000", "new/one")[key]
    assert grown.endswith(",r/0999,new/one") and len(key) + len(grown) <= 4096
    assert added({}, "reg:5000", "x" * 5000) == {}


def test_a_pull_takes_blobs_another_namespace_holds_without_fetching_them(
    images, ns_client, ctrd_client, containerd_address, busybox_image, registry, tmp_path
) -> None:
    """containerd's content store is shared between namespaces: a pull into a second namespace gets the
    blobs the first holds from containerd (Content.Write's first message names the digest, and containerd
    links the blob it has), as ctr does, and fetches only the manifest."""
    from managers import Managers
    from tests.support.cleanup import purge_namespace

    with RegistryFront(registry) as front:
        name = f"{front.address}/team/shared:1"
        images.tag("busybox", name)
        images.push(name)
        other = f"{ns_client.namespace}-b"
        ctrd_client.namespaces.create(other, {"pouchsh.test": "shared content"})
        second = Managers(address=containerd_address, namespace=other, root=tmp_path / "root-b", run_root=tmp_path / "run-b")
        try:
            front.requests.clear()
            assert second.images.pull(name)["name"] == name
            blob_gets = [path for method, path, _ in front.requests if method == "GET" and "/blobs/" in path]
            assert blob_gets == []
            held = {i.digest for i in ns_client.content.list()}
            assert {i.digest for i in ctrd_client.with_namespace(other).content.list()} == held
        finally:
            second.close()
            assert purge_namespace(ctrd_client, other) == []
