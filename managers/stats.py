"""``stats``: containers' resource use, sampled from containerd's task metrics (one Tasks.Metrics call
for every container asked about) and, for network I/O, from the host's /proc for the task's process
(its network namespace's interface counters: the container's own files are never read).

A sample holds cumulative counters; the figures docker shows as rates (the CPU percentage) need two
samples, which ``row`` combines. pouchd's stats endpoint and the shell's ``stats`` read the same samples.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ctrd.errors import Conflict
from managers.resolver import name_of

if TYPE_CHECKING:
    from managers.containers import ContainerManager

__all__ = ["net_io", "row", "sample"]

#: /proc/PID/net/dev is a line per interface; a namespace with thousands of them is not a container's
_NET_DEV_MAX = 1 << 20


def sample(manager: ContainerManager, refs: Iterable[str], *, all: bool = False) -> builtins.list[dict[str, Any]]:
    """One sample per container: {id, name, running, read (RFC 3339), cpu_ns, system_cpu_ns,
    online_cpus, memory_bytes, memory_limit, pids, pids_limit, block_read, block_write, net_rx,
    net_tx}; None where the cgroup does not say. Without ``refs``, the running containers (every one
    with ``all``). A named container that is not running is a Conflict unless ``all`` is given, when it
    gets a sample whose figures are None, as docker shows a stopped container in ``stats -a``."""
    names = builtins.list(refs)
    if names:
        found = manager.resolver.get_all(names)
    else:
        ids = [r["id"] for r in manager.list(all=all, no_trunc=True)]
        found = manager.resolver.get_all(ids) if ids else []
    client = manager.client
    pids = {t.container_id or t.id: t.pid for t in client.tasks.list() if t.status in ("running", "paused")}
    wanted = [c.id for c in found if c.id in pids]
    metrics = {m.container_id: m for m in client.tasks.metrics(wanted)} if wanted else {}
    system = system_cpu_ns()
    now = datetime.now(UTC)
    out = []
    for c in found:
        m = metrics.get(c.id)
        if m is None and not all:
            raise Conflict(f"container {name_of(c)} is not running")
        rx, tx = net_io(pids[c.id]) if m is not None else (None, None)
        out.append({
            "id": c.id, "name": name_of(c), "running": m is not None,
            "read": _stamp(m.timestamp if m is not None and m.timestamp else now),
            "cpu_ns": _get(m, "cpu_ns"), "system_cpu_ns": system, "online_cpus": os.cpu_count() or 1,
            "memory_bytes": _get(m, "memory_bytes"), "memory_limit": _get(m, "memory_limit"),
            "pids": _get(m, "pids"), "pids_limit": _get(m, "pids_limit"),
            "block_read": _get(m, "block_read"), "block_write": _get(m, "block_write"),
            "net_rx": rx, "net_tx": tx,
        })
    return out


def row(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The figures docker's ``stats`` shows, from a sample and the one before it of the same container:
    {id, name, cpu_percent, memory_usage, memory_limit, memory_percent, net_rx, net_tx, block_read,
    block_write, pids}. The CPU percentage is the container's share of the host's CPU time between the
    two samples, times the number of CPUs (docker's formula: 100% is one CPU busy); 0.0 with no
    earlier sample, and None (as every figure) for a container that is not running."""
    running = current.get("running", True)
    limit = _real_limit(current.get("memory_limit"))
    usage = current.get("memory_bytes")
    percent = None
    if running:
        percent = 0.0
        if previous is not None and previous.get("running", True):
            cpu = _delta(current.get("cpu_ns"), previous.get("cpu_ns"))
            system = _delta(current.get("system_cpu_ns"), previous.get("system_cpu_ns"))
            if cpu is not None and system:
                percent = round(cpu / system * (current.get("online_cpus") or 1) * 100.0, 2)
    return {
        "id": current["id"], "name": current["name"],
        "cpu_percent": percent,
        "memory_usage": usage,
        "memory_limit": limit,
        "memory_percent": round(usage / limit * 100.0, 2) if running and usage is not None and limit else None,
        "net_rx": current.get("net_rx"), "net_tx": current.get("net_tx"),
        "block_read": current.get("block_read"), "block_write": current.get("block_write"),
        "pids": current.get("pids"),
    }


def net_io(pid: int) -> tuple[int | None, int | None]:
    """Bytes received and sent on every interface but loopback of the network namespace ``pid`` is in
    (the host's /proc/PID/net/dev, which the kernel answers for that process's namespace)."""
    try:
        fd = os.open(f"/proc/{int(pid)}/net/dev", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        data = os.read(fd, _NET_DEV_MAX)
    except OSError:
        return None, None
    finally:
        os.close(fd)
    rx = tx = 0
    for line in data.decode("ascii", "replace").splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or name.strip() == "lo" or len(fields) < 9:
            continue
        try:
            rx, tx = rx + int(fields[0]), tx + int(fields[8])
        except ValueError:
            continue
    return rx, tx


def system_cpu_ns() -> int | None:
    """The host's total CPU time (all CPUs, all states) from /proc/stat, in nanoseconds."""
    try:
        with open("/proc/stat") as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    return sum(int(x) for x in first[1:8]) * (10**9 // (os.sysconf("SC_CLK_TCK") or 100))


def _get(m: Any, field: str) -> Any:
    return None if m is None else getattr(m, field)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _delta(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None or now < before else now - before


def _real_limit(limit: int | None) -> int | None:
    """A cgroup v1 "no limit" is a huge page-rounded number: the host's memory is the real bound then."""
    if limit is None:
        return None
    try:
        host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return limit
    return min(limit, host) if limit else host
