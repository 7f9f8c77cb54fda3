"""``kill -9`` at every step of the commands that change the host: pouchsh SIGKILLs itself at a failpoint
(managers.faults, ``POUCHSH_FAULT``), the next command reconciles what it left (managers.intents), and
the world is whole: no IP lease without an attachment, no iptables rule of a container that is not
attached, no bridge without a network, no volume directory without a volume, no container directory
without a container, no intent left; the same container starts again with the same address, the same
names can be made again.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrd.owner import is_gone
from tests.images.conftest import registry  # noqa: F401 - the module-scoped docker-registry fixture
from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def pouch(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path]) -> Run:
    """``pouch("-c", text, fault=NAME)``: pouchsh in a subprocess, with a failpoint armed."""

    def run(*args: str, fault: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
        env = pouchsh_env(roots, **({"POUCHSH_FAULT": fault} if fault else {}))
        return subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd=REPO, check=False)

    return run


@pytest.fixture
def facade(containerd_address: str, namespace: str, roots: tuple[Path, Path]) -> Any:
    from managers import Managers

    # The observer must not reconcile: what the next pouchsh command does is under test.
    f = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1], reconcile=False)
    yield f
    f.close()


@pytest.fixture
def subnet(facade: Any) -> Iterator[str]:
    """A /24 no host route and no iptables rule uses (a failed run of this suite may have left rules:
    the leak checks must see this test's only), from a range only this suite takes. Once the test has
    removed its network, no rule may name the range: ``whole`` checks only networks that exist."""
    from managers.hostnet import host_routes

    taken = [r for r, _ in host_routes()]
    ruled = iptables("nat") + iptables("filter")
    candidates = list(ipaddress.ip_network("10.213.0.0/16").subnets(new_prefix=24))
    start = random.randrange(len(candidates))  # two runs of the suite at once rarely race for one /24
    for candidate in candidates[start:] + candidates[:start]:
        prefix = str(candidate.network_address).rpartition(".")[0] + "."
        if not any(candidate.overlaps(t) for t in taken) and prefix not in ruled:
            break
    else:
        raise AssertionError("no free subnet")
    yield str(candidate)
    if not any(net["subnet"] == str(candidate) for net in facade.networks.store.read().get("networks", {}).values()):
        left = [rule for rule in (iptables("nat") + iptables("filter")).splitlines() if prefix in rule]
        assert not left, f"iptables rules of the removed network's range {candidate}: {left}"


def ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()[-2000:]
    assert b"Traceback" not in proc.stderr
    return proc.stdout.decode()


def killed(proc: subprocess.CompletedProcess[bytes]) -> None:
    assert proc.returncode == -signal.SIGKILL, f"not killed at the failpoint: {proc.returncode} {(proc.stdout + proc.stderr).decode()[-1500:]}"


def iptables(table: str) -> str:
    return subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False).stdout


def whole(facade: Any, roots: tuple[Path, Path], namespace: str) -> list[str]:
    """Every leak of this test's root and namespace, as sentences (empty: the world is whole)."""
    root = roots[0]
    leaks: list[str] = []
    state = facade.networks.store.read()
    networks = state.get("networks", {})
    containers = {c.id for c in facade.ctrd.containers.list()}
    attached: dict[str, set[str]] = {}  # cni id -> ips
    for a in state.get("attachments", {}).values():
        if a.get("adding") and is_gone(a.get("claimant")):
            leaks.append(f"claim of an attach whose process is gone: {a['id'][:12]}")
            continue
        attached[f"{a['namespace']}-{a['id']}"] = {itf["ip"] for itf in a["interfaces"].values()}
        if a["namespace"] == namespace and a["id"] not in containers:
            leaks.append(f"attachment of a container that does not exist: {a['id'][:12]}")
    ipam = root / "networks" / "ipam"
    for lease in sorted(ipam.glob("*/*")) if ipam.is_dir() else []:
        try:
            ipaddress.ip_address(lease.name)
        except ValueError:
            continue
        holder = lease.read_text().splitlines()[0].strip()
        if holder not in attached:
            leaks.append(f"IP lease {lease.parent.name}/{lease.name} of {holder}, which is not attached")
    ours = re.compile(r'id: \\?"(' + re.escape(namespace) + r'-[0-9a-f]{64})')
    for table in ("nat", "filter"):
        rules = iptables(table)
        for cni_id in set(ours.findall(rules)):
            if cni_id not in attached:
                shown = [r for r in rules.splitlines() if cni_id in r]
                leaks.append(f"iptables {table} rules of {cni_id}, which is not attached: {shown}")
        for net in networks.values():
            subnet = ipaddress.ip_network(net["subnet"])
            for ip in re.findall(r"(\d+\.\d+\.\d+\.\d+)/32", rules):
                if ipaddress.ip_address(ip) in subnet and not any(ip in ips for ips in attached.values()):
                    leaks.append(f"iptables {table} rule for {ip} of network {net['name']}, which nothing holds")
    for alias in Path("/sys/class/net").glob("*/ifalias"):
        text = alias.read_text().strip()
        if text.endswith(f"@{root}") and text.removeprefix("pouchsh network ").rpartition("@")[0] not in networks:
            leaks.append(f"bridge {alias.parent.name} ({text}) without a network")
    for net in networks.values():
        if not Path("/sys/class/net", net["bridge"]).exists():
            leaks.append(f"network {net['name']} without its bridge {net['bridge']}")
            continue
        ports = os.listdir(Path("/sys/class/net", net["bridge"], "brif"))
        users = [a for a in state.get("attachments", {}).values() if net["name"] in a["interfaces"]]
        # Fewer ports than attachments is a stopped container's (its start or rm detaches it).
        if len(ports) > len(users):
            leaks.append(f"bridge {net['bridge']} has ports {ports} for {len(users)} attachments")
    volumes = root / "volumes" / namespace
    known = set(facade.volumes._store(namespace).read().get("volumes", {}))
    for d in sorted(os.listdir(volumes)) if volumes.is_dir() else []:
        if d not in known:
            leaks.append(f"volume directory {d} without a volume")
    for name in known:
        if not (volumes / name / "_data").is_dir():
            leaks.append(f"volume {name} without its directory")
    pinned = roots[1] / "netns" / namespace
    for cid in sorted(os.listdir(pinned)) if pinned.is_dir() else []:
        if cid not in containers:
            leaks.append(f"network namespace pinned for {cid[:12]}, which does not exist")
    cdirs = root / "containers" / namespace
    for d in sorted(os.listdir(cdirs)) if cdirs.is_dir() else []:
        if d not in containers:
            leaks.append(f"container directory {d[:12]} without a container")
    intents = root / "intents"
    if intents.is_dir() and os.listdir(intents):
        leaks.append(f"intents left: {os.listdir(intents)}")
    return leaks


def container(facade: Any, name: str) -> Any | None:
    for c in facade.ctrd.containers.list():
        if (c.labels or {}).get("pouchsh/name") == name:
            return c
    return None


def address_of(pouch: Run, name: str) -> str:
    record = json.loads(ok(pouch("--json", "-c", f"inspect {name}")).splitlines()[0])
    return next(iter(record["network_settings"].values()))["ip"]


RUN_POINTS = [
    "container.create.before", "container.create.after", "network.pin.before", "network.pin.after",
    "network.cni-add.before", "network.cni-add.after",
    "network.attach.before-record", "network.attach.recorded", "task.start.before", "task.start.after",
]


@pytest.mark.parametrize("fault", RUN_POINTS)
def test_run_killed_at_each_step(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, subnet: str) -> None:
    ok(pouch("-c", f"network create --subnet {subnet} k9"))
    ip = str(ipaddress.ip_network(subnet).network_address + 9)
    web = f"run -d --name web --network k9 --ip {ip} -p 80 -v data:/data busybox sleep 300"
    killed(pouch("-c", web, fault=fault))
    before = "\n".join(whole(facade, roots, namespace))
    if fault in ("network.cni-add.after", "network.attach.before-record"):
        assert f"IP lease k9/{ip}" in before and "iptables nat rules" in before, before
    if not fault.startswith("task."):  # Tasks.Start is containerd's alone: no intent
        assert "intents left" in before  # the check sees what the kill left
    ok(pouch("-c", "ps -a"))  # the next command reconciles
    assert whole(facade, roots, namespace) == []
    if container(facade, "web") is not None:
        ok(pouch("-c", "start web"))
    else:
        ok(pouch("-c", web))
    assert address_of(pouch, "web") == ip
    ok(pouch("-c", "rm -f web; volume rm data; network rm k9"))
    assert whole(facade, roots, namespace) == []


RM_POINTS = ["container.rm.killed", "network.cni-del.before", "network.cni-del.after", "container.rm.detached",
             "container.rm.deleted"]


@pytest.mark.parametrize("fault", RM_POINTS)
def test_rm_killed_at_each_step(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, subnet: str) -> None:
    ok(pouch("-c", f"network create --subnet {subnet} k9"))
    ip = str(ipaddress.ip_network(subnet).network_address + 9)
    web = f"run -d --name web --network k9 --ip {ip} -p 80 -v /anon busybox sleep 300"
    ok(pouch("-c", web))
    killed(pouch("-c", "rm -f -v web", fault=fault))
    ok(pouch("-c", "ps -a"))
    assert whole(facade, roots, namespace) == []
    if container(facade, "web") is not None:
        ok(pouch("-c", "rm -f -v web"))
    assert container(facade, "web") is None
    assert facade.volumes.list() == []  # rm -v finished: the anonymous volume went too
    ok(pouch("-c", web))
    assert address_of(pouch, "web") == ip
    ok(pouch("-c", "rm -f -v web; network rm k9"))
    assert whole(facade, roots, namespace) == []


#: a foreground --rm run's removal runs in a thread once the exit is reported (Lifecycle.destroy_later),
#: its DELs last (NetworkManager.detach_later)
RM_LATER_POINTS = ["container.rm.deferred", "container.rm.killed", "container.rm.deleted", "network.cni-del.before",
                   "network.cni-del.after"]


@pytest.mark.parametrize("fault", RM_LATER_POINTS)
def test_a_foreground_rm_run_killed_in_its_removal(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path],
                                                   namespace: str, subnet: str) -> None:
    ok(pouch("-c", f"network create --subnet {subnet} k9"))
    ip = str(ipaddress.ip_network(subnet).network_address + 9)
    run = f"run --rm --network k9 --ip {ip} -p 80 -v /anon busybox true"
    killed(pouch("-c", run, fault=fault))
    assert "intents left" in "\n".join(whole(facade, roots, namespace))
    if fault.startswith("network."):
        assert facade.ctrd.containers.list() == []  # the DEL begins once the container is gone
    ok(pouch("-c", "ps -a"))  # the next command reconciles: the removal is finished
    assert whole(facade, roots, namespace) == []
    assert facade.ctrd.containers.list() == []
    assert facade.volumes.list() == []
    ok(pouch("-c", run))  # the address and the port are free again
    ok(pouch("-c", "network rm k9"))
    assert whole(facade, roots, namespace) == []


