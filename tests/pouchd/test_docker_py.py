"""docker-py (high- and low-level clients) against pouchd: the calls CI jobs and testcontainers make."""

from __future__ import annotations

import pytest

from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd


def test_high_level_client(daemon: Daemon) -> None:
    import docker

    client = daemon.client()
    try:
        assert client.version()["ApiVersion"] == "1.41"
        assert client.ping() is True
        assert client.containers.run("busybox", ["echo", "py-hi"], remove=True) == b"py-hi\n"
        c = client.containers.run("busybox", ["sh", "-c", "echo ready; exec sleep 300"], detach=True, name="pyc",
                                  labels={"suite": "pouchd"})
        wait_until(lambda: b"ready" in c.logs(), what="the container's output")
        c.reload()
        assert c.status == "running" and c.name == "pyc" and c.labels == {"suite": "pouchd"}
        result = c.exec_run(["sh", "-c", "echo e1; echo e2 >&2; exit 2"])
        # two pipes: their order is not kept between the streams
        assert result.exit_code == 2 and sorted(result.output.splitlines()) == [b"e1", b"e2"]
        assert [x.name for x in client.containers.list(filters={"label": "suite=pouchd"})] == ["pyc"]
        assert client.containers.list(filters={"label": "suite=other"}) == []
        c.stop(timeout=1)
        assert c.wait()["StatusCode"] == 137
        c.remove(force=True)
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("pyc")
        volume = client.volumes.create("pyvol", labels={"k": "v"})
        assert client.volumes.get("pyvol").attrs["Labels"] == {"k": "v"}
        volume.remove()
        network = client.networks.create("pynet", driver="bridge")
        assert client.networks.get(network.id).name == "pynet"
        network.remove()
        assert any("busybox:latest" in image.tags for image in client.images.list())
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("nosuch:1")
    finally:
        client.close()


def test_low_level_client(daemon: Daemon) -> None:
    api = daemon.api()
    try:
        cid = api.create_container("busybox", ["sh", "-c", "echo low; exit 7"])["Id"]
        api.start(cid)
        assert api.wait(cid)["StatusCode"] == 7
        assert api.logs(cid) == b"low\n"
        assert api.inspect_container(cid)["State"]["ExitCode"] == 7
        api.remove_container(cid)
        cid = api.create_container("busybox", ["sleep", "300"], host_config=api.create_host_config(auto_remove=False))["Id"]
        api.start(cid)
        exec_id = api.exec_create(cid, ["cat"], stdin=True)["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw = sock._sock
        raw.sendall(b"through the socket\n")
        import socket as socketlib

        raw.shutdown(socketlib.SHUT_WR)  # stdin's end: cat exits, the stream ends
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
        raw.close()
        # multiplexed: an 8-byte header (stream 1 = stdout, size) before the payload
        assert data[:1] == b"\x01" and data[8:] == b"through the socket\n"
        assert api.exec_inspect(exec_id)["ExitCode"] == 0
        top = api.top(cid)
        assert top["Processes"] and "sleep" in " ".join(" ".join(p) for p in top["Processes"])
        api.rename(cid, "renamed")
        assert api.inspect_container("renamed")["Id"] == cid
        api.kill(cid)
        api.remove_container(cid, force=True)
    finally:
        api.close()


def test_attach_socket_before_start(daemon: Daemon) -> None:
    """docker-py's attach_socket on a created container, then start: the output arrives on it."""
    api = daemon.api()
    try:
        cid = api.create_container("busybox", ["sh", "-c", "echo attached-out; echo attached-err >&2"])["Id"]
        sock = api.attach_socket(cid, params={"stdout": 1, "stderr": 1, "stream": 1})
        api.start(cid)
        raw = sock._sock
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
        raw.close()
        frames = []
        while data:
            kind, size = data[0], int.from_bytes(data[4:8], "big")
            frames.append((kind, data[8:8 + size]))
            data = data[8 + size:]
        assert (1, b"attached-out\n") in frames and (2, b"attached-err\n") in frames
        assert api.wait(cid)["StatusCode"] == 0
        api.remove_container(cid)
    finally:
        api.close()
