"""Shell commands: `sleep`, `env`, `cd`."""

from __future__ import annotations

import os
from typing import Any

from ctrd.errors import Interrupted, InvalidArgument, NotFound
from pouchsh.signature import Example, Param, command
from pouchsh.values import Duration


@command(
    "sleep",
    help="Wait for a while (Ctrl-C stops the wait)",
    params=[Param("duration", type="duration", help="How long: 500ms, 10s, 2m; a plain number is seconds")],
    examples=[
        Example("sleep 100ms", "A tenth of a second", output=""),
        Example("while (ps | where name == job | length) > 0 { sleep 1s }", "Wait for a container to go"),
    ],
    category="shell",
)
def sleep(ctx: Any, duration: Duration) -> None:
    if duration < 0:
        raise InvalidArgument(f"sleep: the duration must not be negative, got {duration}")
    if ctx.cancel.wait(int(duration) / 1e9):
        raise Interrupted("sleep: interrupted")


@command(
    "env",
    help="The environment as a table of name and value",
    examples=[Example("env | where name == HOME | get value.0", "The home directory")],
    category="shell",
)
def env(ctx: Any) -> list[dict[str, str]]:
    return [{"name": name, "value": ctx.env[name]} for name in sorted(ctx.env)]


@command(
    "cd",
    help="Change the working directory (where ^programs run and relative paths point)",
    description="With no directory, go home; `cd -` goes back to the previous directory.",
    params=[Param("directory", type="path", required=False, help="Directory, absolute or relative")],
    examples=[
        Example("cd /tmp; ^pwd", "Host programs run in the new directory", output="/tmp"),
        Example("cd -", "Back to the previous directory"),
    ],
    category="shell",
)
def cd(ctx: Any, directory: str | None) -> None:
    if directory is None:
        target = ctx.env.get("HOME") or os.path.expanduser("~")
    elif directory == "-":
        target = ctx.env.get("OLDPWD")
        if not target:
            raise InvalidArgument("cd: there is no previous directory")
    else:
        target = os.path.expanduser(directory) if directory.startswith("~") else directory
    path = os.path.normpath(os.path.join(ctx.cwd, target))
    if not os.path.exists(path):
        raise NotFound(f"cd: no such directory: {directory}")
    if not os.path.isdir(path):
        raise InvalidArgument(f"cd: not a directory: {directory}")
    if not os.access(path, os.X_OK):
        raise InvalidArgument(f"cd: permission denied: {directory}")
    ctx.env["OLDPWD"] = ctx.cwd
    ctx.env["PWD"] = path
    ctx.cwd = path
