"""Declarations of the commands that look into containers: ``stats``, ``diff``, ``export`` and ``attach``,
also as ``container VERB``. Records are documented in docs/commands/containers.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pouchsh.commands.common import targets
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import Size

__all__: list[str] = []

_CAT = "container"
#: the first frame's CPU percentage needs a sample before it; a second is docker's refresh
_FIRST_INTERVAL = 0.5
_INTERVAL = 1.0
_SIZES = ("memory_usage", "memory_limit", "net_rx", "net_tx", "block_read", "block_write")


def _row(current: dict[str, Any], previous: dict[str, Any] | None, trunc: bool) -> dict[str, Any]:
    from managers.stats import row

    out = row(current, previous)
    if trunc:
        out["id"] = out["id"][:12]
    for key in _SIZES:
        if out[key] is not None:
            out[key] = Size(out[key])
    return out


def _frames(
    ctx: Any, refs: list[str], all: bool, trunc: bool, first: list[dict[str, Any]]
) -> Iterator[list[dict[str, Any]]]:
    """A table of the containers a frame, the first after a short first interval, then one a second,
    until Ctrl-C, the reader stops, or a named container is removed. Without names, containers that
    start meanwhile join the table (and those that stop leave it, unless ``all``)."""
    from ctrd.errors import NotFound

    manager = ctx.managers.containers
    cancel = ctx.cancel
    before = {s["id"]: s for s in first}
    wait = _FIRST_INTERVAL
    while not cancel.wait(wait):
        try:
            samples = manager.stats(refs, all=all or bool(refs))
        except NotFound:
            return
        yield [_row(s, before.get(s["id"]), trunc) for s in samples]
        before = {s["id"]: s for s in samples}
        wait = _INTERVAL


@command(
    "stats",
    help="Containers' resource use: CPU %, memory, network and block I/O, processes",
    description=(
        "On a terminal, a table redrawn every second until Ctrl-C; in a script or a pipeline, a stream "
        "of records (one per container per second) like events'. With --no-stream, one table of one "
        "sample (taken over half a second, for the CPU percentage). Without names, the running "
        "containers (-a: every one, stopped ones with empty figures)."
    ),
    params=[Param("containers", type="container", required=False, rest=True, help="Containers (default: running ones)")],
    flags=[
        Flag("all", short="a", help="All containers, not only running ones"),
        Flag("no-stream", help="One sample, then stop"),
        Flag("no-trunc", help="Full container ids"),
    ],
    examples=[
        Example("stats", "A live table of the running containers (Ctrl-C ends it)"),
        Example("stats --no-stream web", "One sample of web"),
        Example("stats web | first 5 | get memory_usage", "Five seconds of web's memory use"),
    ],
    aliases=["container stats"],
    input="any",
    category=_CAT,
)
def stats(ctx: Any, containers: list[str], all: bool, no_stream: bool, no_trunc: bool) -> Any:
    from ctrd.errors import Interrupted

    from pouchsh.livetable import Frames

    refs = targets(ctx, containers, "container", keys=("id", "name"), required=False)
    if ctx.has_input and not refs:
        return []  # an empty selection piped in: nothing to sample, as for the other verbs
    # Taken now, not when the stream is first read: a container that is not running (named without
    # -a) is an error of this statement. Once watched, one that stops stays in the table with empty
    # figures, as in docker's.
    first = ctx.managers.containers.stats(refs, all=all)
    frames = _frames(ctx, refs, all, not no_trunc, first)
    if not no_stream:
        return Frames(frames)
    try:
        for frame in frames:
            return frame
    finally:
        frames.close()
    raise Interrupted("stats interrupted")
