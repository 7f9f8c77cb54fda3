"""``upgrade`` against the real containerd: the same container from another image (name, environment,
published port, networks and aliases, named and anonymous volumes kept), or the old one back when the
new one is unhealthy, stops within the grace period, or its image does not exist; rolling upgrades of
a piped list."""

from __future__ import annotations

import json
import socket

import pytest

pytestmark = pytest.mark.containerd

S = 1_000_000_000


def value(shell, text: str):
    return json.loads(shell.run(f"{text} | to json"))


def image(shell, tmp_path, name: str, config: dict) -> None:
    from ctrd.imports import import_oci_layout
    from tests.support.images import build_busybox_layout

    import_oci_layout(shell.facade.ctrd, build_busybox_layout(tmp_path / name.replace(":", "_"), name=name, config=config))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_upgrade_keeps_identity_config_volumes_networks_and_ports(shell) -> None:
    port = free_port()
    shell.run("tag busybox busybox:2; network create upnet; volume create named")
    shell.run(f"run -d --name web -e A=1 -l app=web -p 127.0.0.1:{port}:80 -v named:/named -v /anon "
              "--restart always busybox sh -c 'echo kept > /anon/file; exec sleep 600'")
    shell.run("network connect --alias www upnet web")
    old = value(shell, "inspect web")
    new = value(shell, "upgrade web --image busybox:2 --grace 200ms")
    assert new["name"] == "web" and new["id"] != old["id"] and new["image"].endswith("busybox:2")
    assert new["status"] == "running" and new["restart"] == "always" and new["labels"] == {"app": "web"}
    assert "A=1" in value(shell, "inspect web | get env")
    assert value(shell, "port web") == old["ports"] and old["ports"][0]["host_port"] == port
    assert sorted(new["networks"]) == ["bridge", "upnet"]
    assert json.loads(value(shell, "inspect web | get all_labels")["pouchsh/network-aliases"])["upnet"] == ["www"]
    assert {m["destination"]: m["name"] for m in new["mounts"]} == {m["destination"]: m["name"] for m in old["mounts"]}
    shell.run("exec web cat /anon/file")
    assert value(shell, "ps -a | length") == 1


def test_an_unhealthy_new_container_brings_the_old_one_back(shell, tmp_path) -> None:
    image(shell, tmp_path, "docker.io/library/sick:1", {"Healthcheck": {"Test": ["CMD-SHELL", "exit 1"],
                                                                          "Interval": S // 10, "Retries": 1}})
    shell.run("run -d --name svc busybox sleep 600")
    old = value(shell, "inspect svc | get id")
    assert shell.kind("upgrade svc --image sick:1 --timeout 1m") == "runtime"
    rows = value(shell, "ps -a --no-trunc")
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [(old, "svc", "running")]


def test_a_new_container_that_stops_within_the_grace_period_is_rolled_back(shell, tmp_path) -> None:
    image(shell, tmp_path, "docker.io/library/crashes:1", {"Entrypoint": ["false"]})
    shell.run("run -d --name svc busybox sleep 600")
    assert shell.kind("upgrade svc --image crashes:1 --grace 1s") == "runtime"
    assert [(r["name"], r["status"]) for r in value(shell, "ps -a")] == [("svc", "running")]


def test_an_image_that_does_not_exist_touches_nothing(shell) -> None:
    shell.run("run -d --name svc --pull never busybox sleep 600")
    assert shell.kind("upgrade svc --image no-such-image:9") == "not-found"
    assert [(r["name"], r["status"]) for r in value(shell, "ps -a")] == [("svc", "running")]


def test_a_rolling_upgrade_of_a_piped_list(shell) -> None:
    shell.run("tag busybox busybox:3")
    shell.run("for i in 1..3 { run -d --name \"r$i\" -l app=web busybox sleep 600 }; run -d --name other busybox sleep 600")
    done = value(shell, "ps --filter label=app=web | upgrade --image busybox:3 --max-parallel 2 --grace 100ms")
    assert sorted(r["name"] for r in done) == ["r1", "r2", "r3"]
    images = {r["name"]: r["image"] for r in value(shell, "ps -a")}
    assert all(images[f"r{i}"].endswith("busybox:3") for i in (1, 2, 3)) and images["other"].endswith("busybox:latest")


def test_a_rolling_upgrade_stops_at_the_first_failure(shell, tmp_path) -> None:
    image(shell, tmp_path, "docker.io/library/crashes:2", {"Entrypoint": ["false"]})
    shell.run("for i in 1..3 { run -d --name \"f$i\" -l app=f busybox sleep 600 }")
    assert shell.kind("ps --filter label=app=f | upgrade --image crashes:2 --grace 500ms") == "runtime"
    rows = value(shell, "ps -a")
    assert sorted((r["name"], r["status"]) for r in rows) == [("f1", "running"), ("f2", "running"), ("f3", "running")]
    assert all(r["image"].endswith("busybox:latest") for r in rows)
