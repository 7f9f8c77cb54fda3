"""Port specs, --add-host, --dns and the CNI conflist: pure parsing, no network touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrd.errors import Conflict, InvalidArgument
from managers import netfiles, ports
from managers.cni import bridge_conflist
from managers.networks import _network_record, _parse_subnet


def m(host_ip: str, hp: int, cp: int, proto: str = "tcp") -> dict:
    return {"host_ip": host_ip, "host_port": hp, "container_port": cp, "protocol": proto}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8080:80", [m("", 8080, 80)]),
        ("127.0.0.1:8080:80/udp", [m("127.0.0.1", 8080, 80, "udp")]),
        ("127.0.0.1::80", [m("127.0.0.1", 0, 80)]),
        ("80", [m("", 0, 80)]),
        ("8000-8001:80-81", [m("", 8000, 80), m("", 8001, 81)]),
        ("[::1]:8080:80", [m("::1", 8080, 80)]),
        ("0.0.0.0:8080:80", [m("", 8080, 80)]),
    ],
)
def test_port_specs(spec: str, expected: list) -> None:
    assert ports.parse_ports([spec]) == expected


@pytest.mark.parametrize(
    "spec", ["0:80", "70000:80", "x:80", "8080:80/icmp", "1.2.3:80:80", "a:b:c:d", "90-80:80-90", "80-81:80", ""]
)
def test_bad_port_specs(spec: str) -> None:
    with pytest.raises(InvalidArgument):
        ports.parse_ports([spec])


def test_port_clashes() -> None:
    published = [("web", m("", 8080, 80))]
    with pytest.raises(Conflict, match="web"):
        ports.clashes([m("127.0.0.1", 8080, 81)], published)
    ports.clashes([m("", 8080, 80, "udp")], published)  # another protocol is another port
    ports.clashes([m("", 8081, 80)], published)
    with pytest.raises(Conflict):
        ports.clashes([m("", 9000, 80), m("", 9000, 81)], [])
    published = [("api", m("127.0.0.1", 9000, 80))]
    ports.clashes([m("127.0.0.2", 9000, 80)], published)


def test_exposed_ports_for_publish_all() -> None:
    assert ports.parse_exposed(["80/tcp", "53/udp", "9/sctp"]) == [m("", 0, 80), m("", 0, 53, "udp"), m("", 0, 9, "sctp")]


def test_add_hosts_and_dns() -> None:
    assert netfiles.parse_add_hosts(["db:10.0.0.5", "v6:[::1]"]) == [("db", "10.0.0.5"), ("v6", "::1")]
    for bad in ("db", "db:300.1.1.1", "bad_name!:1.2.3.4"):
        with pytest.raises(InvalidArgument):
            netfiles.parse_add_hosts([bad])
    with pytest.raises(InvalidArgument):
        netfiles.parse_dns(["dns.example"])


def test_resolv_conf_drops_loopback_servers(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch lan\noptions edns0\n")
    assert netfiles.resolv_text([], host) == "nameserver 192.0.2.53\nsearch lan\noptions edns0\n"
    assert netfiles.resolv_text(["9.9.9.9"], host).startswith("nameserver 9.9.9.9\nsearch")


def test_hosts_text() -> None:
    lines = [netfiles.host_line("10.4.0.2", ["abc", "web"]), netfiles.host_line("10.4.0.3", ["db", "db"])]
    text = netfiles.hosts_text(lines, [("x", "1.2.3.4")])
    assert text.splitlines()[-3:] == ["10.4.0.2\tabc web", "10.4.0.3\tdb", "1.2.3.4\tx"]


def test_write_in_place_keeps_the_file_and_leaves_no_old_tail(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("10.4.0.9\tgone\n" * 50)
    inode = hosts.stat().st_ino  # a bind mount pins it: the file is never replaced
    netfiles.write_in_place(hosts, "10.4.0.2\tweb\n")
    assert hosts.read_text() == "10.4.0.2\tweb\n" and hosts.stat().st_ino == inode
    netfiles.write_in_place(hosts, "10.4.0.3\tdb\n" * 80)
    assert hosts.read_text() == "10.4.0.3\tdb\n" * 80 and hosts.stat().st_ino == inode
    netfiles.write_in_place(tmp_path / "new", "x\n")
    assert (tmp_path / "new").read_text() == "x\n"


@pytest.mark.parametrize("subnet", ["10.1.0.1/24", "nope", "fd00::/64", "10.0.0.0/31"])
def test_bad_subnets(subnet: str) -> None:
    with pytest.raises(InvalidArgument):
        _parse_subnet(subnet)


def test_conflist_variants(tmp_path: Path) -> None:
    net = _parse_subnet("10.20.0.0/24")
    record = _network_record("shop", net, None, "10.20.0.128/25", False, {}, "pstbr", 1400)
    conf = bridge_conflist(record, tmp_path)
    bridge = conf["plugins"][0]
    assert [p["type"] for p in conf["plugins"]] == ["bridge", "portmap", "firewall"]
    assert bridge["mtu"] == 1400 and bridge["isGateway"] and bridge["ipam"]["dataDir"] == str(tmp_path)
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.20.0.0/24", "gateway": "10.20.0.1",
                                          "rangeStart": "10.20.0.128", "rangeEnd": "10.20.0.254"}]]
    internal = bridge_conflist(_network_record("in", net, None, None, True, {}, "pstbr2", 0), tmp_path)
    assert [p["type"] for p in internal["plugins"]] == ["bridge", "firewall"]
    assert not internal["plugins"][0]["ipMasq"] and "routes" not in internal["plugins"][0]["ipam"]
    for gateway, ip_range in (("10.21.0.1", None), ("10.20.0.0", None), (None, "10.30.0.0/24")):
        with pytest.raises(InvalidArgument):
            _network_record("x", net, gateway, ip_range, False, {}, "b", 0)
