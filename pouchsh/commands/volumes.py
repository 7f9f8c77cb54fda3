"""Declarations of the volume commands: ``volume create ls inspect rm prune`` (docker's spellings).

Records are documented in docs/commands/volumes.md; the manager is ``managers.volumes.VolumeManager``.
"""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh import listings
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import Size
from pouchsh.views import FORMAT, INSPECT_FORMAT, NO_TRUNC, show_name

__all__: list[str] = []

_CAT = "volume"


@command(
    "volume create",
    help="Create a volume",
    description=(
        "With no name, an anonymous volume with a random 64-hex name is made. Creating a volume that "
        "exists already returns it (as docker does) unless other labels or options are given."
    ),
    params=[Param("name", type="volume", required=False, help="Volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)")],
    flags=[
        Flag("driver", short="d", type="string", default="local", help="Volume driver (only local)"),
        Flag("label", short="l", type="string", repeat=True, help="Set metadata (KEY=VALUE)"),
        Flag("opt", short="o", type="string", repeat=True, help="Driver option (KEY=VALUE); the local driver takes none"),
    ],
    examples=[
        Example("volume create data", "Create the volume data"),
        Example("volume create --label app=shop cache", "A volume with a label"),
    ],
    category=_CAT,    show=show_name,
)
def volume_create(ctx: Any, name: str | None, driver: str, label: list[str], opt: list[str]) -> dict[str, Any]:
    from managers.options import parse_key_values

    labels = parse_key_values(label, "--label")
    options = parse_key_values(opt, "--opt", need_value=True)
    return ctx.managers.volumes.create(name, driver=driver, labels=labels, options=options)


@command(
    "volume ls",
    help="List volumes",
    aliases=["volume list"],
    flags=[
        Flag("quiet", short="q", help="Only names"),
        Flag("filter", short="f", type="string", repeat=True,
             help="Filter: name=SUBSTR, label=KEY[=VALUE], driver=local, dangling=true|false"),
        NO_TRUNC,
        FORMAT,
    ],
    examples=[
        Example("volume ls", "Every volume of the namespace"),
        Example("volume ls --filter dangling=true", "Volumes no container uses"),
        Example("volume ls | where labels.app? == shop | volume rm", "Remove the volumes labelled app=shop"),
        Example("volume ls --format '{{.Name}} {{.Label \"app\"}}'", "docker's --format"),
    ],
    category=_CAT,
    view=listings.VOLUMES,
)
def volume_ls(ctx: Any, quiet: bool, filter: list[str], no_trunc: bool) -> list[Any]:
    records = ctx.managers.volumes.list(filters=filter)
    if quiet:
        return [r["name"] for r in records]
    return records


@command(
    "volume inspect",
    help="Show volumes in detail",
    params=[Param("names", type="volume", rest=True, help="Volume names")],
    examples=[Example("volume inspect data", "The record of the volume data"),
              Example("(volume inspect data).mountpoint", "Where its data lives on the host"),
              Example("volume inspect -f '{{.Mountpoint}}' data", "docker's inspect fields")],
    flags=[INSPECT_FORMAT],
    category=_CAT,
    view=listings.VOLUME_INSPECT,
)
def volume_inspect(ctx: Any, names: list[str]) -> Any:
    from ctrd.errors import InvalidArgument

    if not names:
        raise InvalidArgument("volume inspect: give at least one volume name")
    return one_or_all([ctx.managers.volumes.inspect(n) for n in names], len(names) == 1)


@command(
    "volume rm",
    help="Remove volumes (refused for a volume a container uses)",
    aliases=["volume remove"],
    params=[Param("names", type="volume", rest=True, help="Volume names (or piped records)")],
    flags=[Flag("force", short="f", help="A missing volume is not an error")],
    examples=[
        Example("volume rm data", "Remove the volume data"),
        Example("volume ls --filter dangling=true | volume rm", "Remove every unused volume"),
    ],
    input="any",
    category=_CAT,
)
def volume_rm(ctx: Any, names: list[str], force: bool) -> list[str]:
    refs = targets(ctx, names, "volume", required=not force)  # -f: nothing to remove is no error
    return ctx.managers.volumes.remove(refs, force=force) if refs else []


@command(
    "volume prune",
    help="Remove unused volumes: anonymous ones, or every unused one with --all",
    flags=[
        Flag("all", short="a", help="Also named volumes no container uses"),
        Flag("force", short="f", help="Do not ask (pouchsh never asks; accepted for docker's scripts)"),
        Flag("filter", type="string", repeat=True, help="Only volumes matching (label=KEY[=VALUE], name=…)"),
    ],
    examples=[Example("volume prune", "Remove unused anonymous volumes"),
              Example("volume prune -a", "Remove every volume no container uses")],
    category=_CAT,
)
def volume_prune(ctx: Any, all: bool, force: bool, filter: list[str]) -> dict[str, Any]:
    result = ctx.managers.volumes.prune(all=all, filters=filter)
    result["space_reclaimed"] = Size(result["space_reclaimed"])
    return result
