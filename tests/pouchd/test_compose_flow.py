"""The requests docker-compose 1.29 sends for `up -d` and `down -v` of a service with a named volume and
a user network (recorded in moby-api-wire.md §2.6), replayed through pouchd with docker-py's low-level
client (compose's own transport): its disconnect/connect of the created container to set aliases, the
labelled listing, stop with a timeout, removal with its volumes."""

from __future__ import annotations

import json

import docker
import pytest

from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd

PROJECT = {"com.docker.compose.project": "rec"}


def test_up_and_down_as_compose_sends_them(daemon: Daemon) -> None:
    api = daemon.api()
    try:
        with pytest.raises(docker.errors.NotFound):
            api.inspect_network("rec_appnet")
        with pytest.raises(docker.errors.NotFound):
            api.inspect_volume("rec_webdata")
        api.create_network("rec_appnet", check_duplicate=True, labels=PROJECT, attachable=True)
        api.create_volume("rec_webdata", labels=PROJECT)
        labels = {**PROJECT, "com.docker.compose.service": "web", "com.docker.compose.oneoff": "False"}
        cid = api.create_container(
            "busybox:latest", ["sh", "-c", "echo up > /data/mark; exec sleep 300"], name="rec_web_1",
            volumes=["/data"], labels=labels,
            host_config=api.create_host_config(network_mode="rec_appnet", binds=["rec_webdata:/data:rw"],
                                               port_bindings={}, links=[], volumes_from=[]),
            networking_config=api.create_networking_config({"rec_appnet": api.create_endpoint_config(aliases=["web"])}),
        )["Id"]
        api.disconnect_container_from_network(cid, "rec_appnet")
        api.connect_container_to_network(cid, "rec_appnet", aliases=[cid[:12], "web"])
        api.start(cid)
        listed = api.containers(all=True, filters={"label": ["com.docker.compose.project=rec",
                                                             "com.docker.compose.oneoff=False"]})
        assert [c["Id"] for c in listed] == [cid]
        inspect = api.inspect_container(cid)
        assert inspect["State"]["Running"] and "rec_appnet" in inspect["NetworkSettings"]["Networks"]
        wait_until(lambda: api.exec_start(api.exec_create(cid, ["cat", "/data/mark"])["Id"]) == b"up\n",
                   what="the service to write into its volume")
        # down -v
        api.stop(cid, timeout=1)
        api.remove_container(cid, v=True)
        api.remove_network("rec_appnet")
        api.remove_volume("rec_webdata")
        assert api.containers(all=True, filters={"label": "com.docker.compose.project=rec"}) == []
    finally:
        api.close()


def test_a_created_container_taken_off_its_network_starts_without_it(daemon: Daemon) -> None:
    api = daemon.api()
    try:
        api.create_network("offnet")
        cid = api.create_container("busybox", ["ls", "/sys/class/net"],
                                   host_config=api.create_host_config(network_mode="offnet"))["Id"]
        assert list(api.inspect_container(cid)["NetworkSettings"]["Networks"]) == ["offnet"]
        api.disconnect_container_from_network(cid, "offnet")
        assert api.inspect_container(cid)["NetworkSettings"]["Networks"] == {}
        with pytest.raises(docker.errors.NotFound):
            api.disconnect_container_from_network(cid, "offnet")
        api.start(cid)
        assert api.wait(cid, timeout=30)["StatusCode"] == 0
        assert api.logs(cid) == b"lo\n"
        api.remove_container(cid)
        api.remove_network("offnet")
    finally:
        api.close()


def test_aliases_from_the_shell_and_the_api_reach_peers_hosts(daemon: Daemon) -> None:
    """`network connect --alias` (the shell) and EndpointConfig.Aliases (the API) on containers not yet
    running: their peers' /etc/hosts name them by their aliases once they run; a bad alias is refused."""
    assert daemon.pouchsh("-c", "network create alnet").returncode == 0
    for name in ("al-db", "al-app"):
        done = daemon.pouchsh("-c", f"create --name {name} busybox sleep 300")
        assert done.returncode == 0, done.stderr
    done = daemon.pouchsh("-c", "network connect --alias db --alias store alnet al-db")
    assert done.returncode == 0, done.stderr
    bad = daemon.pouchsh("-c", "network connect --alias 'x y' alnet al-app")
    assert b"error[invalid-argument]" in bad.stderr
    status, _, body = daemon.request("POST", "/v1.41/networks/alnet/connect", body=json.dumps(
        {"Container": "al-app", "EndpointConfig": {"Aliases": ["evil\n1.2.3.4 host"]}}).encode())
    assert status == 400, body
    status, _, _ = daemon.request("POST", "/v1.41/networks/alnet/connect", body=json.dumps(
        {"Container": "al-app", "EndpointConfig": {"Aliases": ["front"]}}).encode())
    assert status == 200
    for name in ("al-db", "al-app"):
        assert daemon.pouchsh("-c", f"start {name}").returncode == 0
    hosts = daemon.docker("exec", "al-app", "cat", "/etc/hosts", check=True).stdout.decode()
    db_line = next(line for line in hosts.splitlines() if "al-db" in line)
    assert " db " in f" {db_line} ".replace("\t", " ") and "store" in db_line
    peer = daemon.docker("exec", "al-db", "cat", "/etc/hosts", check=True).stdout.decode()
    assert any("al-app" in line and "front" in line for line in peer.splitlines())
    assert "1.2.3.4" not in peer
    assert daemon.pouchsh("-c", "rm -f al-db al-app").returncode == 0
    assert daemon.pouchsh("-c", "network rm alnet").returncode == 0
