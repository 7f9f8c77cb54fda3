"""Container lifecycle: N sequential `run --rm busybox true` in one pouchsh script vs N `ctr run --rm`.

Four contenders, interleaved round by round on the same containerd, image and snapshotter:

- ``pouchsh script``: one ``pouchsh FILE`` process whose script runs ``run --rm --network none busybox
  true`` N times (per container = wall time / N, the process start-up included once);
- ``ctr``: N ``ctr run --rm`` processes (``ctr`` makes no network either: a bare netns, no CNI);
- ``managers``: the same runs through ``ContainerManager.run`` in this process (what the script costs
  without the interpreter and the process start);
- ``bare gRPC``: the lifecycle containerd-stress makes, through ctrd's typed calls with the default spec
  pouchsh starts from: lease → Snapshots.Prepare → Containers.Create → Tasks.Create (no stdio) → Wait →
  Start → exit → Tasks.Delete → Snapshots.Remove → Containers.Delete. This is the floor pouchsh is
  compared with: "own overhead" = managers − bare, per container.

Then one profiled pass through the managers says where pouchsh's time goes: each RPC by kind (count and
milliseconds per container) and the Python functions with the most own time.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import Env, Figure
from bench.common import interleave, median, paired

IMAGE = "docker.io/library/busybox:latest"


def run(env: Env) -> list[Figure]:
    n = 10 if env.quick else 50
    ns = env.namespace("lifecycle")
    facade = env.managers(ns)
    facade.containers  # noqa: B018 - build the manager (and dial) outside the timed region
    counter = iter(range(10**9))

    def ctr_runs() -> float:
        start = time.perf_counter()
        for _ in range(n):
            env.ctr(ns, "run", "--rm", "--fifo-dir", str(env.fifo_dir), IMAGE, f"ctr-{next(counter)}", "true")
        return (time.perf_counter() - start) / n

    def bare_runs() -> float:
        client = env.client.with_namespace(ns)
        chain = _chain_id(client)
        start = time.perf_counter()
        for _ in range(n):
            bare_lifecycle(client, ns, f"bare-{next(counter)}", chain)
        return (time.perf_counter() - start) / n

    session = env.session(ns, facade)
    loop = session.compile(f"for i in 1..{n} {{ run --rm --network none busybox true }}", "lifecycle.pouch")

    def session_runs() -> float:
        start = time.perf_counter()
        session.execute(loop)
        return (time.perf_counter() - start) / n

    def manager_runs() -> float:
        start = time.perf_counter()
        for _ in range(n):
            manager_lifecycle(facade)
        return (time.perf_counter() - start) / n

    contenders: dict[str, Callable[[], float | None]] = {}
    script = None
    if env.pouchsh_available():
        env.compile_sources()
        script = _script(env, n)

        def script_runs() -> float:
            start = time.perf_counter()
            env.pouchsh(ns, str(script))
            return (time.perf_counter() - start) / n

        contenders["pouchsh script"] = script_runs
    contenders.update({"ctr": ctr_runs, "session": session_runs, "managers": manager_runs, "bare gRPC": bare_runs})

    # One untimed warm-up: first shim spawn, page cache, lazy imports.
    manager_lifecycle(facade)
    bare_lifecycle(env.client.with_namespace(ns), ns, "bare-warm", _chain_id(env.client.with_namespace(ns)))
    env.ctr(ns, "run", "--rm", "--fifo-dir", str(env.fifo_dir), IMAGE, "ctr-warm", "true")
    rounds_n = env.rounds if env.quick else max(env.rounds, 5)
    samples = interleave(contenders, rounds_n)
    ms = {name: median(values) * 1000 for name, values in samples.items()}

    def vs(name: str, ref: str) -> tuple[float, float]:
        """(paired ratio, paired difference in ms) of ``name`` against ``ref``, round by round."""
        ratio, diff = paired(samples[name], samples[ref])
        return ratio, diff * 1000

    cpu_ms, ours, hot = profile(lambda: session.execute(loop), n)
    bare_cpu_ms, bare, _ = profile(bare_runs, n, cprofile=False)
    _, overhead = vs("session", "bare gRPC")
    _, manager_overhead = vs("managers", "bare gRPC")
    figures = []
    rounds = f"medians of {rounds_n} interleaved rounds of {n} containers; ratio = median of per-round ratios"
    if "pouchsh script" in ms:
        ratio, _ = vs("pouchsh script", "ctr")
        figures.append(Figure(
            f"pouchsh script, {n}× run --rm busybox true, per container", ms["pouchsh script"], "ms",
            reference=ms["ctr"], reference_name="ctr run --rm", target="≤ 0.85× ctr",
            met=ratio <= 0.85, note=rounds, paired_ratio=ratio,
        ))
    ratio, _ = vs("session", "ctr")
    figures.append(Figure(
        "session in-process (evaluator + managers), per container", ms["session"], "ms", reference=ms["ctr"],
        reference_name="ctr run --rm", target="≤ 0.85× ctr", met=ratio <= 0.85, paired_ratio=ratio,
        note="the same script in a warm session (a REPL's cost: no process start)",
    ))
    figures.append(Figure(
        "managers in-process (ContainerManager.run), per container", ms["managers"], "ms", reference=ms["ctr"],
        reference_name="ctr run --rm", note="without the interpreter", paired_ratio=vs("managers", "ctr")[0],
    ))
    figures.append(Figure(
        "bare gRPC lifecycle (ctrd calls, no stdio), per container", ms["bare gRPC"], "ms",
        reference=ms["ctr"], reference_name="ctr run --rm", note="the floor pouchsh is measured against",
        paired_ratio=vs("bare gRPC", "ctr")[0],
    ))
    figures.append(Figure(
        "pouchsh's own overhead over the bare gRPC calls, per container", overhead, "ms",
        target="≤ 5 ms", met=overhead <= 5.0,
        note=f"session − bare gRPC, median of per-round differences; managers − bare gRPC = {manager_overhead:.1f} ms\n"
        f"CPU time of this process (all threads) per container: session {cpu_ms:.1f} ms, bare gRPC {bare_cpu_ms:.1f} ms\n"
        f"RPCs per container (one more pass of each):\n{rpc_table(ours, bare, n)}\nmost own time (cProfile):\n{hot}",
    ))
    return figures


def _script(env: Env, n: int) -> Path:
    path = Path(tempfile.mkdtemp(dir=env.base)) / "lifecycle.pouch"
    path.write_text(f"for i in 1..{n} {{ run --rm --network none busybox true }}\n")
    return path


# -- the contenders ----------------------------------------------------------------------------------


def manager_lifecycle(facade: Any) -> None:
    from managers.console import Stdio
    from managers.options import CreateOptions

    opts = CreateOptions.parse("busybox", ["true"], rm=True, network="none")
    out = io.BytesIO()
    code = facade.containers.run(opts, detach=False, stdio=Stdio(stdin=None, stdout=out, stderr=out))
    if code != 0:
        raise RuntimeError(f"run --rm busybox true exited {code}: {out.getvalue()[-500:]!r}")


def _chain_id(client: Any) -> str:
    return client.images.spec(IMAGE).chain_id


def bare_lifecycle(client: Any, namespace: str, cid: str, chain_id: str) -> None:
    """create+start+wait+delete the way containerd-stress does, with the safe order of the reference
    (snapshot prepared under a lease; snapshot removed before the record, NotFound tolerated)."""
    from ctrd.errors import NotFound
    from managers.spec import default_spec

    spec = default_spec(namespace, cid)
    spec["process"]["args"] = ["true"]
    with client.lease() as leased:
        mounts = leased.snapshots.prepare(cid, chain_id)
        leased.containers.create(cid, spec=spec, image=IMAGE, snapshot_key=cid)
    client.tasks.create(cid, rootfs=mounts)
    exit_future = client.tasks.wait(cid)
    client.tasks.start(cid)
    status = exit_future.result(timeout=60).exit_status
    client.tasks.delete(cid)
    for remove in (client.snapshots.remove, client.containers.delete):
        try:
            remove(cid)
        except NotFound:
            pass
    if status != 0:
        raise RuntimeError(f"bare lifecycle: true exited {status}")


# -- where the time goes ------------------------------------------------------------------------------


@contextmanager
def count_rpcs() -> Iterator[dict[str, list[float]]]:
    """Time every unary call and every Wait (future) the ctrd client makes, by kind ("task create")."""
    from ctrd.client import Client

    timings: dict[str, list[float]] = defaultdict(list)
    call, future = Client.call, Client.future

    def kind(method: Any) -> str:
        # grpc's multicallables keep the full method path: /containerd.services.tasks.v1.Tasks/Create
        path = getattr(method, "_method", b"")
        path = path.decode() if isinstance(path, bytes) else str(path)
        return path.rsplit(".", 1)[-1].replace("/", ".") if path else repr(method)

    def timed_call(self: Any, method: Any, request: Any, what: str, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(self, method, request, what, **kw)
        finally:
            timings[kind(method)].append(time.perf_counter() - start)

    def timed_future(self: Any, method: Any, request: Any, what: str, **kw: Any) -> Any:
        timings[kind(method) + " (in background)"].append(0.0)
        return future(self, method, request, what, **kw)

    Client.call, Client.future = timed_call, timed_future  # type: ignore[method-assign]
    try:
        yield timings
    finally:
        Client.call, Client.future = call, future  # type: ignore[method-assign]


def profile(batch: Callable[[], Any], n: int, *, cprofile: bool = True) -> tuple[float, dict[str, list[float]], str]:
    """``batch`` (``n`` runs) with RPC timing and optionally cProfile:
    (CPU ms per container, RPC timings by kind, hot spots)."""
    profiler = cProfile.Profile()
    with count_rpcs() as timings:
        cpu = time.process_time()
        if cprofile:
            profiler.enable()
        batch()
        if cprofile:
            profiler.disable()
        cpu = time.process_time() - cpu
    return cpu * 1000 / n, dict(timings), hot_spots(profiler, n) if cprofile else ""


def rpc_table(ours: dict[str, list[float]], bare: dict[str, list[float]], n: int) -> str:
    """Per RPC kind: calls and milliseconds per container, pouchsh beside the bare lifecycle."""
    def cell(values: list[float] | None) -> str:
        if not values:
            return f"{'-':>5} {'':>9}"
        if all(v == 0.0 for v in values):
            return f"{len(values) / n:5.1f} {'(async)':>9}"
        return f"{len(values) / n:5.1f} {sum(values) * 1000 / n:6.2f} ms"

    kinds = sorted(set(ours) | set(bare), key=lambda k: -sum(ours.get(k, bare.get(k, []))))
    lines = [f"  {'RPC':28} {'pouchsh':>16}   {'bare':>16}"]
    lines += [f"  {kind:28} {cell(ours.get(kind))}   {cell(bare.get(kind))}" for kind in kinds]

    def total(t: dict[str, list[float]]) -> list[float]:
        return [v for k, vs in t.items() if "background" not in k for v in vs]

    lines.append(f"  {'all unary calls':28} {cell(total(ours))}   {cell(total(bare))}")
    return "\n".join(lines)


def hot_spots(profiler: cProfile.Profile, n: int, limit: int = 12) -> str:
    """The functions with the most own time (excluding time blocked in RPCs, which is containerd's)."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, calls, cumtime, f"{_short(filename)}:{line}({func})"))
    rows.sort(reverse=True)
    return "\n".join(
        f"  {tottime * 1000 / n:6.2f} ms own  {cumtime * 1000 / n:7.2f} ms cum  {calls / n:6.1f}×  {where}"
        for tottime, calls, cumtime, where in rows[:limit]
    )


def _short(filename: str) -> str:
    for marker in ("/managers/", "/ctrd/", "/pouchsh/", "/grammar/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.split(marker, 1)[1]
    return filename
