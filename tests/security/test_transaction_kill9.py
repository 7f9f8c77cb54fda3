"""A transaction killed with SIGKILL, at a failpoint or from outside at a moment of the test's choosing,
or interrupted with Ctrl-C, leaves nothing: its record (an intent with its process's identity) makes the
next invocation undo what it made; what existed before is untouched (tests/security/test_kill9.py's
leak check, `whole`, holds afterwards)."""

from __future__ import annotations

import ipaddress
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO, pouchsh_env
from tests.security.test_kill9 import Run, container, facade, iptables, killed, ok, pouch, whole
from tests.support.poll import poll

__all__ = ["facade", "pouch"]  # fixtures

pytestmark = pytest.mark.containerd


@pytest.fixture(autouse=True)
def _remove_what_is_left(pouch: Run) -> Any:
    """The containers a test keeps (the "old" ones) are removed through pouchsh, so their CNI DEL runs:
    purging the namespace alone would leave their iptables rules to trouble later tests."""
    yield
    pouch("-c", "ps -a | rm -f")


@pytest.fixture
def bridge(pouch: Run, facade: Any) -> str:
    """The default network made first on a /24 that no route and no iptables rule uses (as test_kill9's
    ``subnet``, from another range), so rules other suites left in the automatic range are not taken
    for this test's leaks; also a second clean /24 for the test's own network."""
    from managers.hostnet import host_routes

    taken = [r for r, _ in host_routes()]
    ruled = iptables("nat") + iptables("filter")
    candidates = list(ipaddress.ip_network("10.214.0.0/16").subnets(new_prefix=24))
    start = random.randrange(len(candidates))
    free = [str(c) for c in candidates[start:] + candidates[:start]
            if not any(c.overlaps(t) for t in taken) and str(c.network_address).rpartition(".")[0] + "." not in ruled]
    ok(pouch("-c", f"network create bridge --subnet {free[0]}"))
    return free[1]


def _names(facade: Any) -> set[str]:
    return {c.labels.get("pouchsh/name", "") for c in facade.ctrd.containers.list()}


