"""Bug 2: ``rename`` on a user network: the peers' /etc/hosts (and the container's own) follow the new
name, the old one is gone from them, and a kill -9 between the label and the files is finished by the
next invocation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.networks.fixtures import run, run_detached, unique
from tests.networks.test_networks import free_subnet

pytestmark = pytest.mark.containerd


def _hosts(m: Any, cid: str) -> str:
    return (m.root / "containers" / m.namespace / cid / "hosts").read_text()


def _network(m: Any) -> str:
    name = unique("ren")
    m.networks.create(name, subnet=free_subnet(m), options={"bridge": unique()})
    return name


def test_peers_hosts_follow_a_rename(mgr: Any, busybox_image: str) -> None:
    net = _network(mgr)
    a = run_detached(mgr, busybox_image, "sleep", "300", name="oldname", network=net)
    b = run_detached(mgr, busybox_image, "sleep", "300", name="peer", network=net)
    assert "oldname" in _hosts(mgr, b["id"])
    mgr.containers.rename("oldname", "newname")
    for cid in (a["id"], b["id"]):
        text = _hosts(mgr, cid)
        assert "newname" in text and "oldname" not in text, text
    # name resolution inside a peer follows it
    code, out = run(mgr, busybox_image, "ping", "-c", "1", "-W", "3", "newname", network=net, rm=True)
    assert code == 0, out
    code, _ = run(mgr, busybox_image, "ping", "-c", "1", "-W", "3", "oldname", network=net, rm=True)
    assert code != 0
    # a stopped container renamed: its next attach uses the new name
    mgr.containers.stop(["peer"], timeout=0)
    mgr.containers.rename("peer", "peer2")
    mgr.containers.start(["peer2"])
    text = _hosts(mgr, a["id"])
    assert "peer2" in text and "peer\t" not in text and not text.rstrip().endswith("peer"), text


def test_a_rename_killed_before_the_hosts_files_is_finished(mgr: Any, busybox_image: str, containerd_address: str) -> None:
    net = _network(mgr)
    a = run_detached(mgr, busybox_image, "sleep", "300", name="before", network=net)
    b = run_detached(mgr, busybox_image, "sleep", "300", name="watcher", network=net)
    env = {"POUCHSH_ROOT": str(mgr.root), "POUCHSH_RUN": str(mgr.run_root)}
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", mgr.namespace, "-c"]
    repo = Path(__file__).resolve().parents[2]
    base = {k: v for k, v in os.environ.items() if k != "CONTAINERD_NAMESPACE"}
    killed = subprocess.run([*argv, "rename before after"], env={**base, **env, "POUCHSH_FAULT": "network.rename.labelled"},
                            cwd=repo, capture_output=True, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "before" in _hosts(mgr, b["id"])  # the label changed, the files not yet
    done = subprocess.run([*argv, "ps -a"], env={**base, **env}, cwd=repo, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    text = _hosts(mgr, b["id"])
    assert "after" in text and "before" not in text, text
    assert mgr.ctrd.containers.get(a["id"]).labels["pouchsh/name"] == "after"
