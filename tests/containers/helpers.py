"""Shared helpers of the container integration tests."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from managers.console import Stdio
from managers.options import CreateOptions


def opts(*args: str, **kw: Any) -> CreateOptions:
    """Create options for busybox; ``--network none`` unless a test asks for a network."""
    kw.setdefault("network", "none")
    return CreateOptions.parse("busybox", list(args), **kw)


def stdio(stdin: bytes | None = None) -> Stdio:
    return Stdio(stdin=io.BytesIO(stdin) if stdin is not None else None, stdout=io.BytesIO(), stderr=io.BytesIO())


def leftovers(facade: Any, roots: tuple[Path, Path]) -> dict[str, Any]:
    """Everything a container could leave behind: records, tasks, non-image snapshots, leases, names,
    state and FIFO directories."""
    client = facade.ctrd
    ns = facade.namespace
    snapshots = [s.name for s in client.snapshots.list() if s.kind.name.lower() == "active"]
    names_dir = roots[0] / "names" / ns
    state_dir = roots[0] / "containers" / ns
    fifo_dir = roots[1] / "fifo" / ns
    return {
        "containers": [c.id for c in client.containers.list()],
        "tasks": [t.id for t in client.tasks.list()],
        "active_snapshots": snapshots,
        "leases": [lease.id for lease in client.leases.list()],
        "names": sorted(p.name for p in names_dir.iterdir() if p.name not in (".lock", ".boot")) if names_dir.exists() else [],
        "state": sorted(os.listdir(state_dir)) if state_dir.exists() else [],
        "fifos": sorted(os.listdir(fifo_dir)) if fifo_dir.exists() else [],
    }


EMPTY = {"containers": [], "tasks": [], "active_snapshots": [], "leases": [], "names": [], "state": [], "fifos": []}
