"""Recovery: the first successful command in a warm session after containerd is SIGKILLed and restarted.

The bench's private containerd (with a container running, whose shim survives) is killed with SIGKILL
and started again through ctrd's supervisor, which returns once Version answers. From that moment the
session runs ``ps -a | length`` until it succeeds (every 5 ms): the figure is the time to that success,
and how many attempts failed first. Reference: a fresh ``ctr containers ls`` started at the same moment
(a new process dials a new connection, so it has no backoff to wait out).
"""

from __future__ import annotations

import time

from bench import Env, Figure
from bench.common import median

RETRY = 0.005


def run(env: Env) -> list[Figure]:
    if env.embedded is None:
        raise RuntimeError("needs the bench's own containerd (not --address / $POUCHSH_BENCH_ADDRESS)")
    rounds = 3 if env.quick else 10
    ns = env.namespace("restart")
    session = env.session(ns)
    session.execute(session.compile("run -d --network none --name survivor busybox sleep 600", "setup.pouch"))
    probe = session.compile("ps -a | length", "probe.pouch")
    ours, failures, ctr, boot = [], [], [], []
    for _ in range(rounds):
        session.execute(probe)
        killed = time.perf_counter()
        env.kill_containerd()
        env.start_containerd()
        back = time.perf_counter()
        boot.append((back - killed) * 1000)
        failed = 0
        while True:
            try:
                session.execute(probe)
                break
            except Exception:
                failed += 1
                if time.perf_counter() - back > 30:
                    raise
                time.sleep(RETRY)
        ours.append((time.perf_counter() - back) * 1000)
        failures.append(failed)
        start = time.perf_counter()
        env.ctr(ns, "containers", "ls")
        ctr.append((time.perf_counter() - start) * 1000)
    session.execute(session.compile("ps | where name == survivor | length", "check.pouch"))
    still = session.rt.stdout.getvalue().decode().split()[-1:]
    value = median(ours)
    return [
        Figure(
            "first successful command after containerd restarts (warm session)", value, "ms",
            reference=median(ctr), reference_name="a fresh ctr containers ls", target="≤ 150 ms",
            met=value <= 150,
            note=f"{rounds} kill/restart rounds; failed attempts before the success: {failures}; "
            f"SIGKILL → containerd serving again: median {median(boot):.0f} ms; "
            f"the running container survived: {still == ['1']}",
        )
    ]
