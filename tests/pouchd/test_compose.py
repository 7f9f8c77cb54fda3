"""The real docker-compose (Debian's 1.29) against pouchd: `up -d`, `ps`, `logs` and `down -v` of a
two-service project with a named volume, a user network, a port published on 127.0.0.1 and
`depends_on`; the second service reaches the first by its service name (a network alias)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.pouchd.compose import COMPOSE, compose
from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd

PROJECT = "cmp"

COMPOSE_FILE = """\
version: "3.7"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && echo started >> /data/boots && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1::80"]
    volumes: ["webdata:/data"]
    networks: [appnet]
  client:
    image: busybox:latest
    # httpd binds just after the web container starts: retry, bounded, inside the container.
    command: ["sh", "-c", "for i in $$(seq 100); do wget -qO- http://web/ && break; sleep 0.1; done; exec sleep 300"]
    depends_on: [web]
    networks: [appnet]
volumes:
  webdata: {}
networks:
  appnet: {}
"""


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (scripts/setup-host.sh installs it)")
def test_compose_up_ps_logs_down(daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE)
    try:
        up = compose(daemon, tmp_path, PROJECT, "up", "-d")
        assert b"Creating cmp_web_1" in up.stderr and b"Creating cmp_client_1" in up.stderr

        # the shell sees what compose made
        shell_ps = daemon.pouchsh("--json", "-c", "ps").stdout.decode()
        assert "cmp_web_1" in shell_ps and "cmp_client_1" in shell_ps

        ps = compose(daemon, tmp_path, PROJECT, "ps").stdout.decode()
        web_row = next(line for line in ps.splitlines() if line.startswith("cmp_web_1"))
        client_row = next(line for line in ps.splitlines() if line.startswith("cmp_client_1"))
        assert " Up " in web_row and " Up " in client_row
        assert "127.0.0.1:" in web_row and "->80/tcp" in web_row
        port = int(web_row.split("127.0.0.1:")[1].split("->")[0])

        # the published port answers from the host
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.read() == b"hello-from-web\n"

        # the client reached web by its service name on the user network
        wait_until(lambda: b"hello-from-web" in compose(daemon, tmp_path, PROJECT, "logs", "--no-color", "client").stdout,
                   timeout=30, what="the client to fetch the page from web")
        logs = compose(daemon, tmp_path, PROJECT, "logs", "--no-color").stdout.decode()
        assert "client_1  | hello-from-web" in logs

        # the named volume holds what web wrote into it
        inspect = json.loads(daemon.docker("inspect", "cmp_web_1", check=True).stdout)[0]
        assert [m["Name"] for m in inspect["Mounts"] if m["Type"] == "volume"] == ["cmp_webdata"]
        assert daemon.docker("exec", "cmp_web_1", "cat", "/data/boots", check=True).stdout == b"started\n"
    finally:
        down = compose(daemon, tmp_path, PROJECT, "down", "-v", check=False)
    assert down.returncode == 0, down.stderr.decode()
    assert b"Removing cmp_client_1" in down.stderr and b"Removing network cmp_appnet" in down.stderr
    assert b"Removing volume cmp_webdata" in down.stderr
    assert daemon.docker("ps", "-aq", check=True).stdout.strip() == b""
    assert b"cmp_appnet" not in daemon.docker("network", "ls", check=True).stdout
    assert b"cmp_webdata" not in daemon.docker("volume", "ls", check=True).stdout
