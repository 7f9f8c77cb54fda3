"""Containers on networks and volumes, end to end through the container manager: reachability by IP
and name, published ports on 127.0.0.1, network connect, data surviving its container, read-only binds."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import Conflict
from tests.networks.fixtures import run, run_detached, unique
from tests.networks.test_networks import free_subnet

pytestmark = pytest.mark.containerd

SERVE = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def fetch(host: str, wait: int = 5, tries: int = 50) -> list[str]:
    """An HTTP GET with busybox nc (busybox-static's wget crashes on this platform), retried while the
    server may still be starting (a poll with a bound, inside the client container)."""
    get = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w {wait} {host} 80"
    return ["sh", "-c", f"i=0; while [ $i -lt {tries} ]; do {get} && exit 0; i=$((i+1)); sleep 0.1; done; exit 1"]


def _network(m: Any, name: str) -> str:
    m.networks.create(name, subnet=free_subnet(m), options={"bridge": unique()})
    return name


def test_two_containers_reach_each_other_by_ip_and_name(mgr: Any, busybox_image: str) -> None:
    net = _network(mgr, "shop")
    web = run_detached(mgr, busybox_image, "sh", "-c", SERVE, name="web", network=net, hostname="web")
    ip = mgr.networks.networks_of(web["id"])[net]["ip"]
    code, out = run(mgr, busybox_image, *fetch(ip), network=net, rm=True)
    assert code == 0 and out.strip().endswith("hello-from-web")
    code, out = run(mgr, busybox_image, *fetch("web"), network=net, rm=True)
    assert code == 0 and out.strip().endswith("hello-from-web")
    code, out = run(mgr, busybox_image, "ping", "-c", "1", "-W", "3", "web", network=net, rm=True)
    assert code == 0, out
    mgr.containers.remove([web["id"]], force=True)
    assert mgr.networks.ipam_leases(net) == []


def test_a_published_port_serves_on_loopback(mgr: Any, busybox_image: str) -> None:
    web = run_detached(mgr, busybox_image, "sh", "-c", SERVE, name="pub", hostname="pub", publish=["127.0.0.1::80"])
    mapping = json.loads(mgr.ctrd.containers.get(web["id"]).labels["pouchsh/ports"])[0]
    url = f"http://127.0.0.1:{mapping['host_port']}/"
    body = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # httpd needs a moment to bind after the task starts
        try:
            body = urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    assert body.strip() == b"hello-from-pub"
    with pytest.raises(Conflict, match="already published"):
        run_detached(mgr, busybox_image, "true", publish=[f"127.0.0.1:{mapping['host_port']}:80"])
    assert [c.id for c in mgr.ctrd.containers.list()] == [web["id"]]  # the refused run left nothing


def test_network_connect_makes_a_running_container_reachable(mgr: Any, busybox_image: str) -> None:
    front, back = _network(mgr, "front"), _network(mgr, "back")
    api = run_detached(mgr, busybox_image, "sh", "-c", SERVE, name="api", hostname="api", network=front)
    code, _ = run(mgr, busybox_image, *fetch("api", 2, tries=1), network=back, rm=True)
    assert code != 0
    networks = mgr.networks.connect(back, "api")
    assert set(networks) == {front, back}
    code, out = run(mgr, busybox_image, *fetch("api"), network=back, rm=True)
    assert code == 0 and out.strip().endswith("hello-from-api")
    assert mgr.ctrd.containers.get(api["id"]).labels["pouchsh/networks"] == f"{front},{back}"
    mgr.networks.disconnect(back, "api")
    assert mgr.networks.ipam_leases(back) == []
    mgr.containers.remove([api["id"]], force=True)


def test_volume_data_survives_its_container(mgr: Any, busybox_image: str) -> None:
    code, _ = run(mgr, busybox_image, "sh", "-c", "echo kept > /data/f", volumes=["keep:/data"], rm=True)
    assert code == 0
    code, out = run(mgr, busybox_image, "cat", "/data/f", volumes=["keep:/data"], rm=True)
    assert (code, out.strip()) == (0, "kept")
    assert (Path(mgr.volumes.inspect("keep")["mountpoint"]) / "f").read_text() == "kept\n"


def test_a_read_only_bind_mount_is_read_only(mgr: Any, busybox_image: str, tmp_path: Path) -> None:
    host = tmp_path / "site"
    host.mkdir()
    (host / "in").write_text("x")
    code, out = run(mgr, busybox_image, "sh", "-c", "cat /site/in && echo y > /site/out", volumes=[f"{host}:/site:ro"], rm=True)
    assert code != 0 and out.startswith("x")
    assert not (host / "out").exists()


def test_a_cni_failure_during_run_leaves_nothing(mgr: Any, busybox_image: str) -> None:
    import subprocess

    from ctrd.errors import PouchError

    bridge = unique()
    mgr.networks.create("broken", subnet=free_subnet(mgr), options={"bridge": bridge})
    # The bridge plugin refuses a device of that name that is not a bridge: ADD fails after task create.
    subprocess.run(["ip", "link", "del", bridge], check=True)
    subprocess.run(["ip", "link", "add", bridge, "type", "veth", "peer", "name", bridge + "p"], check=True)
    with pytest.raises(PouchError, match="bridge"):
        run_detached(mgr, busybox_image, "sleep", "300", name="doomed", network="broken", volumes=["/anon"])
    assert mgr.ctrd.containers.list() == []
    assert mgr.ctrd.tasks.list() == []
    assert [s.name for s in mgr.ctrd.snapshots.list() if not s.name.startswith("sha256:")] == []
    assert mgr.networks.ipam_leases("broken") == []
    assert mgr.networks.store.read().get("attachments", {}) == {}
    assert mgr.volumes.list() == []
    mgr.networks.remove(["broken"])
    assert not Path("/sys/class/net", bridge).exists()
