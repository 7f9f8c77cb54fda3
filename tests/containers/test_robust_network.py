"""A detached container that exits by itself keeps its network attachment (CNI interfaces, its IPAM
address) until pouchsh next touches it, since no daemon of ours sees the exit. What must hold: ``ps``
tells the truth about it, and ``rm``, ``start`` and ``system prune`` each release that attachment.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.networks.fixtures import mgr, run_detached, unique  # noqa: F401 - mgr: managers with network clean-up
from tests.networks.test_networks import free_subnet

pytestmark = pytest.mark.containerd


def _exited_on_a_network(m: Any, image: str) -> tuple[str, str]:
    """A detached container on a network of its own that has exited with status 3; (id, network)."""
    net = unique("rbn")
    m.networks.create(net, subnet=free_subnet(m), options={"bridge": unique()})
    cid = run_detached(m, image, "sh", "-c", "exit 3", name="quitter", network=net)["id"]
    assert m.containers.wait([cid]) == [3]
    assert net in m.networks.networks_of(cid)  # still attached: what the verbs below must release
    assert len(m.networks.ipam_leases(net)) == 1
    return cid, net


def _released(m: Any, cid: str, net: str) -> None:
    assert m.networks.networks_of(cid) == {}
    assert m.networks.ipam_leases(net) == []


def test_ps_shows_it_exited(mgr: Any, busybox_image: str) -> None:  # noqa: F811
    cid, net = _exited_on_a_network(mgr, busybox_image)
    (row,) = mgr.containers.list(all=True, no_trunc=True)
    assert (row["id"], row["status"], row["exit_code"], row["networks"]) == (cid, "exited", 3, [net])
    assert mgr.containers.list() == []  # not among the running ones
    assert "network_settings" not in mgr.containers.inspect(cid)


def test_rm_releases_it(mgr: Any, busybox_image: str) -> None:  # noqa: F811
    cid, net = _exited_on_a_network(mgr, busybox_image)
    mgr.containers.remove([cid])
    _released(mgr, cid, net)


def test_system_prune_releases_it(mgr: Any, busybox_image: str) -> None:  # noqa: F811
    cid, net = _exited_on_a_network(mgr, busybox_image)
    result = mgr.system.prune()
    assert result["containers"]["deleted"] == [cid]
    _released(mgr, cid, net)


def test_start_replaces_it(mgr: Any, busybox_image: str) -> None:  # noqa: F811
    cid, net = _exited_on_a_network(mgr, busybox_image)
    mgr.containers.start([cid])
    assert mgr.containers.wait([cid]) == [3]
    assert len(mgr.networks.ipam_leases(net)) == 1  # the new attachment only: the old address came back
    mgr.containers.remove([cid])
    _released(mgr, cid, net)
