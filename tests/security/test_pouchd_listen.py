"""pouchd's listeners: the unix socket's modes, TCP refused on a non-loopback address without mutual TLS,
loopback TCP served, and `pouchsh serve` being pouchd."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ctrd.errors import InvalidArgument
from pouchd.listen import bind, parse_host

REPO = Path(__file__).resolve().parents[2]


def test_unix_socket_is_0660_in_a_0700_directory() -> None:
    base = Path(tempfile.mkdtemp(prefix="pdl-", dir="/tmp"))
    try:
        path = base / "sub" / "d.sock"
        sock = bind(parse_host(f"unix://{path}"), group=None, tls=None)
        try:
            assert stat.S_IMODE(path.stat().st_mode) == 0o660
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            # a live socket is not taken over by a second server
            with pytest.raises(InvalidArgument, match="another pouchd"):
                bind(parse_host(f"unix://{path}"), group=None, tls=None)
        finally:
            sock.close()
        # a stale one (its server died) is replaced
        bind(parse_host(f"unix://{path}"), group=None, tls=None).close()
        (base / "file").write_text("x")
        with pytest.raises(InvalidArgument, match="not a socket"):
            bind(parse_host(f"unix://{base / 'file'}"), group=None, tls=None)
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("host", ["tcp://0.0.0.0:0", "tcp://10.1.2.3:2375", "tcp://[::]:2375", "tcp://example.com:1"])
def test_tcp_off_loopback_needs_mutual_tls(host: str) -> None:
    with pytest.raises(InvalidArgument, match="without mutual TLS"):
        bind(parse_host(host), group=None, tls=None)


@pytest.mark.parametrize("host", ["http://x", "unix://relative", "tcp://host", "tcp://h:99999", "tcp://h:port"])
def test_bad_host_urls(host: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_host(host)


def test_pouchd_refuses_tls_flags_given_in_part() -> None:
    done = subprocess.run([sys.executable, "-m", "pouchd", "-H", "tcp://0.0.0.0:2999", "--tlscert", "c.pem"],
                          capture_output=True, timeout=30, cwd=REPO, check=False)
    assert done.returncode == 1 and b"mutual TLS" in done.stderr


@pytest.mark.containerd
def test_loopback_tcp_and_pouchsh_serve(containerd_address: str, namespace: str, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "POUCHSH_ROOT": str(tmp_path / "root"), "POUCHSH_RUN": str(tmp_path / "run")}
    server = subprocess.Popen([sys.executable, "-m", "pouchsh", "serve", "--address", containerd_address,
                               "-n", namespace, "-H", f"tcp://127.0.0.1:{port}"], env=env, cwd=REPO,
                              stderr=subprocess.PIPE)
    try:
        import http.client

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/version")
                reply = conn.getresponse()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "pouchsh serve did not answer"
                time.sleep(0.05)
        assert reply.status == 200 and json.loads(reply.read())["ApiVersion"] == "1.41"
        conn.close()
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0
