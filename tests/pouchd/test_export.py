"""`GET /containers/{id}/export` (docker export): the container's own filesystem as a tar, running or
stopped; its volumes, /proc and /sys are not in it; what the container deleted from its image is not in
it; links it made are archived as links, never followed (nothing of the host's comes out); a client that
leaves mid-stream leaves the server serving."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.pouchd.conftest import Daemon, UnixHTTPConnection, wait_until

pytestmark = pytest.mark.containerd

SETUP = ("echo mine > /hello && echo vol > /data/in-volume && rm /etc/group && mkfifo /pipe && "
         "ln -s / /rootlink && ln -s /etc/shadow /shadowlink && ln -s ../../../../etc/hostname /up && "
         "ln /hello /hardlink && touch /ready && exec sleep 300")


def exported(daemon: Daemon, ref: str, tmp_path: Path) -> dict[str, tarfile.TarInfo | bytes]:
    target = tmp_path / f"{ref}.tar"
    daemon.docker("export", "-o", str(target), ref, check=True)
    out: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(target) as tar:
        for member in tar:
            out[member.name] = member
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                out[member.name + "#content"] = f.read()
    return out


def test_export_running_then_stopped(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("run", "-d", "--name", "exp1", "-v", "expvol:/data", "busybox", "sh", "-c", SETUP, check=True)
    wait_until(lambda: daemon.docker("exec", "exp1", "test", "-e", "/ready").returncode == 0,
               what="the container to set its files up")
    try:
        for state in ("running", "stopped"):
            if state == "stopped":
                daemon.docker("stop", "-t", "1", "exp1", check=True)
            entries = exported(daemon, "exp1", tmp_path)
            # the walk is in name order: hardlink is the file, hello the link to it
            assert entries["hardlink#content"] == b"mine\n", state
            hello = entries["hello"]
            assert isinstance(hello, tarfile.TarInfo) and hello.islnk() and hello.linkname == "hardlink"
            assert "bin/busybox" in entries and "etc/passwd" in entries
            assert "etc/group" not in entries, "deleted from the image: its whiteout must hide it"
            assert not any(n.startswith("data/") for n in entries), "a volume is not the container's own"
            assert not any(n.startswith(("proc/", "sys/")) for n in entries)
            assert not any(n.startswith("./") or n.startswith("/") for n in entries)
            pipe = entries["pipe"]
            assert isinstance(pipe, tarfile.TarInfo) and pipe.isfifo()
            for name, target in (("rootlink", "/"), ("shadowlink", "/etc/shadow"), ("up", "../../../../etc/hostname")):
                link = entries[name]
                assert isinstance(link, tarfile.TarInfo) and link.issym() and link.linkname == target
            host_shadow = Path("/etc/shadow").read_bytes() if Path("/etc/shadow").exists() else None
            if host_shadow:
                assert all(v != host_shadow for k, v in entries.items() if k.endswith("#content"))
    finally:
        daemon.docker("rm", "-f", "exp1", check=True)
        daemon.docker("volume", "rm", "expvol", check=True)


def test_export_of_a_missing_container_is_404(daemon: Daemon) -> None:
    status, _, body = daemon.request("GET", "/v1.41/containers/no-such-thing/export")
    assert status == 404 and b"no such container" in body.lower()


def test_a_client_leaving_mid_export_leaves_the_server_serving(daemon: Daemon) -> None:
    # a container whose filesystem is larger than the pipe between the walk and the client
    daemon.docker("run", "--name", "exp2", "busybox", "sh", "-c",
                  "i=0; while [ $i -lt 64 ]; do head -c 1048576 /dev/urandom > /blob$i; i=$((i+1)); done",
                  check=True)
    try:
        for _ in range(3):
            conn = UnixHTTPConnection(daemon.socket, timeout=30)
            conn.request("GET", "/v1.41/containers/exp2/export")
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Content-Type") == "application/x-tar"
            assert len(response.read(65536)) == 65536
            conn.close()  # gone with most of the stream unread
        assert daemon.request("GET", "/_ping")[0] == 200
        status, _, body = daemon.request("GET", "/v1.41/containers/exp2/export", timeout=60)
        assert status == 200
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            sizes = {m.name: m.size for m in tar if m.name.startswith("blob")}
        assert len(sizes) == 64 and set(sizes.values()) == {1 << 20}
    finally:
        daemon.docker("rm", "-f", "exp2", check=True)
