"""The requests docker-compose 1.29 sends for `up -d` and `down -v` of a service with a named volume and
a user network (recorded in moby-api-wire.md §2.6), replayed through pouchd with docker-py's low-level
client (compose's own transport): its disconnect/connect of the created container to set aliases, the
labelled listing, stop with a timeout, removal with its volumes."""

from __future__ import annotations

import json

import pytest

from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd

PROJECT = {"com.docker.compose.project": "rec"}


def test_up_and_down_as_compose_sends_them(daemon: Daemon) -> None:
    import docker

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


def test_a_created_container_taken_off_its_network_is_not_started_on_it(daemon: Daemon) -> None:
    api = daemon.api()
    try:
        api.create_network("offnet")
        cid = api.create_container("busybox", ["true"], host_config=api.create_host_config(network_mode="offnet"))["Id"]
        api.disconnect_container_from_network(cid, "offnet")
        status, _, body = daemon.request("POST", f"/v1.41/containers/{cid}/start")
        assert status == 409 and "disconnected from offnet" in json.loads(body)["message"]
        api.remove_container(cid)
        api.remove_network("offnet")
    finally:
        api.close()
