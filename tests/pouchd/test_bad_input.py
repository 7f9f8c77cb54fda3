"""Hostile and broken requests: each gets a clear status and a {"message"}, nothing is half-made, and
the server keeps serving (every test ends by checking that it still answers)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.pouchd.conftest import Daemon, UnixHTTPConnection, wait_until

pytestmark = pytest.mark.containerd

JSON = {"Content-Type": "application/json"}


def _message(body: bytes) -> str:
    parsed = json.loads(body)
    assert set(parsed) == {"message"}
    return str(parsed["message"])


def _containers(daemon: Daemon) -> list[dict[str, object]]:
    status, _, body = daemon.request("GET", "/v1.41/containers/json?all=1")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _still_serving(daemon: Daemon) -> object:
    yield
    assert daemon.alive()
    assert daemon.request("GET", "/_ping")[0] == 200


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"", 400, "body is required"),
        (json.dumps({"Image": "busybox", "Cmd": 5}).encode(), 400, "Cmd"),
        (json.dumps({"Image": 7}).encode(), 400, "Image"),
        (json.dumps({"Image": "busybox", "HostConfig": "nope"}).encode(), 400, "HostConfig"),
        (json.dumps({"Image": "busybox", "HostConfig": {"Memory": "lots"}}).encode(), 400, "Memory"),
        (json.dumps({"Image": "busybox", "Labels": []}).encode(), 400, "Labels"),
        # fields no run flag has (CpuShares and OomScoreAdj, which have one, are mapped: test_create_flags)
        (json.dumps({"Image": "busybox", "HostConfig": {"CpuQuota": 5000, "BlkioWeight": 300}}).encode(), 400,
         "HostConfig.BlkioWeight, HostConfig.CpuQuota"),
        (json.dumps({"Image": "busybox", "Healthcheck": {"Test": ["CMD-SHELL"]}}).encode(), 400, "healthcheck test"),
        (json.dumps({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "on-failure",
                                                                          "MaximumRetryCount": 3}}}).encode(),
         400, "MaximumRetryCount"),
        (json.dumps({"Image": "nosuchimage:1"}).encode(), 404, "No such image: nosuchimage:1"),
    ],
)
def test_bad_create_bodies_make_nothing(daemon: Daemon, body: bytes, status: int, words: str) -> None:
    before = _containers(daemon)
    got, headers, reply = daemon.request("POST", "/v1.41/containers/create?name=bad1", body=body, headers=JSON)
    assert got == status, reply
    assert headers["Content-Type"] == "application/json"
    assert words in _message(reply)
    assert _containers(daemon) == before


def test_bad_names_and_absurd_sizes(daemon: Daemon) -> None:
    body = json.dumps({"Image": "busybox"}).encode()
    for name in ("a/b", "x" * 5000, "-lead", "..", "bad%00name"):
        status, _, reply = daemon.request("POST", f"/v1.41/containers/create?name={name}", body=body, headers=JSON)
        assert status == 400, (name, reply)
    huge = json.dumps({"Image": "busybox", "Env": ["X=" + "y" * (5 << 20)]}).encode()
    status, _, reply = daemon.request("POST", "/v1.41/containers/create", body=huge, headers=JSON)
    assert status == 413 and "too large" in _message(reply)
    status, _, reply = daemon.request("GET", "/v1.41/containers/json?limit=many")
    assert status == 400 and "limit" in _message(reply)
    status, _, reply = daemon.request("GET", "/v1.41/containers/json?filters=%7Bbroken")
    assert status == 400 and "filters" in _message(reply)
    status, _, reply = daemon.request("GET", "/v1.41/containers/json?all=maybe")
    assert status == 400 and "all" in _message(reply)


def test_api_versions_and_unknown_paths(daemon: Daemon) -> None:
    for path in ("/v1.24/version", "/v1.41/version", "/version"):
        status, headers, body = daemon.request("GET", path)
        assert status == 200 and headers["Api-Version"] == "1.41"
        assert json.loads(body)["ApiVersion"] == "1.41"
    status, _, body = daemon.request("GET", "/v1.99/version")
    assert status == 400 and "too new" in _message(body)
    status, _, body = daemon.request("GET", "/v1.20/containers/json")
    assert status == 400 and "too old" in _message(body)
    status, _, body = daemon.request("GET", "/v2.0/version")
    assert status == 400
    status, _, body = daemon.request("GET", "/v1.41/no/such/endpoint")
    assert status == 404 and _message(body)
    status, _, body = daemon.request("PATCH", "/v1.41/containers/json")
    assert status == 405 and _message(body)
    status, _, body = daemon.request("POST", "/v1.41/build")
    assert status == 501 and "not implemented" in _message(body)
    status, headers, body = daemon.request("HEAD", "/_ping")
    assert status == 200 and headers["Api-Version"] == "1.41" and body == b""


def test_missing_objects_are_404_json(daemon: Daemon) -> None:
    for method, path in (("GET", "/containers/nosuch/json"), ("POST", "/containers/nosuch/start"),
                         ("POST", "/containers/nosuch/stop"), ("DELETE", "/containers/nosuch"),
                         ("GET", "/containers/nosuch/logs?stdout=1"), ("POST", "/containers/nosuch/wait"),
                         ("GET", "/images/nosuch/json"), ("GET", "/volumes/nosuch"), ("GET", "/networks/nosuch"),
                         ("GET", "/exec/nosuch/json"), ("GET", "/containers/nosuch/archive?path=/")):
        status, _, body = daemon.request(method, "/v1.41" + path)
        assert status == 404, (method, path, body)
        assert _message(body)


def test_clients_that_leave_mid_stream(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "leaver", "busybox", "sh", "-c",
                  "while true; do echo tick; sleep 0.05; done", check=True)
    try:
        for path in ("/v1.41/containers/leaver/logs?stdout=1&follow=1", "/v1.41/events",
                     "/v1.41/containers/leaver/wait"):
            method = "POST" if path.endswith("wait") else "GET"
            for _ in range(5):
                conn = UnixHTTPConnection(daemon.socket, timeout=10)
                conn.request(method, path)
                response = conn.getresponse()
                assert response.status == 200
                if "logs" in path:
                    assert response.read(9)  # some of the stream, then gone
                conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
                conn.close()
        # a half-made hijack: the client asks to attach, then vanishes before reading anything
        for _ in range(3):
            raw = socket.socket(socket.AF_UNIX)
            raw.connect(daemon.socket)
            raw.sendall(b"POST /v1.41/containers/leaver/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\n"
                        b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
            raw.close()
        assert daemon.docker("exec", "leaver", "echo", "still", check=True).stdout == b"still\n"
        state = json.loads(daemon.docker("inspect", "leaver", check=True).stdout)[0]["State"]
        assert state["Running"] is True
    finally:
        daemon.docker("rm", "-f", "leaver")
    # `docker run` killed while attached: the container still runs to its end and is removed (--rm)
    import signal
    import subprocess

    runner = subprocess.Popen(["docker", "run", "--rm", "--name", "orphan", "busybox", "sh", "-c",
                               "echo started; sleep 1"], stdout=subprocess.PIPE, env=daemon.env())
    assert runner.stdout is not None
    assert runner.stdout.readline() == b"started\n"
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    wait_until(lambda: all("/orphan" not in c["Names"] for c in _containers(daemon)), timeout=30,  # type: ignore[operator]
               what="the orphaned --rm container to go")
