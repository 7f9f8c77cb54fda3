"""Fixtures of the image tests: an image manager on the test namespace, and Debian's docker-registry on
127.0.0.1 at a free port (filesystem storage in a temp dir), started per test module and stopped after."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(address: str, tls: ssl.SSLContext | None = None) -> bool:
    try:
        conn: http.client.HTTPConnection
        if tls:
            conn = http.client.HTTPSConnection(address, timeout=1, context=tls)
        else:
            conn = http.client.HTTPConnection(address, timeout=1)
        conn.request("GET", "/v2/")
        ok = conn.getresponse().status in (200, 401)
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def run_registry(
    base: Path,
    extra: str = "",
    *,
    address: str | None = None,
    tls: tuple[Path, Path] | None = None,
    client_ca: Path | None = None,
    probe: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """Run docker-registry with storage under ``base`` (kept across restarts) and the config lines
    ``extra``; yields its ``127.0.0.1:PORT`` once it answers ``/v2/`` (with any status)."""
    if shutil.which(REGISTRY_BINARY) is None:
        pytest.fail(f"{REGISTRY_BINARY} is missing (Debian package docker-registry)")
    address = address or f"127.0.0.1:{_free_port()}"
    base.mkdir(parents=True, exist_ok=True)
    config = base / "config.yml"
    cas = f", clientcas: [{client_ca}]" if client_ca else ""
    tls_line = f", tls: {{certificate: {tls[0]}, key: {tls[1]}{cas}}}" if tls else ""
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {base / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}{tls_line}}}\n" + extra
    )
    proc = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        if tls and probe is None:
            probe = ssl._create_unverified_context()
        while not _answers(address, probe):
            if proc.poll() is not None:
                pytest.fail(f"docker-registry exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("docker-registry did not answer within 20s")
            time.sleep(0.05)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running docker-registry with empty storage."""
    with run_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``DOCKER_CONFIG`` (a login never writes the real ~/.docker) and no proxy from the
    environment (the registries are on loopback; a test that wants a proxy sets one)."""
    path = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def managers(containerd_address: str, namespace: str, tmp_path: Path) -> Iterator[object]:
    from managers import Managers

    facade = Managers(address=containerd_address, namespace=namespace, root=tmp_path / "root", run_root=tmp_path / "run")
    yield facade
    facade.close()


@pytest.fixture
def images(managers: object) -> object:
    return managers.images  # type: ignore[attr-defined]
