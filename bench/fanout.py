"""Fan-out: 60 containers over three contexts (``run --context a,b,c``) vs the same 60 on one containerd.

Three containerds run on this machine: the bench's own (context ``a``) and two more started here
(``b``, ``c``), each with busybox in a fresh namespace. One in-process pouchsh session holds the three
contexts. Fan-out: ``1..20 | par-each -j 8 { run -d --network none --context a,b,c busybox sleep 600 }``
(each item starts one container on each context, concurrently). One host:
``1..60 | par-each -j 8 { run -d --network none busybox sleep 600 }`` on ``a``. Both then remove what
they made (``ps -a --context ... | rm -f``), timed apart. Errors are the containers asked for but not
there afterwards (with the first error's text). Rounds are interleaved; figures are medians.

The machine has 2 cores: three containerds compete for them, so this measures what the language's
fan-out costs, not what three real hosts would gain.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any

from bench import Env, Figure
from bench.common import interleave, median, paired

N = 60
HOSTS = ("a", "b", "c")


def run(env: Env) -> list[Figure]:
    from ctrd.daemon import Embedded, start_embedded, stop_embedded

    n = 12 if env.quick else N
    ns = env.namespace("fanout")
    extra = {h: Embedded(data_root=env.base / f"fo-{h}" / "root", run_root=env.base / f"fo-{h}" / "run")
             for h in HOSTS[1:]}
    try:
        addresses = {"a": env.address}
        for h, embedded in extra.items():
            start_embedded(embedded, timeout=60)
            addresses[h] = str(embedded.socket)
        clients = _prepare(env, ns, addresses)
        session, shell = _session(env, ns, addresses)
        errors: dict[str, list[str]] = {"fan-out": [], "one host": []}
        removal: dict[str, list[float]] = {"fan-out": [], "one host": []}

        def cycle(name: str, make: str, clear: str, want: int) -> float:
            start = time.perf_counter()
            try:
                shell(make)
            except Exception as e:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
                errors[name].append(str(e)[:200])
            took = time.perf_counter() - start
            made = sum(len(c.containers.list()) for c in clients.values())
            if made < want:
                errors[name].append(f"{want - made} of {want} containers missing")
            start = time.perf_counter()
            shell(clear)
            removal[name].append(time.perf_counter() - start)
            return took

        fan = f"1..{n // 3} | par-each -j 8 {{ run -d --network none --context a,b,c busybox sleep 600 }}"
        one = f"1..{n} | par-each -j 8 {{ run -d --network none busybox sleep 600 }}"
        samples = interleave({
            "fan-out": lambda: cycle("fan-out", fan, "ps -a --context all | rm -f", n),
            "one host": lambda: cycle("one host", one, "ps -a -q | par-each -j 8 {|id| rm -f $id }", n),
        }, env.rounds)
        session.close()
        for h in HOSTS[1:]:
            clients[h].close()
    finally:
        for embedded in extra.values():
            stop_embedded(embedded)
    ratio, _ = paired(samples["fan-out"], samples["one host"])
    note = lambda name: (f"{len(errors[name])} errors" + (f": {errors[name][0]}" if errors[name] else "")  # noqa: E731
                         + f"; removal {median(removal[name]):.2f} s")
    return [
        Figure(f"run -d {n} containers over 3 contexts (--context a,b,c), seconds", median(samples["fan-out"]), "s",
               reference=median(samples["one host"]), reference_name=f"the same {n} on one containerd",
               paired_ratio=ratio, note=f"fan-out: {note('fan-out')}; one host: {note('one host')}"),
    ]


def _prepare(env: Env, ns: str, addresses: dict[str, str]) -> dict[str, Any]:
    import ctrd
    from ctrd.imports import import_oci_layout

    clients = {"a": env.client.with_namespace(ns)}
    for h in HOSTS[1:]:
        client = ctrd.Client(addresses[h])
        client.namespaces.create(ns, {"pouchsh.bench": "fanout"})
        import_oci_layout(client.with_namespace(ns), env.busybox_layout())
        clients[h] = client.with_namespace(ns)
    return clients


def _session(env: Env, ns: str, addresses: dict[str, str]) -> tuple[Any, Any]:
    from managers import Managers
    from managers.contexts import ContextStore
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    store = ContextStore(env.base / "fanout-contexts")
    for h, address in addresses.items():
        store.create(h, address, namespace=ns)
    facade = Managers(address=env.address, namespace=ns, root=env.root, run_root=env.run_root,
                      contexts_dir=store.directory)
    runtime = Runtime(managers_factory=lambda: facade, stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO(),
                      env={**os.environ, "POUCHSH_ROOT": str(env.root), "POUCHSH_RUN": str(env.run_root)})
    session = Session(runtime)

    def shell(text: str) -> None:
        session.execute(session.compile(text, "bench.pouch"))

    return facade, shell
