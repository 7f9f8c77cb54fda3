"""bench/lifecycle_cni.py's conflist for `ctr --cni`: the plugin chain of pouchsh's default network."""

from __future__ import annotations

from pathlib import Path

from bench.lifecycle_cni import BRIDGE, NET_NAME, SUBNET, ctr_conflist
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

