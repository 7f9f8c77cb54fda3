"""A bridged container's network namespace is pinned under the run root before its task, attached while
containerd makes the task, and removed with its reaping (managers.netns)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument
from managers import netns
from managers.lifecycle import _netns
from managers.deferred import settle
from managers.options import CreateOptions
from tests.networks.fixtures import run, run_detached

pytestmark = pytest.mark.containerd

SHOW = "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ip -4 -o addr show eth0"


def pins(m: Any) -> list[str]:
    directory = m.run_root / netns.DIRECTORY / m.namespace
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def test_a_run_joins_the_pinned_namespace_with_loopback_up_and_leaves_nothing(mgr: Any, busybox_image: str) -> None:
    web = run_detached(mgr, busybox_image, "sleep", "300")
    path = mgr.networks.netns_path(web["id"])
    assert _netns(mgr.ctrd.containers.get(web["id"]).spec) == str(path)
    assert netns.is_pinned(path)
    pid = mgr.ctrd.tasks.get(web["id"]).pid
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(path).st_ino  # runc joined it
    ip = mgr.networks.networks_of(web["id"])["bridge"]["ip"]
    code, out = run(mgr, busybox_image, "sh", "-c", f"{SHOW}; ping -c 1 -W 3 {ip}", rm=True)
    assert code == 0, out
    lines = out.split("\n")
    assert int(lines[1], 16) & 1, out  # IFF_UP: runc brings lo up only in a namespace it makes itself
    assert "eth0" in lines[2] and "inet " in lines[2], out
    settle()  # the --rm run's DEL runs in a thread (NetworkManager.detach_later)
    assert pins(mgr) == [web["id"]]  # the --rm run's namespace went with it
    mgr.containers.stop([web["id"]], timeout=0)
    assert pins(mgr) == [] and not path.exists()
    mgr.containers.start([web["id"]])  # a start pins again
    assert netns.is_pinned(path) and mgr.networks.networks_of(web["id"])["bridge"]["ip"]
    mgr.containers.remove([web["id"]], force=True)
    assert pins(mgr) == []


def test_a_failed_start_removes_the_namespace_and_the_address(mgr: Any, busybox_image: str) -> None:
    with pytest.raises(Exception, match="no-such-binary"):
        run_detached(mgr, busybox_image, "/no-such-binary")
    assert pins(mgr) == []
    assert mgr.networks.ipam_leases("bridge") == []
    assert mgr.ctrd.containers.list() == []


def test_a_container_made_before_pinning_is_attached_as_before(mgr: Any, busybox_image: str) -> None:
    made = mgr.containers.create(CreateOptions.parse(busybox_image, ["sleep", "300"]))
    spec = dict(mgr.ctrd.containers.get(made["id"]).spec)
    spec["linux"] = {**spec["linux"], "namespaces": [
        {"type": ns["type"]} for ns in spec["linux"]["namespaces"]]}
    mgr.ctrd.containers.update(made["id"], spec=spec)
    mgr.containers.start([made["id"]])
    assert pins(mgr) == []
    pid = mgr.ctrd.tasks.get(made["id"]).pid
    assert mgr.networks.store.read()["attachments"][f"{mgr.namespace}/{made['id']}"]["netns"] == f"/proc/{pid}/ns/net"
    assert mgr.networks.networks_of(made["id"])["bridge"]["ip"]


def test_prune_removes_a_pin_whose_container_is_gone(mgr: Any, busybox_image: str) -> None:
    web = run_detached(mgr, busybox_image, "sleep", "300")
    mgr.containers.stop([web["id"]], timeout=0)
    stray = "e" * 64
    netns.pin(mgr.networks.netns_path(stray))  # as if its container had been deleted behind pouchsh's back
    (mgr.run_root / netns.DIRECTORY / mgr.namespace / "not-an-id").write_text("")
    out = mgr.system.prune()
    assert out["host"]["network_namespaces"] == [stray]
    assert pins(mgr) == ["not-an-id"]  # what pouchsh does not name is left alone


@pytest.mark.parametrize("bad", [("default", "../" + "a" * 61), ("../x", "a" * 64), ("default", "A" * 64),
                                 ("", "a" * 64)])
def test_a_path_never_leaves_its_directory(bad: tuple[str, str], tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        netns.path_for(tmp_path, *bad)


def test_unpin_of_nothing_and_of_a_plain_file(tmp_path: Path) -> None:
    netns.unpin(tmp_path / "absent")
    plain = tmp_path / "plain"
    plain.write_text("")
    assert not netns.is_pinned(plain)
    netns.unpin(plain)
    assert not plain.exists()
