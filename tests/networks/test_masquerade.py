"""The bridge plugin's masquerade chain of a container whose netns was gone at its DEL
(managers.hostnet.teardown_masquerade): made here as the plugin makes it, on TEST-NET addresses that
no packet of this host carries, and removed by one iptables-restore or, where the rule is not the
expected one, by the listing."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from managers import hostnet

ADDRESS = "192.0.2.7"
_run = subprocess.run  # the tests' own calls, not counted with what teardown_masquerade runs


def _chain(network: str, cni_id: str) -> str:
    return "CNI-" + hashlib.sha512((network + cni_id).encode()).hexdigest()[:24]


def _nat() -> str:
    return _run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def masqueraded() -> Iterator[tuple[str, str, str]]:
    """A network name, CNI id and chain with the plugin's three rules (ip.SetupIPMasq's shape)."""
    network, cni_id = "pstmasq", f"test-{uuid.uuid4().hex}"
    chain = _chain(network, cni_id)
    comment = f'name: "{network}" id: "{cni_id}"'
    for args in (["-N", chain],
                 ["-A", chain, "-d", "192.0.2.0/24", "-m", "comment", "--comment", comment, "-j", "ACCEPT"],
                 ["-A", chain, "!", "-d", "224.0.0.0/4", "-m", "comment", "--comment", comment, "-j", "MASQUERADE"],
                 ["-A", "POSTROUTING", "-s", f"{ADDRESS}/32", "-m", "comment", "--comment", comment, "-j", chain]):
        subprocess.run(["iptables", "-w", "-t", "nat", *args], check=True)
    yield network, cni_id, chain
    if chain in _nat():  # the test failed: leave the host as it was
        hostnet.teardown_masquerade(network, cni_id)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    ran: list[list[str]] = []

    def run(args: Any, *a: Any, **k: Any) -> Any:
        ran.append(list(args))
        return _run(args, *a, **k)

    monkeypatch.setattr(hostnet.subprocess, "run", run)
    return ran


def test_with_the_address_one_restore_removes_rule_and_chain(masqueraded: tuple[str, str, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    network, cni_id, chain = masqueraded
    ran = _counting(monkeypatch)
    hostnet.teardown_masquerade(network, cni_id, ADDRESS)
    assert chain not in _nat()
    assert [args[0] for args in ran] == ["iptables-restore"]


def test_a_rule_not_as_expected_is_found_by_the_listing(masqueraded: tuple[str, str, str]) -> None:
    network, cni_id, chain = masqueraded
    hostnet.teardown_masquerade(network, cni_id, "192.0.2.8")  # the restore is refused as a whole
    assert chain not in _nat()


@pytest.mark.parametrize("address", ["", "192.0.2.7\n-F POSTROUTING", "not an address"])
def test_without_a_usable_address_the_listing_removes_it(masqueraded: tuple[str, str, str], address: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    network, cni_id, chain = masqueraded
    ran = _counting(monkeypatch)
    hostnet.teardown_masquerade(network, cni_id, address)
    assert chain not in _nat()
    assert "iptables-restore" not in [args[0] for args in ran]


def test_a_name_with_a_line_break_never_reaches_a_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names are validated where they are made; were one not, it must not become a restore command."""
    ran = _counting(monkeypatch)
    before = _nat()
    hostnet.teardown_masquerade("net\n-F POSTROUTING", "id", ADDRESS)
    assert "iptables-restore" not in [args[0] for args in ran]
    assert _nat() == before
