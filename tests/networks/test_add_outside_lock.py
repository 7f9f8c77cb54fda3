"""A container's CNI ADDs run outside the CNI lock, beside other containers' ADDs and DELs: under the lock
its attachment is first recorded as a claim (its ports and networks, and the process making it), then
completed once the ADDs are done. What must still hold: ports are claimed at once, ``network rm`` sees a
network being attached, and a claim whose process died is dropped (reconcile, or ``system prune``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ctrd.errors import Conflict
from ctrd.owner import this_process
from managers import networks as netmod
from tests.networks.fixtures import run_detached
from tests.networks.test_networks import free_subnet

pytestmark = pytest.mark.containerd


def test_another_container_is_attached_while_an_add_is_held(mgr: Any, busybox_image: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    net = "addpar"
    mgr.networks.create(net, subnet=free_subnet(mgr))
    entered, gate = threading.Event(), threading.Event()
    add = netmod.NetworkManager._add
    held_thread: list[threading.Thread] = []

    def held(self: Any, *args: Any, **kwargs: Any) -> None:
        if not held_thread:
            held_thread.append(threading.current_thread())
            entered.set()
            assert gate.wait(20)  # on code that ADDs under the lock, the second run waits all this time
        add(self, *args, **kwargs)

    monkeypatch.setattr(netmod.NetworkManager, "_add", held)
    publish = ["127.0.0.1:18977:80"]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(run_detached, mgr, busybox_image, "sleep", "600", network=net, publish=publish)
        try:
            assert entered.wait(60)
            claim = next(iter(mgr.networks.store.read()["attachments"].values()))
            assert claim["adding"] == [net] and claim["interfaces"] == {}
            assert claim["claimant"] == this_process().label()
            with pytest.raises(Conflict, match="18977"):  # its port is claimed before its ADD
                run_detached(mgr, busybox_image, "sleep", "600", network=net, publish=publish)
            with pytest.raises(Conflict, match="attached"):  # and its network is in use
                mgr.networks.remove([net])
            second = run_detached(mgr, busybox_image, "sleep", "600", network=net)
            assert not gate.is_set()
            assert mgr.networks.networks_of(second["id"])[net]["ip"]
        finally:
            gate.set()
        made = first.result(timeout=60)
    entry = mgr.networks.store.read()["attachments"][f"{mgr.namespace}/{made['id']}"]
    assert "adding" not in entry and "claimant" not in entry and entry["interfaces"][net]["ip"]


def test_the_claim_of_a_process_that_is_gone_holds_no_port_and_prune_drops_it(mgr: Any) -> None:
    networks = mgr.networks
    mine = this_process()
    gone = mine.label().replace(f":{mine.pid}:{mine.start}:", f":{mine.pid}:{mine.start - 1}:")
    key, live_key = f"{mgr.namespace}/{'b' * 64}", f"{mgr.namespace}/{'c' * 64}"
    port = {"host_ip": "", "host_port": 18979, "container_port": 80, "protocol": "tcp"}
    claim = {"namespace": mgr.namespace, "id": "b" * 64, "name": "dead", "hostname": "dead", "netns": "",
             "netns_id": "0:9", "ports": [port], "add_hosts": [], "interfaces": {}, "adding": ["bridge"],
             "claimant": gone}
    with networks.store.update() as doc:
        doc.setdefault("attachments", {}).update(
            {key: claim, live_key: {**claim, "id": "c" * 64, "name": "live", "claimant": mine.label()}})
    assert networks.published() == [("container live", port)]
    networks.reclaim()
    assert list(networks.store.read()["attachments"]) == [live_key]  # a live claim stays
    with networks.store.update() as doc:
        doc["attachments"].clear()
