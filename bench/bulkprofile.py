"""Where bulk provisioning's CPU goes: CPU ms per container by process, pouchsh against ctr, one cycle each.

One cycle of bench/bulk.py on each side (start 100 detached containers, remove them; pouchsh with
``par-each --jobs 8``, ctr with ``xargs -P 8`` and a ``file://`` log)
runs under ``perf record -a`` (bench/procprofile.py): CPU ms per container for containerd, the shim's
``start`` and its daemon, runc, runc init, the pouchsh processes (its log collector among them), ctr and xargs. Only the
private containerd's process tree and the processes this benchmark starts are counted; other work on the
machine is reported apart. Needs root (or perf_event_paranoid ≤ 0) and ``perf``. Rounds: ``--rounds``
cycles of each side, interleaved, and the figures are their medians.
"""

from __future__ import annotations

from bench import Env, Figure
from bench.bulk import ctr_cycle, file_log, pouchsh_cycle, prepare
from bench.common import median
from bench.procprofile import CpuProfile, available

JOBS = 8


def run(env: Env) -> list[Figure]:
    if not available():
        raise RuntimeError("needs perf able to sample every CPU (root, or kernel.perf_event_paranoid <= 0)")
    n, ns, logs = prepare(env, "bulkprof")
    pid = env.containerd_pid()
    roots = {pid} if pid is not None else set()
    tags = iter(range(10**6))
    sides = {
        f"pouchsh par-each -j{JOBS}": lambda: pouchsh_cycle(env, ns, n, JOBS),
        "xargs -P 8 ctr, file:// log": lambda: ctr_cycle(env, ns, n, file_log(logs), next(tags)),
    }
    profiles: dict[str, list[CpuProfile]] = {name: [] for name in sides}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(env.rounds):
        for name, cycle in sides.items():
            with CpuProfile(roots) as profile:
                walls[name].append(sum(cycle()))
            profiles[name].append(profile)

    figures = []
    for name, runs in profiles.items():
        groups = sorted({g for p in runs for g in p.groups}, key=lambda g: -median([p.groups[g] for p in runs]))
        per = {g: median([p.groups[g] for p in runs]) * 1000 / n for g in groups}
        total = median([p.total for p in runs]) * 1000 / n
        others = median([p.not_ours for p in runs]) * 1000 / n
        execs = runs[-1].execs
        lines = [f"{g}: {ms:.1f} ms" for g, ms in per.items() if ms >= 0.05]
        programs = ", ".join(f"{c} {k}" for k, c in execs.most_common(8))
        figures.append(Figure(
            f"CPU per container, provision + remove, {name}", total, "ms",
            note=(
                "; ".join(lines)
                + f"\nwall {median(walls[name]):.2f} s for {n}; not ours (other work, kernel threads) {others:.1f} ms"
                + f"\nprograms exec'd in the last cycle: {programs}"
            ),
        ))
    return figures
