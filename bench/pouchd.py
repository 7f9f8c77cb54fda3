"""The Docker Engine API (pouchd) against the shell, on the same containerd.

- ``docker run --rm --network none busybox true`` through pouchd (one docker CLI process each) against
  ``pouchsh -c 'run --rm --network none busybox true'`` (one pouchsh process each), interleaved round by
  round: pouchd's added cost per container (target ≤ 10 ms);
- ``docker ps -a`` through pouchd against ``pouchsh -c 'ps -a'`` with N containers made (target ≤ 1.5×);
- C docker-py clients in threads, each creating, starting, waiting for and removing containers, against
  the same work through the shell's ``par-each`` (``run -d``, ``wait``, ``rm``): throughput (target
  within 10%); ``par-each { run --rm }`` is shown too (it tees the log itself, so no logger process).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import Env, Figure
from bench.common import interleave, median, paired

REPO = Path(__file__).resolve().parents[1]


class _Pouchd:
    def __init__(self, env: Env, namespace: str) -> None:
        self.socket = str(env.base / f"pd-{namespace[-6:]}.sock")
        self.env = {**env.pouchsh_env(), "DOCKER_HOST": f"unix://{self.socket}",
                    "DOCKER_CONFIG": str(env.base / "docker-config")}
        (env.base / "docker-config").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pouchd", "--address", env.address, "-n", namespace, "-H", f"unix://{self.socket}"],
            env=self.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while self.docker("version", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pouchd did not start")
            time.sleep(0.05)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run([shutil.which("docker") or "docker", *args], env=self.env, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=600, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
        return done

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def run(env: Env) -> list[Figure]:
    if shutil.which("docker") is None:
        raise RuntimeError("the docker CLI is missing")
    env.compile_sources()
    n = 5 if env.quick else 20
    ns = env.namespace("pouchd")
    server = _Pouchd(env, ns)
    try:
        return _run_figures(env, ns, server, n) + _ps_figures(env, ns, server) + _parallel_figures(env, ns, server)
    finally:
        server.close()


def _run_figures(env: Env, ns: str, server: _Pouchd, n: int) -> list[Figure]:
    def through_pouchd() -> float:
        start = time.perf_counter()
        for _ in range(n):
            server.docker("run", "--rm", "--network", "none", "busybox", "true")
        return (time.perf_counter() - start) / n

    def through_shell() -> float:
        start = time.perf_counter()
        for _ in range(n):
            env.pouchsh(ns, "-c", "run --rm --network none busybox true")
        return (time.perf_counter() - start) / n

    server.docker("run", "--rm", "--network", "none", "busybox", "true")  # warm-up
    rounds = env.rounds if env.quick else max(env.rounds, 5)
    samples = interleave({"pouchd": through_pouchd, "pouchsh": through_shell}, rounds)
    ratio, diff = paired(samples["pouchd"], samples["pouchsh"])
    return [Figure(
        f"docker run --rm busybox true through pouchd, per container ({n} a round)",
        median(samples["pouchd"]) * 1000, "ms", reference=median(samples["pouchsh"]) * 1000,
        reference_name="pouchsh -c 'run --rm …'", target="≤ +10 ms", met=diff * 1000 <= 10, paired_ratio=ratio,
        note=f"paired difference {diff * 1000:+.1f} ms; both sides start a client process per container",
    )]


def _ps_figures(env: Env, ns: str, server: _Pouchd) -> list[Figure]:
    count = 50 if env.quick else 500
    facade = env.managers(ns)
    from managers.options import CreateOptions

    opts = CreateOptions.parse("busybox", ["true"], network="none")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: facade.containers.create(opts), range(count)))
    samples = interleave({"pouchd": lambda: _timed(lambda: server.docker("ps", "-a")),
                          "pouchsh": lambda: _timed(lambda: env.pouchsh(ns, "-c", "ps -a"))}, max(env.rounds, 5))
    ratio, _ = paired(samples["pouchd"], samples["pouchsh"])
    with ThreadPoolExecutor(8) as pool:
        ids = facade.containers.list(all=True, quiet=True, no_trunc=True)
        list(pool.map(lambda cid: facade.containers.remove([cid], force=True), ids))
    facade.close()
    return [Figure(
        f"docker ps -a through pouchd, {count} containers", median(samples["pouchd"]) * 1000, "ms",
        reference=median(samples["pouchsh"]) * 1000, reference_name="pouchsh -c 'ps -a'", target="≤ 1.5×",
        met=ratio <= 1.5, paired_ratio=ratio,
    )]


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _parallel_figures(env: Env, ns: str, server: _Pouchd) -> list[Figure]:
    import docker

    clients, each = (10, 2) if env.quick else (50, 4)

    def one_client(_: int) -> None:
        api = docker.APIClient(base_url=f"unix://{server.socket}", timeout=120)
        try:
            for _ in range(each):
                cid = api.create_container("busybox", ["true"], host_config=api.create_host_config(network_mode="none"))["Id"]
                api.start(cid)
                api.wait(cid)
                api.remove_container(cid)
        finally:
            api.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    api_rate = clients * each / (time.perf_counter() - start)
    # The same work: a detached start (the shim's logger process writes the log), a wait and a removal.
    same = f"1..{clients * each} | par-each {{ |i| let c = run -d --network none busybox true; wait $c.id; rm $c.id }}"
    shell_rate = _rate(env, ns, same, clients * each)
    # A foreground `run --rm` tees the output into the log itself: no logger process per container.
    foreground = _rate(env, ns, f"1..{clients * each} | par-each {{ |i| run --rm --network none busybox true }}",
                       clients * each)
    left = server.docker("ps", "-aq").stdout.split()
    return [Figure(
        f"{clients} docker-py clients in parallel, create/start/wait/rm", api_rate, "containers/s",
        reference=shell_rate, reference_name="pouchsh par-each { run -d; wait; rm }",
        target="≥ 0.9× (no error, no leak)", met=api_rate >= 0.9 * shell_rate and not left,
        note=f"{len(left)} containers left over; par-each run --rm (no logger process) {foreground:.2f}/s",
    )]


def _rate(env: Env, ns: str, script: str, count: int) -> float:
    start = time.perf_counter()
    env.pouchsh(ns, "-c", script)  # a failure raises
    return count / (time.perf_counter() - start)
