"""``compose up|down|ps|logs|config|restart|stop`` against the real containerd, with compose files of the
usual shapes built from the local busybox image: web + db + cache with health-gated dependencies, a
one-shot migration job, replicas behind a shared network, an external volume. And the faults: a
service that fails its healthcheck, an image that does not exist, a port already taken."""

from __future__ import annotations

import json
import socket

import pytest

pytestmark = pytest.mark.containerd

STACK = """\
name: ci
services:
  db:
    image: busybox
    command: sh -c "sleep 1; touch /tmp/ready; exec sleep 600"
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 200ms
      retries: 100
    volumes: [dbdata:/data, shared:/shared]
  cache:
    image: busybox
    command: sleep 600
    healthcheck:
      test: "true"
      interval: 100ms
  migrate:
    image: busybox
    command: ["sh", "-c", "echo migrated > /data/done"]
    volumes: [dbdata:/data]
    depends_on:
      db: {condition: service_healthy}
  web:
    image: busybox
    command: sleep 600
    environment:
      GREETING: ${GREETING:-hello}
    depends_on:
      migrate: {condition: service_completed_successfully}
      cache: {condition: service_healthy}
    stop_grace_period: 1s  # `sleep` as pid 1 ignores SIGTERM: each stop and replacement waits this out
    deploy:
      replicas: 2
      resources: {limits: {memory: 64m}}
    networks:
      default:
        aliases: [www]
volumes:
  dbdata: {}
  shared:
    external: true
    name: outside-volume
"""


def value(shell, text: str):
    return json.loads(shell.run(f"{text} | to json"))


def test_a_stack_comes_up_in_order_and_a_second_up_changes_only_what_changed(shell, project) -> None:
    d = project(STACK)
    shell.run("volume create outside-volume")
    f = f"-f {d}/compose.yaml"
    rows = value(shell, f"compose up {f}")
    assert sorted((r["service"], r["name"], r["status"]) for r in rows) == [
        ("cache", "ci-cache-1", "running"), ("db", "ci-db-1", "running"), ("migrate", "ci-migrate-1", "exited"),
        ("web", "ci-web-1", "running"), ("web", "ci-web-2", "running")]
    assert {r["name"]: r["health"] for r in rows}["ci-db-1"] == "healthy"
    assert value(shell, "inspect ci-migrate-1 | get exit_code") == 0
    labels = value(shell, "inspect ci-web-2 | get labels")
    assert labels["com.docker.compose.project"] == "ci" and labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "2" and labels["com.docker.compose.oneoff"] == "False"
    assert value(shell, "inspect ci-web-1 | get networks") == ["ci_default"]
    # peers reach each other by service name and alias on the shared network
    shell.run("exec ci-db-1 grep -q www /etc/hosts")
    assert "ci_dbdata" in value(shell, "volume ls | get name")
    ids = {r["name"]: r["id"] for r in rows}
    again = value(shell, f"compose up {f}")
    assert {r["name"]: r["id"] for r in again if r["service"] != "migrate"} == {
        k: v for k, v in ids.items() if k != "ci-migrate-1"}
    # a change in the file (here through the environment) replaces only that service's containers
    shell.run('$env.GREETING = "changed"')
    changed = value(shell, f"compose up {f}")
    after = {r["name"]: r["id"] for r in changed}
    assert after["ci-db-1"] == ids["ci-db-1"] and after["ci-cache-1"] == ids["ci-cache-1"]
    assert after["ci-web-1"] != ids["ci-web-1"] and after["ci-web-2"] != ids["ci-web-2"]
    assert "GREETING=changed" in value(shell, "inspect ci-web-1 | get env")
    assert len(value(shell, "ps -a")) == 5  # the replaced containers are gone
    assert value(shell, f"compose ps {f} web | length") == 2
    assert value(shell, f"compose stop {f} web | get status") == ["exited", "exited"]
    assert value(shell, f"compose restart {f} web | get status") == ["running", "running"]
    removed = value(shell, f"compose down {f} -v -t 1")
    assert sorted(removed["containers"]) == sorted(after) and removed["networks"] == ["ci_default"]
    assert removed["volumes"] == ["ci_dbdata"]
    assert value(shell, "ps -a | length") == 0 and value(shell, "volume ls | get name") == ["outside-volume"]


def test_config_is_a_value(shell, project) -> None:
    d = project(STACK)
    assert value(shell, f"compose config -f {d}/compose.yaml --services") == ["db", "cache", "migrate", "web"]
    assert value(shell, f"compose config -f {d}/compose.yaml | get services | where replicas > 1 | get name") == ["web"]


