"""Fixtures of the pouchd suite.

- ``daemon`` (module): one pouchd subprocess per test module on a unix socket under /tmp, with its own
  containerd namespace (busybox imported into it) and data and run roots, driven by the module's tests;
  stopped, and the namespace purged, at the module's end. It offers ``daemon.docker(*args)`` (the real
  docker CLI with ``DOCKER_HOST`` on the socket and a private ``DOCKER_CONFIG``), ``daemon.pouchsh(*args)``
  (the shell on the same containerd, namespace and roots), ``daemon.client()`` (docker-py) and
  ``daemon.request(method, path, body=…)`` (raw HTTP on the socket).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.poll import poll

REPO = Path(__file__).resolve().parents[2]
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Daemon:
    def __init__(self, *, socket_path: str, address: str, namespace: str, root: Path, run: Path, home: Path) -> None:
        self.socket = socket_path
        self.address = address
        self.namespace = namespace
        self.root = root
        self.run = run
        self.home = home
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "pouchd.log"

    # -- the server ---------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"POUCHSH_ROOT": str(self.root), "POUCHSH_RUN": str(self.run),
                    "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.home / "docker-config")})
        env.pop("CONTAINERD_NAMESPACE", None)
        return env

    def start(self) -> None:
        argv = [sys.executable, "-m", "pouchd", "--address", self.address, "--namespace", self.namespace,
                "-H", f"unix://{self.socket}", "--debug"]
        self.process = subprocess.Popen(argv, env=self.env(), cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=self.log.open("wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pouchd exited: {self.log.read_text()[-2000:]}")
            try:
                if self.request("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"pouchd did not answer within 30 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- clients ----------------------------------------------------------------------------------

    def docker(self, *args: str, input: bytes = b"", timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run([DOCKER, *args], input=input, capture_output=True, timeout=timeout, env=self.env(),
                              cwd=self.home, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()}")
        return done

    def pouchsh(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", self.address, "--namespace", self.namespace, *args]
        return subprocess.run(argv, capture_output=True, timeout=timeout, env=self.env(), cwd=REPO, check=False)

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=f"unix://{self.socket}", timeout=60)

    def api(self) -> Any:
        import docker

        return docker.APIClient(base_url=f"unix://{self.socket}", timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def daemon(request: pytest.FixtureRequest, containerd_address: str, ctrd_client: Any, busybox_layout: Path) -> Iterator[Daemon]:
    from ctrd.imports import import_oci_layout
    from tests.support.cleanup import purge_namespace

    stem = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:30]
    namespace = f"{stem}-{uuid.uuid4().hex[:6]}"
    ctrd_client.namespaces.create(namespace, {"pouchsh.test": request.module.__name__})
    import_oci_layout(ctrd_client.with_namespace(namespace), busybox_layout)
    # Short: a unix socket path must fit in sockaddr_un (108 bytes).
    home = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    root, run = home / "root", home / "run"
    root.mkdir()
    run.mkdir()
    (home / "docker-config").mkdir()
    d = Daemon(socket_path=str(home / "d.sock"), address=containerd_address, namespace=namespace, root=root,
               run=run, home=home)
    d.start()
    try:
        yield d
    finally:
        d.stop()
        _detach_all(containerd_address, namespace, root, run)
        problems = purge_namespace(ctrd_client, namespace)
        shutil.rmtree(home, ignore_errors=True)
        assert not problems, f"namespace {namespace} could not be cleaned up: {problems}"


def _detach_all(address: str, namespace: str, root: Path, run: Path) -> None:
    from ctrd.errors import PouchError
    from managers import Managers

    facade = Managers(address=address, namespace=namespace, root=root, run_root=run)
    try:
        for c in facade.ctrd.containers.list():
            try:
                facade.networks.detach(c.id)
            except (PouchError, OSError):
                pass
    finally:
        facade.close()


def wait_until(predicate: Any, timeout: float = 20, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something true, or fail after ``timeout`` seconds."""
    return poll(predicate, what, timeout)
