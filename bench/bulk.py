"""Bulk provisioning: start 100 containers with `par-each` (1, 2, 4, 8 jobs) and remove them, vs `xargs -P 8 ctr`.

pouchsh: one script starts them (``1..N | par-each --jobs J { run -d --network none busybox sleep 600 }``),
a second removes them (``ps -a -q | par-each --jobs J {|id| rm -f $id }``). Reference: ``xargs -P 8``
over ``ctr run -d`` (with a file:// log, as pouchsh keeps a log for every container), then over
``ctr tasks rm -f`` and ``ctr containers rm``. Both sides pay their process start-ups. Figures are
containers per second (median of the interleaved rounds): provisioning at each job count, and the whole
cycle (provision + remove) at 8 jobs against ctr's.

The default-network variant, at 8 jobs: pouchsh's script without ``--network none`` (its ``bridge``
network) against ``ctr run -d --cni`` with the same plugin chain (bench/lifecycle_cni.py's set-up of
ctr's CNI configuration). ctr's removal runs no CNI DEL at all (``ctr tasks rm`` knows nothing of CNI),
so what its runs leave (masquerade rules, host-local leases, the firewall plugin's rules) is removed
after each round, untimed: ctr's cycle is measured without the DEL that pouchsh's ``rm`` pays.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

from bench import Env, Figure
from bench.common import interleave, median, paired
from bench.lifecycle_cni import (
    CNI_STATE,
    CTR_RESULTS,
    NET_NAME,
    SUBNET,
    ctr_cni_host,
    ctr_conflist,
    remove_ctr_leftovers,
    removed_unless_there,
)

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
    leaked: list[str] = []
    ipam = Path(tempfile.mkdtemp(dir=env.base)) / "ctr-ipam"
    contenders["pouchsh bridge -j8"] = contender("pouchsh bridge -j8", lambda: pouchsh_cycle(env, ns, n, 8, bridge=True))
    contenders["ctr cni -P8"] = contender(
        "ctr cni -P8", lambda: ctr_cycle(env, ns, n, file_log(logs), next(rounds), cni=(leaked, ipam)))
    with contextlib.ExitStack() as stack:
        from managers.cni import CNI_PATH

        stack.enter_context(removed_unless_there(CTR_RESULTS, CNI_STATE))
        stack.callback(env.pouchsh, ns, "-c", "network rm bridge", check=False)
        stack.enter_context(ctr_cni_host(ctr_conflist(ipam), CNI_PATH, leaked))
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
    ratio, _ = paired([sum(p) for p in phases["ctr cni -P8"]], [sum(p) for p in phases["pouchsh bridge -j8"]])
    figures.append(Figure(
        f"default network: provision {n} (run -d) with par-each --jobs 8", rate("pouchsh bridge -j8", 0),
        "containers/s", reference=rate("ctr cni -P8", 0), reference_name="xargs -P 8 ctr run -d --cni",
        note=f"removal: {rate('pouchsh bridge -j8', 1):.1f} containers/s (with its CNI DELs) against ctr's "
        f"{rate('ctr cni -P8', 1):.1f} (no DEL)",
    ))
    figures.append(Figure(
        f"default network: whole cycle (provision + remove {n}) at --jobs 8", rate("pouchsh bridge -j8", None),
        "containers/s", reference=rate("ctr cni -P8", None), reference_name="xargs -P 8 ctr --cni",
        target="≥ 1.3× ctr", met=ratio >= 1.3, paired_ratio=ratio,
        note="ctr's removal without the DELs it does not run (their leftovers removed untimed)",
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


def pouchsh_cycle(env: Env, ns: str, n: int, jobs: int, *, bridge: bool = False) -> tuple[float, float]:
    """Start ``n`` detached containers with one pouchsh script (on the default network with ``bridge``),
    remove them with another: (seconds, seconds)."""
    network = "" if bridge else " --network none"
    start = time.perf_counter()
    out = env.pouchsh(ns, "-c", f"1..{n} | par-each --jobs {jobs} {{ run -d{network} busybox sleep 600 }} | length")
    provisioned = time.perf_counter() - start
    _expect_count(out.stdout, n, "started")
    start = time.perf_counter()
    out = env.pouchsh(ns, "-c", f"ps -a -q | par-each --jobs {jobs} {{|id| rm -f $id }} | length")
    removed = time.perf_counter() - start
    _expect_count(out.stdout, n, "removed")
    _expect_empty(env, ns)
    return provisioned, removed


def ctr_cycle(env: Env, ns: str, n: int, log_uri: str, tag: int,
              cni: tuple[list[str], Path] | None = None) -> tuple[float, float]:
    """The same with ``xargs -P 8`` over ``ctr run -d`` (containers ``c<tag>-<i>``), then ``ctr tasks rm -f``
    and ``ctr containers rm``: (seconds, seconds). With ``cni`` (the list of CNI ids to clean up after, and
    ctr's IPAM folder), ``ctr run --cni``; what those runs leave is removed afterwards, untimed."""
    names = [f"c{tag}-{i}" for i in range(n)]
    ids = "\n".join(names).encode()
    flags = ["--cni"] if cni is not None else []
    start = time.perf_counter()
    _xargs(ids, "-I{}", *env.ctr_argv(ns, "run", "-d", *flags, "--log-uri", log_uri, IMAGE, "{}", "sleep", "600"))
    provisioned = time.perf_counter() - start
    start = time.perf_counter()
    _xargs(ids, "-n", "1", *env.ctr_argv(ns, "tasks", "rm", "-f"))
    _xargs(ids, "-n", "1", *env.ctr_argv(ns, "containers", "rm"))
    removed = time.perf_counter() - start
    _expect_empty(env, ns)
    if cni is not None:
        leaked, ipam = cni
        leaked += [f"{ns}-{name}" for name in names]
        remove_ctr_leftovers(leaked)
        _remove_firewall_rules()
        for lease in (ipam / NET_NAME).glob("*.*.*.*"):
            lease.unlink()
    return provisioned, removed


def _remove_firewall_rules() -> None:
    """The firewall plugin's per-address rules in CNI-FORWARD for the bench subnet, in one restore."""
    saved = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True, check=True).stdout
    prefix = str(SUBNET.network_address).rpartition(".")[0] + "."
    doomed = ["-D" + line[2:] for line in saved.splitlines() if line.startswith("-A CNI-FORWARD ") and prefix in line]
    if doomed:
        subprocess.run(["iptables-restore", "-w", "--noflush"], input="*filter\n" + "\n".join(doomed) + "\nCOMMIT\n",
                       text=True, capture_output=True, check=True)


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
