"""Memory: a session that runs and removes 1,000 containers stays under 100 MiB RSS, with no fd growth.

A fresh process (``python -m bench.memory``, so nothing the runner or other benchmarks loaded is counted)
holds one pouchsh session (the REPL's engine) and runs, in batches of 100, half ``run --rm`` in the
foreground and half ``run -d`` followed by ``rm -f``. RSS, open file descriptors and threads are read
from /proc after a warm-up (lazy imports and the channel are part of the baseline) and after every
batch; the namespace's containers and leases are counted at the end.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

from bench import Env, Figure
from bench.common import REPO, fds, rss_mib, threads

BATCH = """for i in 1..{half} {{
    run --rm --network none busybox true
    let c = run -d --network none busybox sleep 60
    rm -f $c.id
}}"""


def run(env: Env) -> list[Figure]:
    total = 100 if env.quick else 1000
    batch = 50 if env.quick else 100
    ns = env.namespace("memory")
    argv = [sys.executable, "-m", "bench.memory", env.address, ns, str(env.root), str(env.run_root), str(total), str(batch)]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env.pouchsh_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the memory driver failed: {proc.stderr[-2000:]}")
    samples = [json.loads(line) for line in proc.stdout.splitlines()]
    start, trace = samples[0], samples[1:]
    peak = max(s["rss"] for s in samples)
    end = trace[-1]
    client = env.client.with_namespace(ns)
    leftovers = len(client.containers.list()) + len(client.leases.list())
    every = max(1, len(trace) // 5)
    shown = trace[::every] + ([trace[-1]] if (len(trace) - 1) % every else [])
    line = "; ".join(f"{s['done']}: {s['rss']:.1f} MiB, {s['fds']} fds, {s['threads']} threads" for s in shown)
    return [
        Figure(
            f"peak RSS of a session that ran and removed {total} containers", peak, "MiB",
            reference=start["rss"], reference_name="RSS after the first two", target="< 100 MiB",
            met=peak < 100, note=line,
        ),
        Figure(
            f"open file descriptors after {total} containers", end["fds"], "fds", reference=start["fds"],
            reference_name="at start", target="no more than at start", met=end["fds"] <= start["fds"],
            note=f"threads {end['threads']} (at start {start['threads']}); containers + leases left: {leftovers}",
        ),
    ]


def _sample(done: int) -> dict[str, Any]:
    gc.collect()
    return {"done": done, "rss": rss_mib(), "fds": fds(), "threads": threads()}


def drive(address: str, namespace: str, root: str, run_root: str, total: int, batch: int) -> None:
    """The measured process: one session, ``total`` containers, a JSON sample per batch on stdout."""
    import io
    from pathlib import Path

    from managers import Managers
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    facade = Managers(address=address, namespace=namespace, root=Path(root), run_root=Path(run_root))
    out = io.BytesIO()
    session = Session(Runtime(managers_factory=lambda: facade, stdout=out, stderr=out, stdin=io.BytesIO(),
                              env=dict(os.environ)))
    program = session.compile(BATCH.format(half=batch // 2), "memory.pouch")
    session.execute(session.compile(BATCH.format(half=1), "warm.pouch"))
    print(json.dumps(_sample(0)), flush=True)
    for done in range(batch, total + 1, batch):
        session.execute(program)
        out.seek(0)
        out.truncate()
        print(json.dumps(_sample(done)), flush=True)


if __name__ == "__main__":
    address, namespace, root, run_root, total, batch = sys.argv[1:7]
    drive(address, namespace, root, run_root, int(total), int(batch))
