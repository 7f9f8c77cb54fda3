"""Networks: create/ls/inspect/rm with their refusals, and CNI attach/detach on a network namespace made
for the test (``ip netns add``). Only bridges these tests create are touched, and they are removed."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from managers.networks import NetworkPlan
from tests.networks.fixtures import netns, unique
from tests.support.workers import worker_index

pytestmark = pytest.mark.containerd


def free_subnet(m: Any) -> str:
    """A /24 that no host route and no network of ``m`` uses, from a range other tests do not use: one /16
    per parallel worker (10.200/16 on the first), so two workers never both take the first free /24."""
    from managers.hostnet import host_routes

    assert worker_index() < 10, "10.210/16 and up belong to other tests"
    taken = [r for r, _ in host_routes()] + [ipaddress.ip_network(n["subnet"]) for n in m.networks.list() if n["subnet"]]
    for candidate in ipaddress.ip_network(f"10.{200 + worker_index()}.0.0/16").subnets(new_prefix=24):
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise AssertionError("no free subnet")


def addresses(dev: str) -> str:
    return subprocess.run(["ip", "-4", "addr", "show", "dev", dev], capture_output=True, text=True, check=False).stdout


def rules_mentioning(text: str) -> list[str]:
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines() if text in line]


def test_create_inspect_ls_rm(mgr: Any) -> None:
    n = mgr.networks
    bridge = unique()
    subnet = free_subnet(mgr)
    record = n.create("shop", subnet=subnet, labels={"app": "shop"},
                      options={"com.docker.network.bridge.name": bridge, "mtu": "1400"})
    assert set(record) >= {"name", "id", "driver", "subnet", "gateway", "internal", "labels", "containers", "created"}
    gateway = str(ipaddress.ip_network(subnet).network_address + 1)
    assert (record["subnet"], record["gateway"], record["bridge"], record["mtu"]) == (subnet, gateway, bridge, 1400)
    assert f"{gateway}/24" in addresses(bridge)  # the bridge exists from create on
    assert n.inspect("shop") == record == n.inspect(record["id"][:12])
    assert [r["name"] for r in n.list()] == ["shop", "host", "none"]
    assert [r["name"] for r in n.list(filters=["type=custom"])] == ["shop"]
    with pytest.raises(AlreadyExists):
        n.create("shop")
    assert n.remove(["shop"]) == ["shop"]
    assert not Path("/sys/class/net", bridge).exists()
    with pytest.raises(NotFound):
        n.inspect("shop")
    with pytest.raises(NotFound):
        n.remove(["shop"])


def test_bad_input_changes_nothing(mgr: Any) -> None:
    n = mgr.networks
    subnet = free_subnet(mgr)
    n.create("first", subnet=subnet, options={"bridge": unique()})
    before = n.store.read()
    inside = str(ipaddress.ip_network(subnet).subnets(new_prefix=25).__next__())
    bridge = unique()
    with pytest.raises(Conflict, match="overlaps network first"):
        n.create("second", subnet=inside, options={"bridge": bridge})
    host_route = next(str(r) for r, dev in __import__("managers.networks", fromlist=["x"]).host_routes() if dev == "eth0") \
        if Path("/sys/class/net/eth0").exists() else None
    if host_route:
        with pytest.raises(Conflict, match="host route"):
            n.create("second", subnet=host_route, options={"bridge": bridge})
    for kwargs in (
        {"subnet": "10.1.2.3/24"},
        {"gateway": "10.0.0.1"},
        {"subnet": free_subnet(mgr), "gateway": "192.168.99.1"},
        {"subnet": free_subnet(mgr), "options": {"mtu": "9"}},
        {"subnet": free_subnet(mgr), "options": {"colour": "blue"}},
        {"driver": "overlay"},
    ):
        with pytest.raises(InvalidArgument):
            n.create("second", **kwargs)
    for name in ("../x", "a", "x/y", "host", "none"):
        with pytest.raises((InvalidArgument, AlreadyExists)):
            n.create(name)
    with pytest.raises(InvalidArgument):
        n.remove(["host"])
    with pytest.raises(NotFound):
        n.plan("c1", network="missing", ports=[], publish_all=False, exposed_ports=[], ip=None,
               hostname="", dns=[], add_hosts=[])
    assert n.store.read() == before
    assert not Path("/sys/class/net", bridge).exists()


def test_default_network_is_made_on_first_use(mgr: Any) -> None:
    plan = mgr.networks.plan("c" * 64, network="bridge", ports=[], publish_all=False, exposed_ports=[],
                             ip=None, hostname="", dns=["192.0.2.53"], add_hosts=["db:10.9.9.9"])
    assert plan.mode == "cni" and plan.networks == ["bridge"]
    bridge = mgr.networks.inspect("bridge")
    subnet = ipaddress.ip_network(bridge["subnet"])
    from managers.hostnet import host_routes

    assert not any(subnet.overlaps(r) for r, dev in host_routes() if dev != bridge["bridge"])
    files = {m["destination"]: Path(m["source"]) for m in plan.spec_mounts}
    assert set(files) == {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"}
    assert files["/etc/hostname"].read_text() == "c" * 12 + "\n"
    assert "10.9.9.9\tdb" in files["/etc/hosts"].read_text()
    assert files["/etc/resolv.conf"].read_text().startswith("nameserver 192.0.2.53")
    assert json.loads(plan.labels["pouchsh/ports"]) == []
    mgr.networks.detach("c" * 64)
    assert not files["/etc/hosts"].exists()


def _plan(m: Any, net: str, cid: str, **kw: Any) -> NetworkPlan:
    args = {"ports": [], "publish_all": False, "exposed_ports": [], "ip": None, "hostname": "", "dns": [], "add_hosts": []}
    args.update(kw)
    return m.networks.plan(cid, network=net, **args)


def test_attach_detach_on_a_netns(mgr: Any) -> None:
    n = mgr.networks
    subnet = free_subnet(mgr)
    n.create("pstnet", subnet=subnet, options={"bridge": unique()})
    with netns() as ns1, netns() as ns2:
        plan1 = _plan(mgr, "pstnet", "a" * 64, hostname="one", ports=["127.0.0.1::80"])
        plan2 = _plan(mgr, "pstnet", "b" * 64, hostname="two", ip=str(ipaddress.ip_network(subnet)[77]))
        n.attach("a" * 64, ns1, plan1)
        got1 = n.attach("a" * 64, ns1, plan1)  # idempotent: the first attachment is deleted, not leaked
        assert n.ipam_leases("pstnet") == [got1["pstnet"]["ip"]]
        got2 = n.attach("b" * 64, ns2, plan2)
        ip1, ip2 = got1["pstnet"]["ip"], got2["pstnet"]["ip"]
        assert ip2 == str(ipaddress.ip_network(subnet)[77])
        out = subprocess.run(["ip", "netns", "exec", Path(ns1).name, "ip", "-4", "-o", "addr"],
                             capture_output=True, text=True, check=False).stdout
        assert f"{ip1}/24" in out
        hosts1 = (mgr.root / "containers" / mgr.namespace / ("a" * 64) / "hosts").read_text()
        assert f"{ip2}\t" in hosts1 and "two" in hosts1  # peers reach each other by name
        assert sorted(n.ipam_leases("pstnet")) == sorted([ip1, ip2])
        assert [c["ip"] for c in n.inspect("pstnet")["containers"]] == [ip1, ip2]
        with pytest.raises(Conflict):
            n.remove(["pstnet"])
        # the host port that plan1 chose is now taken
        taken = json.loads(plan1.labels["pouchsh/ports"])[0]["host_port"]
        with pytest.raises(Conflict, match="already published"):
            _plan(mgr, "pstnet", "c" * 64, ports=[f"127.0.0.1:{taken}:80"])
        with pytest.raises(Conflict, match="in use"):
            _plan(mgr, "pstnet", "c" * 64, ip=ip2)
        n.detach("a" * 64)
        n.detach("a" * 64)  # idempotent
        hosts2 = (mgr.root / "containers" / mgr.namespace / ("b" * 64) / "hosts").read_text()
        assert ip1 not in hosts2
        n.detach("b" * 64)
    assert n.ipam_leases("pstnet") == []
    assert n.store.read().get("attachments") == {}
    assert rules_mentioning(f"{mgr.namespace}-aaaa") == rules_mentioning(f"{mgr.namespace}-bbbb") == []


def test_detach_after_the_netns_is_gone_leaves_no_rules(mgr: Any) -> None:
    """A container that exited by itself has no network namespace left when it is reaped."""
    n = mgr.networks
    n.create("gone", subnet=free_subnet(mgr), options={"bridge": unique()})
    cid = "e" * 64
    with netns() as ns:
        n.attach(cid, ns, _plan(mgr, "gone", cid, ports=["127.0.0.1::80"]))
        assert rules_mentioning(f"{mgr.namespace}-{cid}")
    n.detach(cid)
    assert n.ipam_leases("gone") == []
    assert rules_mentioning(f"{mgr.namespace}-{cid}") == []


@pytest.mark.parametrize("cycles", [40])
def test_ipam_keeps_no_stale_allocation(mgr: Any, cycles: int) -> None:
    n = mgr.networks
    subnet = free_subnet(mgr)
    # A range of 8 addresses: 40 cycles go round it several times, so every address is handed out again
    # after its release (a lease kept by mistake would run the range dry long before the end).
    n.create("churn", subnet=subnet, ip_range=subnet.replace(".0/24", ".16/29"), internal=True,
             options={"bridge": unique()})
    seen: set[str] = set()
    with netns() as ns:
        for i in range(cycles):
            cid = f"{i:064x}"
            got = n.attach(cid, ns, _plan(mgr, "churn", cid))
            seen.add(got["churn"]["ip"])
            assert len(n.ipam_leases("churn")) == 1
            n.detach(cid)
    assert n.ipam_leases("churn") == []
    assert n.store.read().get("attachments") == {}
    assert len(seen) > 1  # host-local moved on through the range: leases really were taken and freed
    assert seen <= {f"{subnet.rsplit('.', 1)[0]}.{i}" for i in range(16, 24)}


def test_a_failing_add_leaves_nothing(mgr: Any) -> None:
    n = mgr.networks
    n.create("failnet", subnet=free_subnet(mgr), options={"bridge": unique()})
    plan = _plan(mgr, "failnet", "d" * 64)
    from ctrd.errors import PouchError

    with pytest.raises(PouchError):
        n.attach("d" * 64, "/proc/does-not-exist/ns/net", plan)
    assert n.ipam_leases("failnet") == []
    assert n.store.read().get("attachments", {}) == {}
    n.detach("d" * 64)


def test_bridges_of_a_vanished_data_root_are_reclaimed(mgr: Any, tmp_path: Path) -> None:
    import shutil

    from tests.networks.fixtures import make_managers

    other = make_managers(mgr.address, mgr.namespace, tmp_path / "other")
    bridge = unique()
    other.networks.create("left", subnet=free_subnet(mgr), options={"bridge": bridge})
    mgr.networks.create("mine", subnet=free_subnet(mgr), options={"bridge": unique()})
    assert Path("/sys/class/net", bridge).exists()  # its root still holds it
    shutil.rmtree(other.root)
    mgr.networks.create("again", subnet=free_subnet(mgr), options={"bridge": unique()})
    assert not Path("/sys/class/net", bridge).exists()
    other.close()


def test_plan_modes_and_publish_all(mgr: Any) -> None:
    n = mgr.networks
    n.create("pub", subnet=free_subnet(mgr), options={"bridge": unique()})
    plan = _plan(mgr, "pub", "f" * 64, publish_all=True, exposed_ports=["80/tcp", "53/udp"], ports=["8080:80"])
    published = json.loads(plan.labels["pouchsh/ports"])
    assert [(p["container_port"], p["protocol"]) for p in published] == [(80, "tcp"), (53, "udp")]
    assert published[0]["host_port"] == 8080 and published[1]["host_port"] > 0  # -P picked a free port
    n.detach("f" * 64)
    for mode in ("host", "none"):
        plan = _plan(mgr, mode, "f" * 64)
        assert (plan.mode, plan.networks) == (mode, [])
        assert n.attach("f" * 64, "/nonexistent", plan) == {}
        with pytest.raises(InvalidArgument):
            _plan(mgr, mode, "f" * 64, ports=["80"])
        n.detach("f" * 64)
    mgr.ctrd.containers.create("a" * 64, spec={"ociVersion": "1.0.2"}, labels={"pouchsh/name": "peer"})
    plan = _plan(mgr, "container:peer", "f" * 64)
    assert plan.mode == "container" and plan.join == "a" * 64
    assert {m["source"] for m in plan.spec_mounts} == {
        str(mgr.root / "containers" / mgr.namespace / ("a" * 64) / f) for f in ("hosts", "resolv.conf", "hostname")
    }
    with pytest.raises(NotFound):
        _plan(mgr, "container:nobody", "f" * 64)
    mgr.ctrd.containers.delete("a" * 64)


def test_a_restart_plan_reads_back_what_the_first_plan_decided(mgr: Any) -> None:
    """plan_from_labels takes the port records and --add-host pairs as the labels keep them (no
    printing them back into flag text to parse again: an IPv6 address did not survive that)."""
    cid = "d" * 64
    first = _plan(mgr, "bridge", cid, hostname="web", ports=["127.0.0.1::80", "[::1]::82", "81/udp"], dns=["192.0.2.53"],
                  add_hosts=["db:10.9.9.9", "v6:[::1]"])
    labels = dict(first.labels)
    mgr.networks.detach(cid)
    again = mgr.networks.plan_from_labels(cid, labels)
    try:
        assert again.ports == first.ports and all(p["host_port"] for p in again.ports)
        assert again.add_hosts == [("db", "10.9.9.9"), ("v6", "::1")] == first.add_hosts
        assert (again.dns, again.hostname, again.labels) == (first.dns, "web", first.labels)
    finally:
        mgr.networks.detach(cid)