NETWORK_CREATE_POINTS = ["network.create.bridge.before", "network.create.bridge.after", "network.create.recorded"]


@pytest.mark.parametrize("fault", NETWORK_CREATE_POINTS)
def test_network_create_killed(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, subnet: str) -> None:
    killed(pouch("-c", f"network create --subnet {subnet} k9", fault=fault))
    listed = ok(pouch("--json", "-c", "network ls"))
    assert whole(facade, roots, namespace) == []
    if "k9" not in listed:
        ok(pouch("-c", f"network create --subnet {subnet} k9"))
    ok(pouch("-c", "run --rm --network k9 busybox true; network rm k9"))
    assert whole(facade, roots, namespace) == []


@pytest.mark.parametrize("fault", ["network.rm.before", "network.rm.unregistered"])
def test_network_rm_killed(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, subnet: str) -> None:
    ok(pouch("-c", f"network create --subnet {subnet} k9; run --rm --network k9 busybox true"))
    killed(pouch("-c", "network rm k9", fault=fault))
    ok(pouch("-c", "network ls"))
    assert whole(facade, roots, namespace) == []
    ok(pouch("-c", "network rm -f k9"))
    ok(pouch("-c", f"network create --subnet {subnet} k9; run --rm --network k9 busybox true; network rm k9"))
    assert whole(facade, roots, namespace) == []


