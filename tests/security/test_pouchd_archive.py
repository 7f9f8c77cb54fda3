"""pouchd's side of the host boundary: docker cp's archive endpoints resolve every path inside the
container's root (a `..` never reaches the host), and a tar uploaded by a client cannot write outside the
directory it is extracted into."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.pouchd.conftest import Daemon, daemon

__all__ = ["daemon"]

pytestmark = pytest.mark.containerd


def _message(body: bytes) -> str:
    parsed = json.loads(body)
    assert set(parsed) == {"message"}
    return str(parsed["message"])


def test_archive_paths_cannot_leave_the_container(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("run", "-d", "--name", "arch1", "--hostname", "inside-box", "busybox", "sleep", "300", check=True)
    try:
        for path in ("/../../../../etc/hostname", "/etc/../../../etc/hostname"):
            status, headers, body = daemon.request("GET", f"/v1.41/containers/arch1/archive?path={path}")
            assert status == 200
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                member = tar.extractfile(tar.getmembers()[0])
                assert member is not None
                assert member.read().strip() == b"inside-box"  # the container's file, not the host's
            stat = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
            assert stat["name"] == "hostname" and stat["mode"] & 0o777
        marker = f"escape-{uuid.uuid4().hex}"
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for name in (f"../../../../tmp/{marker}", f"/tmp/{marker}-abs"):
                info = tarfile.TarInfo(name)
                info.size = 3
                tar.addfile(info, io.BytesIO(b"bad"))
        status, _, body = daemon.request("PUT", "/v1.41/containers/arch1/archive?path=/tmp", body=data.getvalue(),
                                         headers={"Content-Type": "application/x-tar"})
        assert not Path(f"/tmp/{marker}").exists() and not Path(f"/tmp/{marker}-abs").exists()
        assert status in (200, 400), body
        status, _, body = daemon.request("GET", "/v1.41/containers/arch1/archive")
        assert status == 400 and "path" in _message(body)
        status, _, body = daemon.request("PUT", "/v1.41/containers/arch1/archive?path=/tmp", body=b"not a tar" * 100,
                                         headers={"Content-Type": "application/x-tar"})
        assert status in (400, 500) and _message(body)
    finally:
        daemon.docker("rm", "-f", "arch1")
