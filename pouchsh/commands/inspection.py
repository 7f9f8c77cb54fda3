"""Declarations of the commands that look into containers: ``stats``, ``diff``, ``export`` and ``attach``,
also as ``container VERB``. Records are documented in docs/commands/containers.md.
"""

from __future__ import annotations

import os
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
    if getattr(ctx, "dry_run", False):
        return Frames(iter([[_row(s, None, not no_trunc) for s in first]]))  # the calls, shown once
    frames = _frames(ctx, refs, all, not no_trunc, first)
    if not no_stream:
        return Frames(frames)
    try:
        for frame in frames:
            return frame
    finally:
        frames.close()
    raise Interrupted("stats interrupted")


@command(
    "diff",
    help="What a container changed in its filesystem: records {kind: A|C|D, path}",
    description=(
        "A: added, C: changed (it exists in the image), D: deleted; sorted by path, as docker diff. "
        "Read from the container's own layer (not its volumes), running or not."
    ),
    params=[Param("container", type="container", help="Container")],
    examples=[
        Example("diff web", "Everything web changed"),
        Example("diff web | where kind == A | get path", "The files web added"),
    ],
    aliases=["container diff"],
    category=_CAT,
)
def diff(ctx: Any, container: str) -> list[dict[str, str]]:
    return ctx.managers.containers.diff(container)


@command(
    "export",
    help="A container's filesystem as a tar archive",
    description=(
        "Its own layer over the image's (not its volumes, /proc or /sys), running or not. With -o the "
        "archive is written to a temporary file renamed into place once complete, so a failed export "
        "leaves no partial file (nor does a killed one, once the next command has run); without, it goes to standard output, which must not be a terminal."
    ),
    params=[Param("container", type="container", help="Container")],
    flags=[Flag("output", short="o", type="path", help="Write to this file instead of standard output")],
    examples=[
        Example("export -o web.tar web", "web's filesystem in web.tar"),
        Example("export -o web.tar web; ^tar -tf web.tar | lines | first 5", "The first entries of web's filesystem"),
    ],
    aliases=["container export"],
    category=_CAT,
)
def export(ctx: Any, container: str, output: str | None) -> dict[str, Any] | None:
    from pathlib import Path

    from ctrd.errors import InvalidArgument
    from managers.hostwrite import write_file

    manager = ctx.managers.containers
    if not output:
        if ctx.is_terminal:
            raise InvalidArgument("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout")
        manager.export(container, ctx.stdout)
        return None
    path = os.path.join(ctx.cwd, output)
    if getattr(ctx, "dry_run", False):
        manager.export(container, path)  # shown, not made: no file either
        return {"container": container, "path": path, "size": Size(0)}
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise InvalidArgument(f"export -o {output}: no such directory")
    record = write_file(Path(path), ctx.managers.root, "export", lambda out: manager.export(container, out))
    return {"container": record["container"], "path": path, "size": Size(os.stat(path).st_size)}


@command(
    "attach",
    help="Attach to a running container: its output, and input into one made with -i -t",
    description=(
        "Output from now on, as the container writes it to its log (whole lines: a prompt shows once "
        "its line ends), until the container exits ($status is its exit status), the detach keys "
        "(ctrl-p,ctrl-q unless --detach-keys or detach-keys in the config file say otherwise) leave it "
        "running ($status 0), or Ctrl-C detaches (the container is sent SIGINT first unless "
        "--sig-proxy=false; to a -t container Ctrl-C is input). Input is forwarded to a container made "
        "with -i -t, whose stdin the shim holds open; a -i container without -t takes no input when "
        "detached, so attaching to it needs --no-stdin. Escape sequences in the output reach the "
        "terminal only from a container made with -t; otherwise they are shown escaped."
    ),
    params=[Param("container", type="container", help="Container")],
    flags=[
        Flag("detach-keys", type="string", help="Keys that detach and leave the container running (default ctrl-p,ctrl-q)"),
        Flag("no-stdin", help="Do not forward input (required for a container made with -i but not -t)"),
        Flag("sig-proxy", default=True, help="Send the container SIGINT on Ctrl-C before detaching (default true)"),
    ],
    examples=[
        Example("attach web", "web's output until it exits"),
        Example("run -dit --name box busybox sh; attach box", "A shell to come back to (ctrl-p ctrl-q leaves it)"),
        Example("attach --sig-proxy=false job; echo $status", "Watch job; Ctrl-C leaves it running"),
    ],
    aliases=["container attach"],
    category=_CAT,
)
def attach(ctx: Any, container: str, detach_keys: str | None, no_stdin: bool, sig_proxy: bool) -> None:
    from managers.console import Stdio

    if detach_keys is None:
        from managers.config import load

        detach_keys = load(ctx.env).detach_keys
    terminal = None
    try:
        if os.isatty(ctx.stdin.fileno()):
            terminal = ctx.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        terminal = None
    stdio = Stdio(stdin=ctx.stdin, stdout=ctx.stdout, stderr=ctx.stderr, cancel=ctx.cancel, terminal=terminal)
    code = ctx.managers.containers.attach(container, stdio, no_stdin=no_stdin, sig_proxy=sig_proxy,
                                          detach_keys=detach_keys)
    ctx.set_status(code)
    return None
