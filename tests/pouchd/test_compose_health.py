"""docker-compose 1.29 (Debian's) through pouchd with healthchecks: `up -d` of a service whose dependent
waits for `service_healthy` (compose polls `State.Health.Status`, which pouchd's own schedule of probes
turns healthy), `ps` showing `(healthy)`, and `down` leaving nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pouchd.compose import COMPOSE, compose
from tests.pouchd.conftest import Daemon

pytestmark = pytest.mark.containerd

PROJECT = "hcp"

COMPOSE_FILE = """\
version: "2.4"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo up > /www/index.html && exec httpd -f -p 80 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
      interval: 500ms
      timeout: 5s
      retries: 30
    # httpd and sleep as PID 1 ignore SIGTERM: down would wait out the grace period of each
    stop_signal: SIGKILL
    networks: [hnet]
  client:
    image: busybox:latest
    command: ["sh", "-c", "wget -qO- http://web/ && exec sleep 300"]
    depends_on:
      web:
        condition: service_healthy
    stop_signal: SIGKILL
    networks: [hnet]
networks:
  hnet: {}
"""


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (scripts/setup-host.sh installs it)")
def test_compose_waits_for_a_healthy_dependency_through_pouchd(daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE)
    try:
        up = compose(daemon, tmp_path, PROJECT, "up", "-d")
        assert b"Creating hcp_web_1" in up.stderr and b"Creating hcp_client_1" in up.stderr
        # compose started the client only once web was healthy
        web = json.loads(daemon.docker("inspect", "hcp_web_1", check=True).stdout)[0]
        client = json.loads(daemon.docker("inspect", "hcp_client_1", check=True).stdout)[0]
        assert web["State"]["Health"]["Status"] == "healthy"
        assert web["Config"]["Healthcheck"]["Test"] == ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
        assert web["Config"]["Healthcheck"]["Interval"] == 500_000_000
        # its first fetch from web worked (it exits otherwise)
        assert client["State"]["Running"] is True
        assert daemon.docker("logs", "hcp_client_1", check=True).stdout == b"up\n"
        rows = compose(daemon, tmp_path, PROJECT, "ps").stdout.decode()
        web_row = next(line for line in rows.splitlines() if line.startswith("hcp_web_1"))
        assert "(healthy)" in web_row
    finally:
        down = compose(daemon, tmp_path, PROJECT, "down", check=False)
    assert down.returncode == 0, down.stderr.decode()
    assert daemon.docker("ps", "-aq", check=True).stdout.strip() == b""
    assert b"hcp_hnet" not in daemon.docker("network", "ls", check=True).stdout
