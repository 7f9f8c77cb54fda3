"""Running containers: host memory pouchsh adds per idle running container, beside containerd's shim.

``n`` (200; 20 with --quick) ``run -d --network none busybox sleep 3600`` from one pouchsh script, then,
once all run, the resident memory (VmRSS, from /proc) of every process pouchsh added for them: the log
collector of the bench's data root (``ctrd/logd.py``). The shims (``containerd-shim-runc-v2 -namespace NS``) are
summed as the reference: the per-container cost containerd itself has. The logs are checked too: every
container's first line is in its log, read by the collector. Target: ≤ 1 MiB a container.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench import Env, Figure

SCRIPT = "for i in 1..{n} {{ run -d --network none busybox sh -c 'echo started $i; exec sleep 3600' }}"


def _processes() -> list[tuple[int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                out.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def added_and_shims(root: Path, namespace: str) -> tuple[list[int], list[int]]:
    """Pids of the processes pouchsh added for ``root`` (its log collectors) and of the
    shims of ``namespace``."""
    added, shims = [], []
    for pid, cmdline in _processes():
        if str(root) in cmdline and "ctrd/logd.py" in cmdline:
            added.append(pid)
        elif "containerd-shim" in cmdline and f"-namespace {namespace} " in cmdline:
            shims.append(pid)
    return added, shims


def run(env: Env) -> list[Figure]:
    n = 20 if env.quick else 200
    ns = env.namespace("running")
    env.compile_sources()
    start = time.monotonic()
    env.pouchsh(ns, "-c", SCRIPT.format(n=n), timeout=1800)
    started = time.monotonic() - start
    client = env.client.with_namespace(ns)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = [t for t in client.tasks.list() if t.status == "running"]
        if len(running) >= n:
            break
        time.sleep(0.5)
    logs = list((env.root / "containers" / ns).glob("*/*-json.log"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for p in logs if b"started" in p.read_bytes()) < n:
        time.sleep(0.5)
        logs = list((env.root / "containers" / ns).glob("*/*-json.log"))
    logged = sum(1 for p in logs if b"started" in p.read_bytes())
    added, shims = added_and_shims(env.root, ns)
    added_kib = sum(_rss_kib(p) for p in added)
    shim_kib = sum(_rss_kib(p) for p in shims)
    env.pouchsh(ns, "-c", "ps -a | each {|c| rm -f $c.id }", timeout=1800)
    per = added_kib / 1024 / n
    return [
        Figure(
            f"resident memory pouchsh adds per running container ({n} idle containers)", per, "MiB",
            reference=shim_kib / 1024 / max(len(shims), 1), reference_name="containerd's shim per container",
            target="≤ 1 MiB", met=per <= 1.0,
            note=(f"{len(added)} process(es) added, {added_kib / 1024:.1f} MiB in all; {len(shims)} shims, "
                  f"{shim_kib / 1024:.0f} MiB; {logged}/{n} logs hold the first line; "
                  f"started in {started:.1f} s ({started / n * 1000:.0f} ms a container)"),
        ),
    ]
