"""Mutual TLS on a TCP listener: a client with a certificate from the CA gets in (the docker CLI with
--tlsverify too), one without is refused during the handshake."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pouchd.conftest import DOCKER, REPO

pytestmark = pytest.mark.containerd


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(base: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=pouchd test CA", cwd=base)
    (base / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (base / "client.cnf").write_text("extendedKeyUsage=clientAuth\n")
    for who, ext in (("server", "ext.cnf"), ("client", "client.cnf")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}-key.pem", "-out", f"{who}.csr",
                 "-subj", f"/CN={who}", cwd=base)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-out", f"{who}.pem", "-days", "1", "-extfile", ext, cwd=base)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")
def test_mutual_tls(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path) -> None:
    _certificates(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "POUCHSH_ROOT": str(tmp_path / "root"), "POUCHSH_RUN": str(tmp_path / "run")}
    server = subprocess.Popen(
        [sys.executable, "-m", "pouchd", "--address", containerd_address, "-n", namespace,
         "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(tmp_path / "ca.pem"),
         "--tlscert", str(tmp_path / "server.pem"), "--tlskey", str(tmp_path / "server-key.pem")],
        env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "pouchd did not listen"
                time.sleep(0.05)
        (tmp_path / "cert.pem").write_bytes((tmp_path / "client.pem").read_bytes())
        (tmp_path / "key.pem").write_bytes((tmp_path / "client-key.pem").read_bytes())
        docker_env = {**os.environ, "DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                      "DOCKER_CERT_PATH": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)}
        done = subprocess.run([DOCKER, "version", "--format", "{{.Server.APIVersion}}"], env=docker_env,
                              capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == b"1.41"
        # the hijacked streams (attach, exec) run through TLS too, not under it
        def docker(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([DOCKER, *args], env=docker_env, input=stdin, capture_output=True,
                                  timeout=120, check=False)

        ran = docker("run", "--rm", "busybox", "sh", "-c", "echo over-tls; echo err-tls >&2; exit 3")
        assert (ran.returncode, ran.stdout, ran.stderr) == (3, b"over-tls\n", b"err-tls\n"), ran
        assert docker("run", "-d", "--name", "tls-box", "busybox", "sleep", "300").returncode == 0
        execed = docker("exec", "tls-box", "sh", "-c", "seq 1 20000")
        assert execed.returncode == 0 and execed.stdout == b"".join(b"%d\n" % i for i in range(1, 20001))
        # stdin ends (the client's close_notify) before the output does: the output still arrives
        piped = docker("exec", "-i", "tls-box", "sh", "-c", "cat; sleep 1; echo after-eof", stdin=b"piped\n" * 3000)
        assert piped.returncode == 0 and piped.stdout == b"piped\n" * 3000 + b"after-eof\n", piped
        ran_i = docker("run", "-i", "--rm", "busybox", "wc", "-c", stdin=b"x" * 100000)
        assert ran_i.returncode == 0 and ran_i.stdout.strip() == b"100000", ran_i
        docker("rm", "-f", "tls-box")
        # a client that does not speak TLS is dropped, and the server goes on
        with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
            plain.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = plain.recv(100)
            except ConnectionResetError:
                answer = b""
            assert b"OK" not in answer
        assert docker("version", "--format", "{{.Server.APIVersion}}").returncode == 0
        anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with (pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)),
              socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
              anonymous.wrap_socket(raw, server_hostname="127.0.0.1") as tls):
            tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            if not tls.recv(100):
                raise ConnectionResetError("closed without an answer")
    finally:
        server.terminate()
        server.wait(timeout=20)
