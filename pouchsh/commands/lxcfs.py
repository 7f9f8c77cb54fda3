"""``system lxcfs``: the lxcfs that ``run --enable-lxcfs`` containers use (managers.lxcfs)."""

from __future__ import annotations

from typing import Any

from pouchsh.signature import Example, Flag, command


@command(
    "system lxcfs",
    help="Start lxcfs if needed and re-attach the /proc files of running --enable-lxcfs containers",
    description=(
        "After lxcfs restarts, the files bound into running containers fail with 'Transport endpoint is "
        "not connected' until re-attached: this re-binds every dead or stale one (run --enable-lxcfs "
        "does it too when it finds lxcfs stopped). --status only reports; --stop stops pouchsh's own lxcfs."
    ),
    flags=[Flag("status", help="Only report whether lxcfs runs, and where"),
           Flag("stop", help="Stop the lxcfs pouchsh started (containers' files go dead until it runs again)")],
    examples=[Example("system lxcfs", "Make sure lxcfs runs and every container's files answer"),
              Example("system lxcfs --status | get running", "Is it running?")],
    category="system",
)
def system_lxcfs(ctx: Any, status: bool, stop: bool) -> Any:
    if stop:
        return {"stopped": ctx.managers.lxcfs.stop()}
    return ctx.managers.lxcfs.status() if status else ctx.managers.lxcfs.refresh()
