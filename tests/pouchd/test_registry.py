"""docker push and pull through pouchd against Debian's docker-registry on loopback."""

from __future__ import annotations

import json

import pytest

from tests.images.conftest import registry  # noqa: F401 (the module's registry)
from tests.pouchd.conftest import Daemon

pytestmark = pytest.mark.containerd


def test_push_then_pull_and_run(daemon: Daemon, registry: str) -> None:  # noqa: F811
    ref = f"{registry}/test/bb:v1"
    # docker login goes through POST /auth: checked against the registry, stored as pouchsh's login is
    login = daemon.docker("login", "-u", "tester", "--password-stdin", registry, input=b"secret\n")
    assert login.returncode == 0 and b"Login Succeeded" in login.stdout, login.stderr
    daemon.docker("tag", "busybox:latest", ref, check=True)
    pushed = daemon.docker("push", ref, check=True)
    assert b"digest: sha256:" in pushed.stdout
    daemon.docker("rmi", ref, check=True)
    pulled = daemon.docker("pull", ref, check=True)
    assert f"Downloaded newer image for {ref}".encode() in pulled.stdout
    assert daemon.docker("run", "--rm", ref, "echo", "from-registry", check=True).stdout == b"from-registry\n"
    # the progress stream is docker's: one JSON object a line
    status, headers, body = daemon.request("POST", f"/v1.41/images/create?fromImage={registry}/test/bb&tag=v1",
                                           headers={"X-Registry-Auth": "e30="})
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    lines = [json.loads(line) for line in body.split(b"\r\n") if line]
    assert lines and all("status" in line or "error" in line for line in lines)
    missing = daemon.docker("pull", f"{registry}/test/bb:nosuchtag")
    assert missing.returncode == 1 and b"Error response from daemon" in missing.stderr
    bad = daemon.request("POST", f"/v1.41/images/create?fromImage={registry}/test/bb&tag=v1",
                         headers={"X-Registry-Auth": "%%%not-base64"})
    assert bad[0] == 400
    daemon.docker("rmi", ref, check=True)
