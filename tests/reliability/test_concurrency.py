"""Eight pouchsh processes at once create, rename and remove containers, volumes and networks whose names
overlap. Afterwards: no name is taken twice, no volume a container uses is lost, no IP stays allocated
once the containers are gone, and every failure was a clean already-exists or not-found (conflict where
an object was in use).

A running container is removed only by the process that started it: ``rm -f`` racing another process's
``run`` of the same container is a known gap (the run fails with error[runtime], "cannot start a stopped
process" or a CNI ADD on a vanished netns, instead of not-found), reported, not exercised here."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

PROCESSES = 8
ROUNDS = 4

# $args.0 is the process number; each round picks names from small pools so processes collide. (Names
# are not hex: "c1" would also match a container id prefix, as in docker.)
SCRIPT = """
let k = ($args.0 | from json)
for i in 1..{rounds} {
    let j = ($i + $k) mod 3
    try { create --network none -v "v$j:/data" --name "ctr$j" busybox true; echo "@@ create ok" } catch e { echo "@@ create $e.kind $e.message" }
    try { rename "ctr$j" "ren$j"; echo "@@ rename ok" } catch e { echo "@@ rename $e.kind $e.message" }
    try { run -d --name "job$j" busybox sleep 30; echo "@@ run ok"; rm -f "job$j"; echo "@@ rm-own ok" } catch e { echo "@@ run $e.kind $e.message" }
    try { volume create "v$k$j"; echo "@@ volume-create ok" } catch e { echo "@@ volume-create $e.kind $e.message" }
    try { network create "n$j"; echo "@@ network-create ok" } catch e { echo "@@ network-create $e.kind $e.message" }
    try { rm -f "ren$j"; echo "@@ rm ok" } catch e { echo "@@ rm $e.kind $e.message" }
    try { volume rm "v$j"; echo "@@ volume-rm ok" } catch e { echo "@@ volume-rm $e.kind $e.message" }
    try { network rm "n$j"; echo "@@ network-rm ok" } catch e { echo "@@ network-rm $e.kind $e.message" }
}
"""
CLEAN = {
    "create": {"already-exists"},
    # conflict: another process renamed the same container to the same new name first ("already named")
    "rename": {"not-found", "already-exists", "conflict"},
    "run": {"already-exists"},
    "volume-create": set(),
    "network-create": {"already-exists"},
    "rm": {"not-found"},
    "rm-own": set(),
    "volume-rm": {"not-found", "conflict"},  # conflict: a container of another process uses it
    "network-rm": {"not-found"},
}


def test_eight_processes_with_overlapping_names(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path], tmp_path: Path) -> None:
    from managers import Managers

    script = tmp_path / "race.pouch"
    script.write_text(SCRIPT.replace("{rounds}", str(ROUNDS)))
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, str(script)]
    procs = [
        subprocess.Popen([*argv, str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pouchsh_env(roots), cwd=REPO)
        for k in range(PROCESSES)
    ]
    outcomes: Counter[tuple[str, str]] = Counter()
    messages: dict[tuple[str, str], str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"Traceback" not in err
        for line in out.decode().splitlines():
            if line.startswith("@@ "):
                op, result, *message = line[3:].split(" ", 2)
                outcomes[(op, result)] += 1
                messages[(op, result)] = " ".join(message)
    unclean = {k: v for k, v in outcomes.items() if k[1] != "ok" and k[1] not in CLEAN.get(k[0], set())}
    assert not unclean, f"failures that are not clean: {unclean}: {[messages[k] for k in unclean]} (all: {dict(outcomes)})"
    per_round = 8  # statements per round; "rm-own" follows a successful run inside the same one
    assert sum(v for (op, _), v in outcomes.items() if op != "rm-own") == PROCESSES * ROUNDS * per_round
    assert outcomes[("rm-own", "ok")] == outcomes[("run", "ok")]
    assert outcomes[("create", "ok")] and outcomes[("rename", "ok")] and outcomes[("volume-rm", "ok")]

    facade = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    try:
        _check(facade, roots)
    finally:
        for c in facade.ctrd.containers.list():
            facade.containers.remove([c.id], force=True)
        facade.close()
    _no_ips(roots)


def _check(facade: Any, roots: tuple[Path, Path]) -> None:
    records = facade.ctrd.containers.list()
    names = [c.labels["pouchsh/name"] for c in records]
    assert len(names) == len(set(names)), f"a name is taken twice: {names}"
    store = sorted(p.name for p in (roots[0] / "names" / facade.namespace).iterdir() if p.name not in (".lock", ".boot"))
    assert store == sorted(names), "the name store and the containers disagree"
    volumes = {v["name"] for v in facade.volumes.list()}
    for c in records:
        for used in filter(None, c.labels.get("pouchsh/volumes", "").split(",")):
            assert used in volumes, f"container {c.labels['pouchsh/name']} lost its volume {used}"
    on_disk = {p.name for p in (roots[0] / "volumes" / facade.namespace).iterdir()}
    assert on_disk == volumes, "volume directories and the volume store disagree"
    expected_created = {f"v{k}{j}" for k in range(PROCESSES) for j in range(3)}
    assert expected_created <= volumes, "a volume that was created and never removed is gone"


def _no_ips(roots: tuple[Path, Path]) -> None:
    ipam = roots[0] / "networks" / "ipam"
    held = [str(p.relative_to(ipam)) for p in ipam.glob("*/*") if p.name[0].isdigit()] if ipam.exists() else []
    assert held == [], f"IP addresses still allocated after every container is gone: {held}"
