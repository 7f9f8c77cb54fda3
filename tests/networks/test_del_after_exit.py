"""A foreground ``run --rm`` reports its exit before its CNI DELs, which run in a thread of the same
process (NetworkManager.detach_later); what the process does next with networks waits for them. The
DELs of a container being removed (that one, and ``rm -f`` of a running one) run outside the CNI lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from managers import deferred
from managers import networks as netmod
from tests.networks.fixtures import run, run_detached
from tests.networks.test_networks import free_subnet

pytestmark = pytest.mark.containerd


def pending() -> list[threading.Thread]:
    return deferred.pending()


def test_the_next_run_gets_the_same_address_and_port_and_the_network_goes(mgr: Any, busybox_image: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    net = "later"
    subnet = free_subnet(mgr)
    mgr.networks.create(net, subnet=subnet)
    ip = subnet.rsplit(".", 1)[0] + ".9"
    flags = {"network": net, "ip": ip, "publish": ["127.0.0.1:18931:80"], "rm": True}
    # Each DEL is held until the run has returned, so the test sees it pending rather than done.
    gate = threading.Event()
    delete = netmod.NetworkManager._detach_removed

    def held(self: Any, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "pouchsh-cni-del":
            assert gate.wait(30)
        delete(self, *args, **kwargs)

    monkeypatch.setattr(netmod.NetworkManager, "_detach_removed", held)
    code, out = run(mgr, busybox_image, "true", **flags)
    assert code == 0, out
    assert [t.name for t in pending()] == ["pouchsh-cni-del"]
    assert (mgr.root / "intents").is_dir() and list((mgr.root / "intents").iterdir())  # written before the exit
    gate.set()
    code, out = run(mgr, busybox_image, "sh", "-c", "ip -4 -o addr show eth0", **flags)  # waits for the DEL
    assert code == 0 and f"inet {ip}/" in out, out
    mgr.networks.remove([net])  # waits for the second run's DEL
    assert pending() == []
    assert not list((mgr.root / "intents").iterdir())


def test_another_containers_add_does_not_wait_for_a_pending_del(mgr: Any, busybox_image: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The DELs run outside the CNI lock (their record keeps the address claimed until they are done), so
    the next container of a script, asking for no particular address or port, is attached meanwhile."""
    net = "overlap"
    mgr.networks.create(net, subnet=free_subnet(mgr))
    gate = threading.Event()
    delete = netmod.NetworkManager._detach_removed

    def held(self: Any, *args: Any, **kwargs: Any) -> None:
        assert gate.wait(60)
        delete(self, *args, **kwargs)

    monkeypatch.setattr(netmod.NetworkManager, "_detach_removed", held)
    code, out = run(mgr, busybox_image, "true", network=net, rm=True)
    assert code == 0, out
    first = mgr.networks.ipam_leases.__wrapped__(mgr.networks, net)  # not settled: the held DEL's lease is there
    code, out = run(mgr, busybox_image, "sh", "-c", "ip -4 -o addr show eth0", network=net, rm=True)
    assert code == 0, out
    assert [t.name for t in pending()] == ["pouchsh-cni-del"] * 2  # the first DEL is still held
    assert not any(f"inet {lease}/" in out for lease in first)  # the held address was not given again
    gate.set()
    mgr.networks.remove([net])
    assert pending() == []


def test_rm_runs_its_dels_beside_another_containers_add(mgr: Any, busybox_image: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``rm -f`` of a running container runs its DELs outside the CNI lock too, so the DELs of a bulk
    removal overlap: while one is held, another container is attached; the record goes after the DEL."""
    net = "rmoverlap"
    mgr.networks.create(net, subnet=free_subnet(mgr))
    first = run_detached(mgr, busybox_image, "sleep", "600", network=net)["id"]
    entered, gate = threading.Event(), threading.Event()
    delete = netmod.NetworkManager._delete_interfaces

    def held(self: Any, *args: Any, **kwargs: Any) -> None:
        entered.set()
        assert gate.wait(20)  # on code that DELs under the lock, the attach below waits all this time
        delete(self, *args, **kwargs)

    monkeypatch.setattr(netmod.NetworkManager, "_delete_interfaces", held)
    with ThreadPoolExecutor(1) as pool:
        removal = pool.submit(mgr.containers.remove, [first], force=True)
        try:
            assert entered.wait(60)
            second = run_detached(mgr, busybox_image, "sleep", "600", network=net)["id"]
            assert not gate.is_set()
            attachments = mgr.networks.store.read()["attachments"]
            assert {f"{mgr.namespace}/{first}", f"{mgr.namespace}/{second}"} <= set(attachments)  # still claimed
        finally:
            gate.set()
        removal.result(timeout=60)
    assert list(mgr.networks.store.read()["attachments"]) == [f"{mgr.namespace}/{second}"]


def test_a_late_del_leaves_a_newer_attachment_recorded(mgr: Any) -> None:
    """A DEL outside the lock drops its container's record only if it is still the attachment it
    deleted (the same namespace file), not one made since."""
    networks = mgr.networks
    key = f"{mgr.namespace}/{'a' * 64}"
    old = {"namespace": mgr.namespace, "id": "a" * 64, "name": "late", "hostname": "late",
           "netns": "/var/run/netns/gone", "netns_id": "0:1", "interfaces": {}}
    new = {**old, "netns_id": "0:2"}
    with networks.store.update() as doc:
        doc.setdefault("attachments", {})[key] = new
    networks._detach_entry(key, old)
    assert networks.store.read()["attachments"][key] == new
    networks._detach_entry(key, new)
    assert key not in networks.store.read()["attachments"]
