"""Volumes against the real containerd: create/ls/inspect/rm/prune, in-use refusal, container mounts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound

pytestmark = pytest.mark.containerd


def _fake_user(m: Any, cid: str, volumes: list[str], name: str) -> None:
    """A container record that uses ``volumes`` (as the container manager labels it); no task needed."""
    m.ctrd.containers.create(
        cid, spec={"ociVersion": "1.0.2"}, labels={"pouchsh/volumes": ",".join(volumes), "pouchsh/name": name}
    )


def test_create_ls_inspect_rm(mgr: Any) -> None:
    v = mgr.volumes
    record = v.create("data", labels={"app": "shop"})
    fields = ["name", "driver", "mountpoint", "labels", "options", "scope", "created", "anonymous"]
    assert list(record) == fields
    assert record["name"] == "data" and record["driver"] == "local" and record["scope"] == "local"
    assert Path(record["mountpoint"]).is_dir()
    assert Path(record["mountpoint"]) == mgr.root / "volumes" / mgr.namespace / "data" / "_data"
    assert v.create("data") == record  # docker: create is repeatable
    with pytest.raises(AlreadyExists):
        v.create("data", labels={"app": "other"})
    v.create("logs")
    assert [r["name"] for r in v.list()] == ["data", "logs"]
    assert list(v.list()[0]) == fields  # the documented order survives the store
    assert [r["name"] for r in v.list(filters=["label=app=shop"])] == ["data"]
    assert [r["name"] for r in v.list(filters=["name=lo"])] == ["logs"]
    assert v.inspect("data") == record
    assert v.remove(["data", "logs"]) == ["data", "logs"]
    assert v.list() == []
    assert not Path(record["mountpoint"]).exists()
    with pytest.raises(NotFound):
        v.inspect("data")
    with pytest.raises(NotFound):
        v.remove(["data"])
    assert v.remove(["data"], force=True) == []


@pytest.mark.parametrize("name", ["../escape", "..", "a/b", "/etc", "x\x00y", "."])
def test_traversal_names_are_refused_and_nothing_is_made(mgr: Any, name: str) -> None:
    with pytest.raises(InvalidArgument):
        mgr.volumes.create(name)
    with pytest.raises(InvalidArgument):
        mgr.volumes.inspect(name)
    assert not (mgr.root / "volumes").exists() or os.listdir(mgr.root / "volumes" / mgr.namespace) == []
    assert not (mgr.root.parent / "escape").exists()


def test_driver_and_options_are_checked(mgr: Any) -> None:
    with pytest.raises(InvalidArgument, match="driver"):
        mgr.volumes.create("v1", driver="nfs")
    with pytest.raises(InvalidArgument, match="size"):
        mgr.volumes.create("v1", options={"size": "10m"})
    with pytest.raises(InvalidArgument):
        mgr.volumes.create("v1", options={"colour": "blue"})
    assert mgr.volumes.list() == []


def test_a_volume_in_use_cannot_be_removed(mgr: Any) -> None:
    mgr.volumes.create("shared")
    mgr.volumes.create("free")
    _fake_user(mgr, "c1", ["shared"], "web")
    _fake_user(mgr, "c2", ["shared"], "worker")
    with pytest.raises(Conflict, match="web, worker"):
        mgr.volumes.remove(["free", "shared"], force=True)
    assert {r["name"] for r in mgr.volumes.list()} == {"free", "shared"}  # nothing removed
    assert [r["name"] for r in mgr.volumes.list(filters=["dangling=true"])] == ["free"]
    mgr.ctrd.containers.delete("c1")
    mgr.ctrd.containers.delete("c2")
    assert mgr.volumes.remove(["shared"]) == ["shared"]


def test_a_volume_named_by_a_create_in_flight_cannot_be_removed(mgr: Any) -> None:
    """Another process's container create has picked the volume (its intent names it) but has not made
    the container yet: rm refuses instead of pulling the volume from under it."""
    from managers.intents import Journal

    mgr.volumes.create("picked")
    intent = Journal(mgr.root).begin("container.create", namespace=mgr.namespace, id="f" * 64,
                                     name="starting", volumes=["picked"])
    try:
        with pytest.raises(Conflict, match="starting"):
            mgr.volumes.remove(["picked"])
        assert mgr.volumes.exists("picked")
    finally:
        intent.clear()
    assert mgr.volumes.remove(["picked"]) == ["picked"]


def test_ensure_makes_a_volume_removed_before_the_intent_again(mgr: Any) -> None:
    mgr.volumes.create("raced")
    mgr.volumes.remove(["raced"])
    mgr.volumes.ensure(["raced"])
    assert Path(mgr.volumes.inspect("raced")["mountpoint"]).is_dir()


def test_prune_removes_exactly_the_unused(mgr: Any) -> None:
    v = mgr.volumes
    anon_used = v.create()["name"]
    anon_free = v.create()["name"]
    v.create("named-free")
    v.create("named-used")
    (Path(v.inspect(anon_free)["mountpoint"]) / "f").write_bytes(b"x" * 8192)
    _fake_user(mgr, "c1", [anon_used, "named-used"], "web")
    result = v.prune()
    assert result["volumes_deleted"] == [anon_free] and result["space_reclaimed"] >= 8192
    assert {r["name"] for r in v.list()} == {anon_used, "named-free", "named-used"}
    assert v.prune(all=True)["volumes_deleted"] == ["named-free"]
    mgr.ctrd.containers.delete("c1")


def test_container_mounts(mgr: Any, tmp_path: Path) -> None:
    host = tmp_path / "site"
    host.mkdir()
    mounts, names, _ = mgr.volumes.container_mounts(
        "cid1",
        volumes=["data:/data", f"{host}:/www:ro", "/anon"],
        mounts=["type=tmpfs,dst=/scratch,tmpfs-size=1m"],
        tmpfs=["/run:size=64k"],
        image_volumes=["/anon", "/image-vol"],
        volumes_from=[],
    )
    by_dst = {m["destination"]: m for m in mounts}
    assert set(by_dst) == {"/data", "/www", "/anon", "/scratch", "/run", "/image-vol"}
    assert by_dst["/www"]["source"] == str(host) and "ro" in by_dst["/www"]["options"]
    assert by_dst["/data"]["source"] == mgr.volumes.inspect("data")["mountpoint"]
    assert by_dst["/scratch"]["type"] == "tmpfs" and "size=1m" in by_dst["/scratch"]["options"]
    assert names[0] == "data" and len(names) == 3  # data, the -v anonymous one, the image's
    anonymous = [r for r in mgr.volumes.list() if r["anonymous"]]
    assert len(anonymous) == 2
    mgr.volumes.release("cid1", names, remove_anonymous=True)
    assert [r["name"] for r in mgr.volumes.list()] == ["data"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"volumes": ["new1:/a", "/does/not/exist:/b"]},
        {"volumes": ["new1:/a", "new2:/a"]},
        {"volumes": ["new1:/a"], "mounts": ["type=bind,src=/x,dst=/b,bind-propagation=evil"]},
        {"volumes": ["new1:/a"], "volumes_from": ["nosuch"]},
        {"volumes": ["new1:/a", "../x:/b"]},
    ],
)
def test_bad_mounts_change_nothing(mgr: Any, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"volumes": [], "mounts": [], "tmpfs": [], "image_volumes": [], "volumes_from": []}
    args.update(kwargs)
    with pytest.raises((InvalidArgument, NotFound)):
        mgr.volumes.container_mounts("cid1", **args)
    assert mgr.volumes.list() == []


def test_volumes_from(mgr: Any, tmp_path: Path) -> None:
    mounts, names, _ = mgr.volumes.container_mounts(
        "src1", volumes=["data:/data", f"{tmp_path}:/host"], mounts=[], tmpfs=["/t"], image_volumes=[], volumes_from=[]
    )
    mgr.ctrd.containers.create(
        "src1", spec={"ociVersion": "1.0.2", "mounts": mounts},
        labels={"pouchsh/volumes": ",".join(names), "pouchsh/name": "source"},
    )
    got, used, _ = mgr.volumes.container_mounts(
        "dst1", volumes=[], mounts=[], tmpfs=[], image_volumes=[], volumes_from=["source:ro"]
    )
    assert {m["destination"] for m in got} == {"/data", "/host"}  # tmpfs does not travel
    assert all("ro" in m["options"] for m in got)
    assert used == ["data"]
    mgr.ctrd.containers.delete("src1")
