"""A four-service compose project brought up until every service is healthy: pouchsh's native
``compose up`` against docker-compose 1.29 (Debian's) through pouchd, on the same containerd.

The project (``PROJECT_FILE``): ``db`` and ``cache`` (busybox httpd, independent), ``api`` waiting for
both to be healthy, ``web`` waiting for ``api``; each has a healthcheck that fetches its own page every
500 ms. Time to healthy is from the command's start until the fourth service is healthy:

- pouchsh: one process, ``compose up`` (which waits for ``service_healthy`` dependencies by probing
  them) then ``wait --condition healthy`` on the four containers;
- docker-compose: ``docker-compose up -d`` through pouchd (compose polls ``State.Health.Status``, which
  pouchd's own schedule of probes updates), then ``GET /containers/json`` on pouchd's socket until the
  four say ``(healthy)``.

Each side has a namespace of its own (so pouchd's probes never touch the shell's containers) and the
project is taken down, untimed, between rounds. The two schedules differ on purpose: pouchd probes as
dockerd does (the first probe one interval after the start), the shell's waiter probes at once.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
import urllib.parse

from bench import Env, Figure
from bench.common import interleave, median, paired
from bench.pouchd import _Pouchd

SERVICES = ("db", "cache", "api", "web")

PROJECT_FILE = """\
version: "2.4"
x-http: &http
  image: busybox:latest
  command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  healthcheck:
    test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
    interval: 500ms
    timeout: 5s
    retries: 20
  # httpd as PID 1 ignores SIGTERM: down would wait out each grace period
  stop_signal: SIGKILL
services:
  db: *http
  cache: *http
  api:
    <<: *http
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
  web:
    <<: *http
    depends_on:
      api: {condition: service_healthy}
"""


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _healthy_count(sock: str, project: str) -> int:
    filters = urllib.parse.quote(json.dumps({"label": [f"com.docker.compose.project={project}"]}))
    conn = _Unix(sock)
    try:
        conn.request("GET", f"/v1.41/containers/json?filters={filters}")
        items = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return sum("(healthy)" in item["Status"] for item in items)


def run(env: Env) -> list[Figure]:
    compose = shutil.which("docker-compose")
    if compose is None:
        raise RuntimeError("docker-compose is missing (scripts/setup-host.sh installs it)")
    env.compile_sources()
    directory = env.base / "compose-project"
    directory.mkdir(exist_ok=True)
    (directory / "docker-compose.yml").write_text(PROJECT_FILE)
    shell_ns = env.namespace("compose-sh")
    server = _Pouchd(env, env.namespace("compose-pd"))
    project = "bench"
    names = " ".join(f"{project}-{s}-1" for s in SERVICES)
    file = str(directory / "docker-compose.yml")
    up_times: list[float] = []

    def docker_compose(*args: str) -> None:
        done = subprocess.run([compose, "--ansi", "never", "-f", file, "-p", project, *args], env=server.env,
                              cwd=directory, capture_output=True, stdin=subprocess.DEVNULL, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)} failed: {done.stderr.decode()[-1000:]}")

    def through_pouchd() -> float:
        start = time.perf_counter()
        docker_compose("up", "-d")
        up_times.append(time.perf_counter() - start)
        deadline = time.monotonic() + 120
        while _healthy_count(server.socket, project) < len(SERVICES):
            if time.monotonic() > deadline:
                raise RuntimeError("the docker-compose project did not turn healthy within 2 minutes")
            time.sleep(0.02)
        took = time.perf_counter() - start
        docker_compose("down")
        return took

    def native() -> float:
        start = time.perf_counter()
        env.pouchsh(shell_ns, "-c", f"compose up -f {file} -p {project}; "
                                    f"wait --condition healthy --timeout 2m {names}")
        took = time.perf_counter() - start
        env.pouchsh(shell_ns, "-c", f"compose down -f {file} -p {project}")
        return took

    try:
        native()  # warm-up: page cache, the first network's bridge
        through_pouchd()
        up_times.clear()
        rounds = env.rounds if env.quick else max(env.rounds, 5)
        samples = interleave({"pouchsh": native, "docker-compose": through_pouchd}, rounds)
    finally:
        server.close()
    ratio, diff = paired(samples["pouchsh"], samples["docker-compose"])
    return [Figure(
        "compose up of 4 services (2 levels of service_healthy) until all are healthy",
        median(samples["pouchsh"]), "s", reference=median(samples["docker-compose"]),
        reference_name="docker-compose 1.29 up -d through pouchd", paired_ratio=ratio,
        note=(f"paired difference {diff:+.2f} s over {rounds} rounds; docker-compose's own up -d returned after "
              f"{median(up_times):.2f} s (median); healthcheck interval 500 ms"),
    )]
