"""`ps -a` with 500 containers, 200 running: in a warm session, and as a fresh process vs `ctr c ls` + `ctr t ls`.

The containers are made through pouchsh's managers (300 created, 200 started with ``sleep 600``), so
their labels are pouchsh's. Warm: ``ps -a`` (displayed as text, as a REPL with a pipe would) and
``ps -a | length`` (records built, nothing rendered) in one session, against the two RPCs they stand on
(Containers.List + Tasks.List through ctrd) in the same process; then the same with ctrd's watch cache,
as the REPL keeps it (containers and tasks from the cache). How stale that cache can be for another
process's change: a second connection (for this cache another process: its calls are not written
through) creates and starts tasks, timed from its Tasks.Start returning until the task shows as
running in the cache. Fresh: ``pouchsh -c 'ps -a'`` against ``ctr containers ls`` followed by
``ctr tasks ls``, interleaved.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import Env, Figure
from bench.common import interleave, median, paired, percentile


def run(env: Env) -> list[Figure]:
    total, running = (50, 20) if env.quick else (500, 200)
    ns = env.namespace("ps")
    facade = env.managers(ns)
    populate(facade, total, running)
    session = env.session(ns, facade)
    ps_all = session.compile("ps -a", "ps.pouch")
    ps_count = session.compile("ps -a | length", "ps.pouch")
    client = env.client.with_namespace(ns)

    def shown() -> None:
        session.rt.stdout.seek(0)
        session.rt.stdout.truncate()
        session.execute(ps_all)

    def counted() -> None:
        session.execute(ps_count)

    def rpcs() -> None:
        client.containers.list()
        client.tasks.list()

    shown()  # warm: imports, the first channel use, the renderer
    lines = session.rt.stdout.getvalue().decode().splitlines()
    if len(lines) < total:
        raise RuntimeError(f"ps -a showed {len(lines)} lines for {total} containers")
    warm = interleave({"shown": _ms(shown), "counted": _ms(counted), "rpcs": _ms(rpcs)}, 5 if env.quick else 30)

    # A REPL keeps ctrd's watch cache of its namespace: ps then syncs the cache and lists only the tasks.
    from ctrd.watch import Watcher

    with Watcher(facade.ctrd) as watcher:
        watcher.wait_synced(60)
        shown()
        cached = interleave({"shown": _ms(shown), "counted": _ms(counted)}, 5 if env.quick else 30)
        lag = _event_lag(env, ns, facade, watcher, 5 if env.quick else 20)

    figures = [
        Figure(
            f"ps -a in a warm session ({total} containers, {running} running), displayed as text",
            median(warm["shown"]), "ms", reference=median(warm["rpcs"]),
            reference_name="Containers.List + Tasks.List alone", target="≤ 20 ms",
            met=median(warm["shown"]) <= 20.0,
            note=f"p90 {percentile(warm['shown'], 90):.1f} ms; ps -a | length (no display): "
            f"{median(warm['counted']):.1f} ms",
        ),
        Figure(
            f"ps -a in a warm session with the watch cache (as in the REPL), {total} containers, displayed as text",
            median(cached["shown"]), "ms", reference=median(warm["rpcs"]),
            reference_name="Containers.List + Tasks.List alone", target="≤ 20 ms",
            met=median(cached["shown"]) <= 20.0,
            note=f"p90 {percentile(cached['shown'], 90):.1f} ms; ps -a | length (no display): "
            f"{median(cached['counted']):.1f} ms",
        ),
        Figure(
            "another process's task start reaching the watch cache (Tasks.Start returned → shown running)",
            median(lag), "µs", note=f"{len(lag)} starts; p90 {percentile(lag, 90):.0f} µs, max {max(lag):.0f} µs "
            "(the shim sends its event after answering; this process's own task calls show at once)",
        ),
    ]

    if env.pouchsh_available():
        env.compile_sources()

        def fresh() -> None:
            out = env.pouchsh(ns, "-c", "ps -a")
            if len(out.stdout.splitlines()) < total:
                raise RuntimeError("pouchsh -c 'ps -a' listed too few containers")

        def ctr_pair() -> None:
            env.ctr(ns, "containers", "ls")
            env.ctr(ns, "tasks", "ls")

        def startup() -> None:
            env.pouchsh(ns, "-c", "version")

        fresh_samples = interleave({"pouchsh": _ms(fresh), "ctr": _ms(ctr_pair), "startup": _ms(startup)},
                                   5 if env.quick else 15)
        p, c = median(fresh_samples["pouchsh"]), median(fresh_samples["ctr"])
        ratio, _ = paired(fresh_samples["pouchsh"], fresh_samples["ctr"])
        figures.append(Figure(
            "pouchsh -c 'ps -a' as a fresh process", p, "ms", reference=c, paired_ratio=ratio,
            reference_name="ctr containers ls + ctr tasks ls", target="≤ 1.5× ctr", met=ratio <= 1.5,
            note=f"{len(fresh_samples['ctr'])} interleaved rounds; pouchsh -c version (start-up and one RPC) "
            f"in the same rounds: {median(fresh_samples['startup']):.0f} ms",
        ))
    return figures


def _ms(fn: Any) -> Any:
    def measure() -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000

    return measure


def _event_lag(env: Env, ns: str, facade: Any, watcher: Any, count: int) -> list[float]:
    """Microseconds from another connection's Tasks.Start returning to the watch cache showing it."""
    from managers.options import CreateOptions

    other = env.managers(ns)  # its own connection: nothing it does is written through to ``watcher``
    ids = [facade.containers.create(CreateOptions.parse("busybox", ["sleep", "600"], network="none"))["id"]
           for _ in range(count)]
    lags = []
    try:
        client = other.ctrd
        for cid in ids:
            record = client.containers.get(cid)
            client.tasks.create(cid, rootfs=client.snapshots.mounts(record.snapshot_key or cid))
            client.tasks.start(cid)
            started = time.perf_counter()
            watcher.wait_for(lambda s, cid=cid: s.status(cid) == "running", 10)
            lags.append((time.perf_counter() - started) * 1e6)
    finally:
        facade.containers.remove(ids, force=True)
        other.close()
    return lags


def populate(facade: Any, total: int, running: int, jobs: int = 4) -> None:
    """``total`` containers through the managers, ``running`` of them started (``sleep 600``)."""
    from managers.options import CreateOptions

    for part in ("containers", "images", "volumes", "networks"):
        getattr(facade, part)  # build the managers before the threads share them

    def make(i: int) -> None:
        if i < running:
            facade.containers.run(CreateOptions.parse("busybox", ["sleep", "600"], network="none"), detach=True)
        else:
            facade.containers.create(CreateOptions.parse("busybox", ["true"], network="none"))

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(make, range(total)))
