"""``checkpoint create|ls|rm`` (docker's forms; ``start --checkpoint NAME`` restores): CRIU checkpoints
of running containers through containerd (managers.checkpoints). CRIU must pass ``criu check`` here."""

from __future__ import annotations

from typing import Any

from pouchsh.signature import Example, Flag, Param, command

_CONTAINER = Param("container", type="container", help="Container")


@command(
    "checkpoint create",
    help="Checkpoint a running container with CRIU (it stops, unless --leave-running)",
    description="Restore with `start --checkpoint NAME CONTAINER`. Needs a CRIU that works with this kernel.",
    params=[_CONTAINER, Param("name", help="Checkpoint name")],
    flags=[Flag("leave-running", help="Keep the container running after the checkpoint")],
    examples=[Example("checkpoint create web before", "Checkpoint web as before, stopping it"),
              Example("checkpoint create --leave-running web snap", "Keep it running")],
    category="container",
)
def checkpoint_create(ctx: Any, container: str, name: str, leave_running: bool) -> dict[str, Any]:
    return ctx.managers.checkpoints.create(container, name, leave_running=leave_running)  # type: ignore[no-any-return]


@command(
    "checkpoint ls",
    help="A container's checkpoints",
    aliases=["checkpoint list"],
    params=[_CONTAINER],
    examples=[Example("checkpoint ls web", "web's checkpoints")],
    category="container",
)
def checkpoint_ls(ctx: Any, container: str) -> list[Any]:
    return ctx.managers.checkpoints.list(container)  # type: ignore[no-any-return]


@command(
    "checkpoint rm",
    help="Remove a container's checkpoint",
    aliases=["checkpoint remove"],
    params=[_CONTAINER, Param("name", help="Checkpoint name")],
    examples=[Example("checkpoint rm web before", "Forget web's checkpoint before")],
    category="container",
)
def checkpoint_rm(ctx: Any, container: str, name: str) -> str:
    return ctx.managers.checkpoints.remove(container, name)  # type: ignore[no-any-return]