@pytest.mark.parametrize("fault", ["volume.create.before", "volume.create.dir-made", "volume.create.recorded"])
def test_volume_create_killed(fault: str, pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str) -> None:
    killed(pouch("-c", "volume create v1", fault=fault))
    ok(pouch("-c", "volume ls"))
    assert whole(facade, roots, namespace) == []
    ok(pouch("-c", "volume create v1; run --rm --network none -v v1:/v busybox touch /v/x; volume rm v1"))
    assert whole(facade, roots, namespace) == []


def test_volume_rm_killed(pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str) -> None:
    ok(pouch("-c", "volume create v1; run --rm --network none -v v1:/v busybox touch /v/old"))
    killed(pouch("-c", "volume rm v1", fault="volume.rm.unregistered"))
    ok(pouch("-c", "volume ls"))
    assert whole(facade, roots, namespace) == []
    assert facade.volumes.list() == []
    # made again, the volume is new: nothing of the old one shows through
    out = ok(pouch("-c", "volume create v1; run --rm --network none -v v1:/v busybox ls -a /v; volume rm v1"))
    assert "old" not in out


@pytest.mark.parametrize("fault", ["pull.fetch.before", "pull.unpack.before", "pull.name.before"])
def test_pull_killed(fault: str, pouch: Run, facade: Any, busybox_image: str, registry: str) -> None:  # noqa: F811
    remote = f"{registry}/kill9/busybox:{fault.replace('.', '-')}"
    ok(pouch("-c", f"tag {busybox_image} {remote}; push --insecure-registry {remote}; rmi {remote}"))
    killed(pouch("-c", f"pull --insecure-registry {remote}", fault=fault))
    ok(pouch("-c", f"pull --insecure-registry {remote}"))
    ok(pouch("-c", f"run --rm --network none {remote} true; system prune -f"))
    assert [lease.id for lease in facade.ctrd.leases.list()] == []


