"""Failpoints: named moments at which a test can have pouchsh SIGKILL itself, to prove that a ``kill -9``
at that exact step leaves nothing the next invocation does not reconcile.

    faults.point("network.cni-add.after")   # dies here when POUCHSH_FAULT=network.cni-add.after

The environment is read once, at import; with ``POUCHSH_FAULT`` unset a point is one comparison with None.
A kill from outside (a CI time-out) lands at a random moment; a failpoint makes the bad moments
repeatable, one test per step.
"""

from __future__ import annotations

import os
import signal

__all__ = ["point"]

_ARMED: str | None = os.environ.get("POUCHSH_FAULT") or None


def point(name: str) -> None:
    """SIGKILL this process when ``name`` is the armed failpoint; nothing otherwise."""
    if _ARMED is not None and _ARMED == name:
        os.kill(os.getpid(), signal.SIGKILL)
