"""create/run wired to the volume and network managers."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument, NotFound
from tests.containers.helpers import EMPTY, leftovers, opts, stdio

pytestmark = pytest.mark.containerd


def test_volumes_binds_and_tmpfs(mgr: Any, roots: Any, tmp_path: Path) -> None:
    c = mgr.containers
    host_dir = tmp_path / "bind"
    host_dir.mkdir()
    (host_dir / "f").write_text("bound\n")
    out = stdio()
    code = c.run(
        opts("sh", "-c", "echo kept > /data/x; cat /b/f; touch /b/ro 2>/dev/null || echo ro; mount | grep -c ' /scratch type tmpfs'",
             name="writer", volumes=["store:/data", f"{host_dir}:/b:ro", "/anon"], tmpfs=["/scratch"]),
        detach=False, stdio=out,
    )
    assert code == 0 and out.stdout.getvalue() == b"bound\nro\n1\n"
    record = c.inspect("writer")
    kinds = {m["destination"]: m["type"] for m in record["mounts"]}
    assert kinds == {"/data": "volume", "/b": "bind", "/anon": "volume", "/scratch": "tmpfs"}
    assert {m["destination"]: m["rw"] for m in record["mounts"]}["/b"] is False
    assert c.list(all=True, filters=["volume=store"])[0]["name"] == "writer"

    out = stdio()
    assert c.run(opts("cat", "/data/x", volumes_from=["writer:ro"], rm=True), detach=False, stdio=out) == 0
    assert out.stdout.getvalue() == b"kept\n"

    anonymous = next(m["name"] for m in record["mounts"] if m["destination"] == "/anon")
    c.remove(["writer"], volumes=True)
    names = [v["name"] for v in mgr.volumes.list()]
    assert "store" in names and anonymous not in names  # named volumes stay, anonymous ones go with -v
    mgr.volumes.remove(["store"])
    assert leftovers(mgr, roots) == EMPTY


def test_a_bad_volume_spec_leaves_nothing(mgr: Any, roots: Any) -> None:
    with pytest.raises(InvalidArgument):
        mgr.containers.run(opts("true", name="v", volumes=["/does/not/exist:/x"]), detach=True)
    with pytest.raises(NotFound):
        mgr.containers.run(opts("true", name="v", volumes_from=["nobody"]), detach=True)
    assert leftovers(mgr, roots) == EMPTY
    assert mgr.volumes.list() == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bridge_network_and_published_port(mgr: Any, roots: Any) -> None:
    c = mgr.containers
    port = _free_port()
    record = c.run(
        opts("sh", "-c", "echo hello-from-httpd > /tmp/index.html; httpd -f -p 80 -h /tmp",
             name="web", network="bridge", publish=[f"127.0.0.1:{port}:80"], hostname="webhost"),
        detach=True,
    )
    assert record["networks"] == ["bridge"]
    assert record["ports"] == [{"host_ip": "127.0.0.1", "host_port": port, "container_port": 80, "protocol": "tcp"}]
    assert c.port("web", "80/tcp")[0]["host_port"] == port
    out = stdio()
    assert c.exec("web", ["sh", "-c", "ip -4 addr show eth0 | grep -c inet; hostname"], stdio=out) == 0
    assert out.stdout.getvalue() == b"1\nwebhost\n"
    deadline = time.monotonic() + 10
    body = b""
    while time.monotonic() < deadline and b"hello-from-httpd" not in body:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                body = s.recv(4096)
        except OSError:
            time.sleep(0.1)
    assert b"hello-from-httpd" in body
    assert "network_settings" in c.inspect("web")
    c.stop(["web"], timeout=1)
    c.start(["web"])  # the network is attached again
    out = stdio()
    assert c.exec("web", ["sh", "-c", "ip -4 addr show eth0 | grep -c inet"], stdio=out) == 0
    c.remove(["web"], force=True)
    assert leftovers(mgr, roots) == EMPTY


def test_network_flags_are_validated_before_anything_is_made(mgr: Any, roots: Any) -> None:
    with pytest.raises(InvalidArgument):
        mgr.containers.run(opts("true", network="bridge", publish=["notaport"]), detach=True)
    with pytest.raises(NotFound):
        mgr.containers.run(opts("true", network="nonet"), detach=True)
    assert leftovers(mgr, roots) == EMPTY


def test_host_network(mgr: Any) -> None:
    out = stdio()
    code = mgr.containers.run(opts("hostname", network="host", rm=True), detach=False, stdio=out)
    assert code == 0 and out.stdout.getvalue().strip() == socket.gethostname().encode()


def test_a_restartable_container_gets_its_network_back_when_containerd_restarts_it(mgr: Any, roots: Any) -> None:
    c = mgr.containers
    script = "ip -4 addr show eth0 | grep -c inet; sleep 0.5; exit 1"
    record = c.run(opts("sh", "-c", script, name="phoenix", network="bridge", restart="always"), detach=True)
    assert c.inspect("phoenix")["spec"]["hooks"]["createRuntime"]
    first = record["pid"]
    # containerd's restart monitor looks every 10 s; the new task must come up on the network by itself.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = c.list(all=True)[0]
        if now["status"] == "running" and now["pid"] != first:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("containerd did not restart the container")
    deadline = time.monotonic() + 10
    while c.logs("phoenix").split() != ["1", "1"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.logs("phoenix").split() == ["1", "1"]  # an address on eth0 both times
    c.remove(["phoenix"], force=True)
    assert leftovers(mgr, roots) == EMPTY


def test_mount_dns_add_host_and_ip(mgr: Any, roots: Any, tmp_path: Path) -> None:
    import ipaddress

    subnet = ipaddress.ip_network(mgr.networks.ensure_default()["subnet"])
    ip = str(subnet.network_address + 200)
    (tmp_path / "data").mkdir()
    out = stdio()
    code = mgr.containers.run(
        opts("sh", "-c", "cat /etc/resolv.conf /etc/hosts; ip -4 addr show eth0; ls /m",
             network="bridge", dns=["192.0.2.53"], add_host=["db.example:192.0.2.7"], ip=ip,
             mounts=[f"type=bind,source={tmp_path / 'data'},target=/m,readonly"], rm=True),
        detach=False, stdio=out,
    )
    text = out.stdout.getvalue().decode()
    assert code == 0, out.stderr.getvalue()
    assert "nameserver 192.0.2.53" in text and "192.0.2.7" in text and "db.example" in text
    assert f"inet {ip}/" in text
    assert leftovers(mgr, roots) == EMPTY