def test_two_processes_one_killed(pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str,
                                  containerd_address: str, subnet: str) -> None:
    """Two ``run -d`` at once on one network, one SIGKILLed holding the CNI lock mid-attach: the other
    goes on, the next command reconciles, and the killed one starts again with its address."""
    ok(pouch("-c", f"network create --subnet {subnet} k9"))
    base = ipaddress.ip_network(subnet).network_address
    env_killed = pouchsh_env(roots, POUCHSH_FAULT="network.cni-add.after")
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, "-c"]
    procs = [
        subprocess.Popen([*argv, f"run -d --name a --network k9 --ip {base + 10} -p 80 busybox sleep 300"],
                         env=env_killed, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        subprocess.Popen([*argv, f"run -d --name b --network k9 --ip {base + 11} -p 80 busybox sleep 300"],
                         env=pouchsh_env(roots), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert procs[0].returncode == -signal.SIGKILL, outs[0]
    assert procs[1].returncode == 0, outs[1]
    ok(pouch("-c", "ps -a"))
    assert whole(facade, roots, namespace) == []
    ok(pouch("-c", "start a"))
    assert (address_of(pouch, "a"), address_of(pouch, "b")) == (str(base + 10), str(base + 11))
    ok(pouch("-c", "rm -f a b; network rm k9"))
    assert whole(facade, roots, namespace) == []


def test_prune_reclaims_what_no_intent_names(pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str, subnet: str) -> None:
    """Host state that belongs to nothing and is named by no intent (an intent file lost, state written
    by an older pouchsh): ``system prune`` reclaims it all the same."""
    ok(pouch("-c", f"network create --subnet {subnet} k9"))
    ip = str(ipaddress.ip_network(subnet).network_address + 9)
    killed(pouch("-c", f"run -d --name web --network k9 --ip {ip} -p 80 busybox sleep 300", fault="network.cni-add.after"))
    for intent in (roots[0] / "intents").iterdir():
        intent.unlink()
    (roots[0] / "volumes" / namespace / "orphan" / "_data").mkdir(parents=True)
    (roots[0] / "containers" / namespace / ("f" * 64)).mkdir(parents=True)
    assert len(whole(facade, roots, namespace)) >= 3
    out = json.loads(ok(pouch("--json", "-c", "system prune -f")).splitlines()[0])
    assert out["host"]["ip_leases"] == [f"k9/{ip}"]
    assert out["host"]["volume_dirs"] == [f"{namespace}/orphan"]
    assert out["host"]["container_dirs"] == ["f" * 64]
    assert whole(facade, roots, namespace) == []
    # created, never started: pruned like any stopped container, and then the network as unused
    assert container(facade, "web") is None
    ok(pouch("-c", f"network create --subnet {subnet} k9; run -d --name web --network k9 --ip {ip} -p 80 busybox sleep 300"))
    assert address_of(pouch, "web") == ip
    ok(pouch("-c", "rm -f web; network rm k9"))


def test_a_failpoint_costs_nothing_unarmed(pouch: Run) -> None:
    """Unarmed, a point is a comparison with None; armed with another name, it does not fire."""
    from managers import faults

    started = time.perf_counter()
    for _ in range(100_000):
        faults.point("network.cni-add.before")
    assert time.perf_counter() - started < 0.5
    ok(pouch("-c", "volume ls", fault="no.such.point"))


def test_a_live_process_intent_is_left_alone(pouch: Run, facade: Any, roots: tuple[Path, Path], namespace: str) -> None:
    """Only a dead owner's intent is reconciled: a volume being made by a running process (this one)
    keeps its directory through another pouchsh's start-up and prune; once that owner has let go
    without a record (as if its write were lost), prune takes the directory."""
    from managers.intents import Journal

    directory = roots[0] / "volumes" / namespace / "inflight" / "_data"
    intent = Journal(roots[0]).begin("volume.create", namespace=namespace, name="inflight")
    directory.mkdir(parents=True)
    ok(pouch("-c", "volume ls; system prune -f"))
    assert directory.is_dir() and intent.path.exists()
    intent.clear()
    out = json.loads(ok(pouch("--json", "-c", "system prune -f")).splitlines()[0])
    assert out["host"]["volume_dirs"] == [f"{namespace}/inflight"]
    assert whole(facade, roots, namespace) == []
