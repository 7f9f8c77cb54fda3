"""testcontainers-python through pouchd: start a container, wait for a log line, reach its mapped port,
and leave nothing behind."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.pouchd.conftest import Daemon, wait_until

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

        def answers() -> int | None:
            # the log line comes just before httpd binds: poll until it answers (busybox httpd has no
            # index page, so its 404 proves the way through the published port)
            try:
                urllib.request.urlopen(f"http://{host}:{port}/", timeout=5)
            except urllib.error.HTTPError as err:
                return err.code
            except OSError:
                return None
            return 200

        assert wait_until(answers, what="httpd behind the mapped port") == 404
    assert daemon.docker("ps", "-aq", check=True).stdout == before