def _spawn(roots: tuple[Path, Path], address: str, namespace: str, source: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "pouchsh", "--address", address, "--namespace", namespace, "-c", source]
    return subprocess.Popen(argv, env=pouchsh_env(roots), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("fault", ["transaction.recorded", "container.create.before", "container.create.after",
                                   "network.cni-add.after", "task.start.after"])
def test_killed_inside_a_transaction(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str,
                                     bridge: str) -> None:
    subnet = bridge
    ok(pouch("-c", "run -d --name old busybox sleep 300; volume create keep"))
    killed(pouch("-c", f"transaction {{ network create txn --subnet {subnet}; volume create txv\n"
                       "run -d --name web --network txn -v txv:/d busybox sleep 300 }", fault=fault))
    ok(pouch("-c", "ps -a"))  # the next invocation reconciles
    assert _names(facade) == {"old"}
    assert "txn" not in {n["name"] for n in facade.networks.list()}
    assert {v["name"] for v in facade.volumes.list()} == {"keep"}
    assert whole(facade, roots, namespace) == []


def test_killed_from_outside_mid_block(facade: Any, pouch: Run, roots: tuple[Path, Path], namespace: str,
                                       containerd_address: str, bridge: str) -> None:
    ok(pouch("-c", f"network create pre --subnet {bridge}; run -d --name old busybox sleep 300"))
    proc = _spawn(roots, containerd_address, namespace,
                  "transaction { run -d --name a busybox sleep 300; network connect pre old\n"
                  "volume create txv; sleep 5m }")
    try:
        poll(lambda: facade.volumes.exists("txv"), "the volume txv made", 90)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    ok(pouch("-c", "ps -a"))
    assert _names(facade) == {"old"}
    assert not facade.volumes.exists("txv")
    networks = ok(pouch("--json", "-c", "inspect old | get networks"))
    assert "pre" not in networks  # the connection it made to an older container is undone
    assert whole(facade, roots, namespace) == []


def test_killed_during_the_undo(pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, bridge: str) -> None:
    killed(pouch("-c", "transaction { run -d --name a busybox sleep 300; run -d --name b busybox sleep 300\n"
                       "^false }", fault="transaction.undo.step"))
    assert len(_names(facade)) == 1  # one removed, then the kill
    ok(pouch("-c", "ps -a"))
    assert _names(facade) == set()
    assert whole(facade, roots, namespace) == []


def test_a_live_transaction_is_not_undone_by_another_pouchsh(facade: Any, pouch: Run, roots: tuple[Path, Path],
                                                             namespace: str, containerd_address: str,
                                                             bridge: str) -> None:
    proc = _spawn(roots, containerd_address, namespace, "transaction { run -d --name live busybox sleep 300; sleep 5m }")
    try:
        poll(lambda: container(facade, "live") is not None, "the container live made", 90)
        ok(pouch("-c", "ps -a"))
        assert "live" in _names(facade)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the transaction undoes itself
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""
    assert _names(facade) == set()
    assert whole(facade, roots, namespace) == []


def test_compose_up_killed_while_waiting_for_health(facade: Any, pouch: Run, roots: tuple[Path, Path], namespace: str,
                                                    containerd_address: str, tmp_path: Path, bridge: str) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: busybox\n    command: sleep 600\n    volumes: [v:/v]\n"
        "    healthcheck: {test: 'exit 1', interval: 1h, retries: 1000}\n"
        "  web:\n    image: busybox\n    depends_on: {db: {condition: service_healthy}}\nvolumes:\n  v: {}\n")
    proc = _spawn(roots, containerd_address, namespace, f"compose up -f {tmp_path}/compose.yaml -p killed")
    try:
        poll(lambda: container(facade, "killed-db-1") is not None and facade.volumes.exists("killed_v"),
             "killed-db-1 and its volume made", 90)
    finally:
        proc.kill()
        proc.wait(30)
    ok(pouch("-c", "ps -a"))
    assert _names(facade) == set()
    assert not facade.volumes.exists("killed_v")
    assert "killed_default" not in {n["name"] for n in facade.networks.list()}
    assert whole(facade, roots, namespace) == []


def test_upgrade_killed_before_the_new_container_is_confirmed(facade: Any, pouch: Run, roots: tuple[Path, Path],
                                                              namespace: str, containerd_address: str,
                                                              bridge: str) -> None:
    ok(pouch("-c", "run -d --name svc -v /anon --health-cmd 'exit 1' --health-interval 1h --health-retries 100 "
                   "busybox sleep 600"))
    old = container(facade, "svc")
    assert old is not None
    # the new container's healthcheck does not pass for an hour: the upgrade waits, and is killed there
    proc = _spawn(roots, containerd_address, namespace, "upgrade svc --image busybox --timeout 10m")
    try:
        poll(lambda: (c := container(facade, "svc")) is not None and c.id != old.id, "the new svc made", 90)
        ok(pouch("-c", "ps -a"))  # a live upgrade's record is left alone
        assert container(facade, "svc").id != old.id
    finally:
        proc.kill()
        proc.wait(30)
    ok(pouch("-c", "ps -a"))
    back = container(facade, "svc")
    assert back is not None and back.id == old.id
    assert _names(facade) == {"svc"}
    assert whole(facade, roots, namespace) == []


@pytest.mark.parametrize("fault", ["transaction.recorded", "container.create.after", "task.start.after"])
def test_upgrade_killed_at_each_step(fault: str, facade: Any, pouch: Run, roots: tuple[Path, Path], namespace: str,
                                     bridge: str) -> None:
    ok(pouch("-c", "run -d --name svc -v /anon busybox sleep 600"))
    old = container(facade, "svc")
    killed(pouch("-c", "upgrade svc --image busybox --grace 1s", fault=fault))
    ok(pouch("-c", "ps -a"))
    back = container(facade, "svc")
    assert back is not None and back.id == old.id and _names(facade) == {"svc"}
    assert "running" in ok(pouch("-c", "inspect svc | get status"))
    assert whole(facade, roots, namespace) == []
