"""testcontainers-python through pouchd: start a container, wait for a log line, reach its mapped port,
and leave nothing behind."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.pouchd.conftest import Daemon

pytestmark = pytest.mark.containerd


def test_container_log_wait_mapped_port_and_cleanup(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{daemon.socket}")
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    # This machine looks like a container to testcontainers (/.dockerenv); the published port is on the host.
    monkeypatch.setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    before = daemon.docker("ps", "-aq", check=True).stdout
    container = (DockerContainer("busybox:latest")
                 .with_command(["sh", "-c", "echo serving; exec httpd -f -p 80"])
                 .with_exposed_ports(80)
                 .waiting_for(LogMessageWaitStrategy("serving")))
    with container:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(80))
        assert host == "127.0.0.1" and port > 0
        with pytest.raises(urllib.error.HTTPError) as reply:  # busybox httpd has no index: its 404 proves the way
            urllib.request.urlopen(f"http://{host}:{port}/", timeout=10)
        assert reply.value.code == 404
    assert daemon.docker("ps", "-aq", check=True).stdout == before
