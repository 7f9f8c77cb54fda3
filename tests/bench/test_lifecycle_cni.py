"""The pure helpers of bench/lifecycle_cni.py: ctr's conflist and the leftover iptables rules it removes."""

from __future__ import annotations

from pathlib import Path

from bench.lifecycle_cni import BRIDGE, NET_NAME, SUBNET, ctr_conflist, leftover_rules
from managers.cni import bridge_conflist


def test_ctr_conflist_has_the_default_networks_plugin_chain(tmp_path: Path) -> None:
    default = bridge_conflist({"name": "bridge", "bridge": "pouch0", "subnet": "10.4.0.0/24", "gateway": "10.4.0.1"}, tmp_path)
    ours = ctr_conflist(tmp_path)
    assert [p["type"] for p in ours["plugins"]] == [p["type"] for p in default["plugins"]]
    assert ours["plugins"][1:] == default["plugins"][1:]
    bridge = ours["plugins"][0]
    assert (ours["name"], bridge["bridge"], bridge["ipam"]["ranges"]) == (
        NET_NAME, BRIDGE, [[{"subnet": str(SUBNET), "gateway": "10.251.17.1"}]],
    )
    assert {k: v for k, v in bridge.items() if k not in ("bridge", "ipam")} == {
        k: v for k, v in default["plugins"][0].items() if k not in ("bridge", "ipam")
    }


LISTING = [
    "-P POSTROUTING ACCEPT",
    "-N CNI-0123456789abcdef01234567",
    "-N CNI-FORWARD",
    '-A POSTROUTING -s 10.251.17.5/32 -m comment --comment "name: \\"pouchsh-bench-ctr\\" id: \\"ns-ctr-1\\"" '
    "-j CNI-0123456789abcdef01234567",
    '-A POSTROUTING -s 10.4.27.2/32 -m comment --comment "name: \\"bridge\\" id: \\"x\\"" -j CNI-fedcba9876543210fedcba98',
    "-A CNI-FORWARD -d 10.251.17.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A CNI-FORWARD -s 10.4.3.7/32 -j ACCEPT",
    "-A CNI-ISOLATION-STAGE-1 -i pbbench0 ! -o pbbench0 -j CNI-ISOLATION-STAGE-2",
]
MARKERS = (f'\\"{NET_NAME}\\"', BRIDGE, "10.251.17.")


def test_leftover_rules_are_only_the_bench_networks() -> None:
    rules, chains = leftover_rules(LISTING, MARKERS)
    assert rules == [
        ["POSTROUTING", "-s", "10.251.17.5/32", "-m", "comment", "--comment",
         'name: "pouchsh-bench-ctr" id: "ns-ctr-1"', "-j", "CNI-0123456789abcdef01234567"],
        ["CNI-FORWARD", "-d", "10.251.17.5/32", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["CNI-ISOLATION-STAGE-1", "-i", "pbbench0", "!", "-o", "pbbench0", "-j", "CNI-ISOLATION-STAGE-2"],
    ]
    assert chains == ["CNI-0123456789abcdef01234567"]
