"""System: info, version, system containerd, df, events in order, namespaces."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ctrd.errors import Conflict, Interrupted, InvalidArgument, NotFound
from tests.networks.fixtures import run_detached

pytestmark = pytest.mark.containerd


def test_info_and_version(mgr: Any) -> None:
    mgr.volumes.create("v1")
    info = mgr.system.info()
    assert info["containerd_version"].startswith("1.") and info["containerd_revision"]
    assert info["runtime"] == "io.containerd.runc.v2" and info["snapshotter"] == "overlayfs"
    assert info["cgroup_driver"] == "cgroupfs"
    assert (info["containers"], info["containers_running"], info["volumes"]) == (0, 0, 1)
    assert info["networks"] == 2  # host and none; bridge is made on first use
    assert info["namespace"] == mgr.namespace and info["data_root"] == str(mgr.root)
    version = mgr.system.version()
    assert version["containerd_version"] == info["containerd_version"] and version["client_version"]
    daemon = mgr.system.containerd()
    assert daemon["address"] == mgr.address and daemon["source"] == "argument" and daemon["running"]
    assert daemon["managed"] is False


def test_df(mgr: Any, busybox_image: str) -> None:
    volume = mgr.volumes.create("data")
    with open(volume["mountpoint"] + "/blob", "wb") as f:
        f.write(b"x" * 65536)
    rows = {r["type"]: r for r in mgr.system.df()}
    assert set(rows) == {"images", "containers", "volumes"}
    assert rows["images"]["total"] == 1 and rows["images"]["size"] > 0
    assert rows["images"]["reclaimable"] == rows["images"]["size"]  # no container uses it
    assert rows["volumes"]["size"] >= 65536 and rows["volumes"]["reclaimable"] == rows["volumes"]["size"]
    assert rows["containers"] == {"type": "containers", "total": 0, "active": 0, "size": 0, "reclaimable": 0}


def test_events_arrive_in_order_and_close(mgr: Any, busybox_image: str) -> None:
    stream = mgr.system.events(filters=["type=container"])
    try:
        c = run_detached(mgr, busybox_image, "true", name="evt")
        mgr.containers.wait([c["id"]])
        mgr.containers.remove([c["id"]])
        seen: list[str] = []
        for record in stream:
            assert record["id"] == c["id"] and set(record) == {"type", "action", "id", "name", "time", "attributes"}
            seen.append(record["action"])
            if record["action"] == "destroy":
                break
    finally:
        stream.close()
    assert seen == ["create", "task_create", "start", "die", "task_delete", "destroy"]


def test_events_stop_on_cancel(mgr: Any) -> None:
    cancel = threading.Event()
    stream = mgr.system.events(cancel=cancel)
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    with pytest.raises(Interrupted):
        list(stream)
    timer.join()


def test_event_filters_are_checked(mgr: Any) -> None:
    with pytest.raises(InvalidArgument):
        mgr.system.events(filters=["colour=blue"])


def test_namespaces(mgr: Any) -> None:
    sysm = mgr.system
    original = mgr.namespace
    name = f"{original}-x"
    created = sysm.namespace_create(name, labels=["team=a"])
    assert created == {"name": name, "labels": {"team": "a"}, "current": False}
    listed = {r["name"]: r for r in sysm.namespaces()}
    assert listed[original]["current"] and name in listed
    sysm.namespace_use(name)
    assert mgr.namespace == name and mgr.ctrd.namespace == name
    mgr.volumes.create("only-here")
    with pytest.raises(Conflict, match="volumes"):
        sysm.namespace_remove([name])
    mgr.volumes.remove(["only-here"])
    sysm.namespace_use(original)
    assert mgr.volumes.list() == []
    assert sysm.namespace_remove([name]) == [name]
    with pytest.raises(NotFound):
        sysm.namespace_use(name)
    assert mgr.namespace == original


def test_system_prune_removes_exactly_what_is_unused(mgr: Any, busybox_image: str) -> None:
    from tests.networks.fixtures import run, unique
    from tests.networks.test_networks import free_subnet

    mgr.networks.create("unused", subnet=free_subnet(mgr), options={"bridge": unique()})
    mgr.volumes.create("named")
    anon = mgr.volumes.create()["name"]
    keep = run_detached(mgr, busybox_image, "sleep", "300", name="keep", volumes=["kept:/k"])
    code, _ = run(mgr, busybox_image, "true", name="done")
    assert code == 0
    result = mgr.system.prune(volumes=True)
    assert [r["name"] for r in mgr.containers.list(all=True)] == ["keep"]
    assert "unused" not in [n["name"] for n in mgr.networks.list()]
    assert result["volumes"]["volumes_deleted"] == [anon]
    assert {v["name"] for v in mgr.volumes.list()} == {"named", "kept"}
    assert [i.name for i in mgr.ctrd.images.list()] == [busybox_image]  # used by keep
    mgr.containers.remove([keep["id"]], force=True)
