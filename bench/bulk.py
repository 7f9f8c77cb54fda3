"""Bulk provisioning: start 100 containers with `par-each` (1, 2, 4, 8 jobs) and remove them, vs `xargs -P 8 ctr`.

pouchsh: one script starts them (``1..N | par-each --jobs J { run -d --network none busybox sleep 600 }``),
a second removes them (``ps -a -q | par-each --jobs J {|id| rm -f $id }``). Reference: ``xargs -P 8``
over ``ctr run -d`` (with a file:// log, as pouchsh keeps a log for every container), then over
``ctr tasks rm -f`` and ``ctr containers rm``. Both sides pay their process start-ups. Figures are
containers per second (median of the interleaved rounds): provisioning at each job count, and the whole
cycle (provision + remove) at 8 jobs against ctr's.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench import Env, Figure
from bench.common import interleave, median, paired

IMAGE = "docker.io/library/busybox:latest"
JOBS = (1, 2, 4, 8)


def run(env: Env) -> list[Figure]:
    n, ns, logs = prepare(env, "bulk")
    rounds = iter(range(10**6))

    phases: dict[str, list[tuple[float, float]]] = {}

    def contender(name: str, fn: object) -> object:
        def measure() -> float:
            result = fn()  # type: ignore[operator]
            phases.setdefault(name, []).append(result)
            return sum(result)

        return measure

    contenders = {
        f"pouchsh -j{j}": contender(f"pouchsh -j{j}", lambda j=j: pouchsh_cycle(env, ns, n, j)) for j in JOBS
    }
    contenders["ctr -P8"] = contender("ctr -P8", lambda: ctr_cycle(env, ns, n, file_log(logs), next(rounds)))
    interleave(contenders, env.rounds)  # type: ignore[arg-type]

    def rate(name: str, phase: int | None) -> float:
        values = [(p[phase] if phase is not None else p[0] + p[1]) for p in phases[name]]
        return n / median(values)

    figures = []
    ctr_start, ctr_cycle_rate, ctr_remove = rate("ctr -P8", 0), rate("ctr -P8", None), rate("ctr -P8", 1)
    for j in JOBS:
        figures.append(Figure(
            f"provision {n} (run -d) with par-each --jobs {j}", rate(f"pouchsh -j{j}", 0), "containers/s",
            reference=ctr_start, reference_name="xargs -P 8 ctr run -d",
            note=f"removal at {j} jobs: {rate(f'pouchsh -j{j}', 1):.1f} containers/s" if j in (1, 8) else "",
        ))
    best = max(JOBS, key=lambda j: rate(f"pouchsh -j{j}", None))
    for j in sorted({8, best}):
        cycle = rate(f"pouchsh -j{j}", None)
        # throughput ratio round by round: ctr's time over pouchsh's
        ratio, _ = paired([sum(p) for p in phases["ctr -P8"]], [sum(p) for p in phases[f"pouchsh -j{j}"]])
        figures.append(Figure(
            f"whole cycle (provision + remove {n}) at --jobs {j}", cycle, "containers/s",
            reference=ctr_cycle_rate, reference_name="xargs -P 8 ctr", target="≥ 1.3× ctr",
            met=ratio >= 1.3, paired_ratio=ratio,
            note=f"ctr removal alone: {ctr_remove:.1f} containers/s; median of {env.rounds} interleaved rounds",
        ))
    return figures


def prepare(env: Env, stem: str) -> tuple[int, str, Path]:
    """(how many containers a cycle makes, a fresh namespace with busybox, a folder for ctr's logs)."""
    if not env.pouchsh_available():
        raise RuntimeError("needs the pouchsh command line (pouchsh/__main__.py)")
    env.compile_sources()
    logs = Path(env.base) / "ctr-logs"
    logs.mkdir(exist_ok=True)
    return (20 if env.quick else 100), env.namespace(stem), logs


def pouchsh_cycle(env: Env, ns: str, n: int, jobs: int) -> tuple[float, float]:
    """Start ``n`` detached containers with one pouchsh script, remove them with another: (seconds, seconds)."""
    start = time.perf_counter()
    out = env.pouchsh(ns, "-c", f"1..{n} | par-each --jobs {jobs} {{ run -d --network none busybox sleep 600 }} | length")
    provisioned = time.perf_counter() - start
    _expect_count(out.stdout, n, "started")
    start = time.perf_counter()
    out = env.pouchsh(ns, "-c", f"ps -a -q | par-each --jobs {jobs} {{|id| rm -f $id }} | length")
    removed = time.perf_counter() - start
    _expect_count(out.stdout, n, "removed")
    _expect_empty(env, ns)
    return provisioned, removed


def ctr_cycle(env: Env, ns: str, n: int, log_uri: str, tag: int) -> tuple[float, float]:
    """The same with ``xargs -P 8`` over ``ctr run -d`` (containers ``c<tag>-<i>``), then ``ctr tasks rm -f``
    and ``ctr containers rm``: (seconds, seconds)."""
    ids = "\n".join(f"c{tag}-{i}" for i in range(n)).encode()
    start = time.perf_counter()
    _xargs(ids, "-I{}", *env.ctr_argv(ns, "run", "-d", "--log-uri", log_uri, IMAGE, "{}", "sleep", "600"))
    provisioned = time.perf_counter() - start
    start = time.perf_counter()
    _xargs(ids, "-n", "1", *env.ctr_argv(ns, "tasks", "rm", "-f"))
    _xargs(ids, "-n", "1", *env.ctr_argv(ns, "containers", "rm"))
    removed = time.perf_counter() - start
    _expect_empty(env, ns)
    return provisioned, removed


def file_log(logs: Path) -> str:
    """ctr's log URI template (xargs puts the container id for ``{}``): the shim appends to a file."""
    return f"file://{logs}/{{}}.log"


def _xargs(ids: bytes, *argv: str) -> None:
    proc = subprocess.run(["xargs", "-P", "8", *argv], input=ids, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"xargs {' '.join(argv)[:120]} failed: {proc.stderr.decode()[-1000:]}")


def _expect_count(stdout: bytes, n: int, what: str) -> None:
    text = stdout.decode().strip()
    if text.splitlines()[-1:] != [str(n)]:
        raise RuntimeError(f"expected {n} containers {what}, the script printed {text[-300:]!r}")


def _expect_empty(env: Env, ns: str) -> None:
    left = env.client.with_namespace(ns).containers.list()
    if left:
        raise RuntimeError(f"{len(left)} containers left after removal, e.g. {left[0].id}")
