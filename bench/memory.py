"""Memory: a session that runs and removes 1,000 containers stays under 100 MiB RSS, with no fd growth.

One in-process pouchsh session (the REPL's engine) runs, in batches of 100, half ``run --rm`` in the
foreground and half ``run -d`` followed by ``rm -f``. RSS, open file descriptors and threads are read
from /proc after a warm-up (lazy imports and the channel are part of the baseline) and after every
batch; the lease count of the namespace is checked too.
"""

from __future__ import annotations

import gc

from bench import Env, Figure
from bench.common import fds, rss_mib, threads

BATCH = """for i in 1..{half} {{
    run --rm --network none busybox true
    let c = run -d --network none busybox sleep 60
    rm -f $c.id
}}"""


def run(env: Env) -> list[Figure]:
    total = 100 if env.quick else 1000
    batch = 50 if env.quick else 100
    ns = env.namespace("memory")
    session = env.session(ns)
    program = session.compile(BATCH.format(half=batch // 2), "memory.pouch")
    warm = session.compile(BATCH.format(half=1), "warm.pouch")
    session.execute(warm)
    gc.collect()
    start_rss, start_fds, start_threads = rss_mib(), fds(), threads()
    peak = start_rss
    trace = []
    for done in range(batch, total + 1, batch):
        session.execute(program)
        session.rt.stdout.seek(0)
        session.rt.stdout.truncate()
        peak = max(peak, rss_mib())
        trace.append(f"{done}: {rss_mib():.1f} MiB, {fds()} fds, {threads()} threads")
    gc.collect()
    end_rss, end_fds, end_threads = rss_mib(), fds(), threads()
    client = env.client.with_namespace(ns)
    leftovers = len(client.containers.list()) + len(client.leases.list())
    every = max(1, len(trace) // 5)
    shown = trace[::every] + ([trace[-1]] if (len(trace) - 1) % every else [])
    return [
        Figure(
            f"peak RSS of a session that ran and removed {total} containers", peak, "MiB",
            reference=start_rss, reference_name="RSS after the first two", target="< 100 MiB",
            met=peak < 100, note="; ".join(shown),
        ),
        Figure(
            f"open file descriptors after {total} containers", end_fds, "fds", reference=start_fds,
            reference_name="at start", target="no more than at start", met=end_fds <= start_fds,
            note=f"threads {end_threads} (at start {start_threads}); containers + leases left: {leftovers}; "
            f"RSS at end {end_rss:.1f} MiB",
        ),
    ]