def test_logs_are_prefixed_with_the_container(shell, project) -> None:
    d = project("services:\n  job:\n    image: busybox\n    command: echo done\n", name="logs")
    shell.run(f"compose up -f {d}/compose.yaml")
    shell.run("wait logs-job-1")
    assert value(shell, f"compose logs -f {d}/compose.yaml") == ["logs-job-1 | done"]


def _nothing_left(shell) -> None:
    assert value(shell, "ps -a | get name") == []
    assert [n for n in value(shell, "network ls | get name") if n.startswith("bad")] == []
    assert [v for v in value(shell, "volume ls | get name") if v.startswith("bad")] == []
    assert list((shell.facade.root / "intents").glob("*")) == []


def test_a_service_that_fails_its_healthcheck_undoes_the_up(shell, project) -> None:
    d = project("services:\n  db:\n    image: busybox\n    command: sleep 600\n    volumes: [v:/v]\n"
                "    healthcheck: {test: 'exit 1', interval: 100ms, retries: 2}\n"
                "  web:\n    image: busybox\n    command: sleep 600\n"
                "    depends_on: {db: {condition: service_healthy}}\nvolumes:\n  v: {}\n", name="bad")
    assert shell.kind(f"compose up -f {d}/compose.yaml") == "runtime"
    _nothing_left(shell)


def test_a_missing_image_undoes_the_up(shell, project) -> None:
    d = project("services:\n  ok:\n    image: busybox\n    command: sleep 600\n"
                "  missing:\n    image: no-such-image:1\n    pull_policy: never\n    depends_on: [ok]\n", name="bad")
    assert shell.kind(f"compose up -f {d}/compose.yaml") == "not-found"
    _nothing_left(shell)


def test_a_port_already_taken_undoes_the_up(shell, project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = project(f"services:\n  first:\n    image: busybox\n    command: sleep 600\n"
                    f"  web:\n    image: busybox\n    command: sleep 600\n    ports: ['127.0.0.1:{port}:80']\n"
                    f"    depends_on: [first]\n", name="bad")
        assert shell.kind(f"compose up -f {d}/compose.yaml") in ("conflict", "runtime", "already-exists")
    _nothing_left(shell)


def test_a_failed_up_puts_a_replaced_container_back(shell, project) -> None:
    good = ("services:\n  db:\n    image: busybox\n    command: sleep 600\n    environment: {V: '1'}\n"
            "    stop_grace_period: 1s\n")  # the replaced container's stop: sleep ignores SIGTERM
    d = project(good, name="bad")
    old = value(shell, f"compose up -f {d}/compose.yaml | get 0.id")
    (d / "compose.yaml").write_text(good.replace("'1'", "'2'") + "    healthcheck: {test: 'exit 1', interval: 100ms, retries: 1}\n"
                                    "  web:\n    image: busybox\n    depends_on: {db: {condition: service_healthy}}\n")
    assert shell.kind(f"compose up -f {d}/compose.yaml") == "runtime"
    rows = value(shell, "ps -a --no-trunc")
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [(old, "bad-db-1", "running")]


def test_an_external_resource_must_exist(shell, project) -> None:
    d = project("services:\n  a:\n    image: busybox\n    volumes: [x:/x]\nvolumes:\n  x: {external: true}\n", name="bad")
    assert shell.kind(f"compose up -f {d}/compose.yaml") == "not-found"
    _nothing_left(shell)


def test_dry_run_prints_the_plan(cli, project) -> None:
    d = project(STACK)
    proc = cli("--dry-run", "-c", f"compose up -f {d}/compose.yaml")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "networks.create('ci_default'" in out and out.count("containers.create(") == 5
    assert out.index("name='ci-db-1'") < out.index("name='ci-migrate-1'") < out.index("name='ci-web-1'")


def test_a_migration_that_fails_undoes_the_up_and_no_rollback_keeps_it(shell, project) -> None:
    d = project("services:\n  db:\n    image: busybox\n    command: sleep 600\n"
                "  migrate:\n    image: busybox\n    command: sh -c 'exit 4'\n    depends_on: [db]\n"
                "  web:\n    image: busybox\n    command: sleep 600\n"
                "    depends_on: {migrate: {condition: service_completed_successfully}}\n", name="bad")
    assert shell.kind(f"compose up -f {d}/compose.yaml") == "runtime"
    _nothing_left(shell)
    assert shell.kind(f"compose up -f {d}/compose.yaml --no-rollback") == "runtime"
    assert sorted(value(shell, "ps -a | get name")) == ["bad-db-1", "bad-migrate-1"]
    shell.run(f"compose down -f {d}/compose.yaml -t 1")
    _nothing_left(shell)
