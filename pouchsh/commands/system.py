"""Declarations of the system commands: ``info version events system df|prune|containerd`` and
``namespace ls|create|rm|use``.

Records are documented in docs/commands/system.md; the manager is ``managers.system.SystemManager``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pouchsh import listings
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import Size, Stream
from pouchsh.views import FORMAT

__all__: list[str] = []

_CAT = "system"


def _moment(text: str, *, forward: bool, flag: str) -> datetime:
    """``events --since/--until`` by docker's rules (managers.times); a duration for --until counts
    forward, since containerd keeps no event history to look back into."""
    from managers.times import parse_time

    ns = parse_time(text, flag, forward=forward)
    assert ns is not None
    return datetime.fromtimestamp(ns / 1e9, UTC)


@command(
    "info",
    help="containerd, runtime and the counts of containers, images, volumes and networks",
    aliases=["system info"],
    examples=[Example("info", "Everything at a glance"), Example("(info).containers_running", "How many run")],
    category=_CAT,
)
def info(ctx: Any) -> dict[str, Any]:
    record = ctx.managers.system.info()
    record["memory"] = Size(record["memory"])
    return record


@command(
    "version",
    help="pouchsh's version and containerd's version and revision",
    examples=[Example("version", "Client and server versions")],
    category=_CAT,
)
def version(ctx: Any) -> dict[str, Any]:
    return ctx.managers.system.version()


@command(
    "system containerd",
    help="Which containerd pouchsh uses, where, and whether pouchsh started (manages) it",
    examples=[Example("system containerd", "The containerd in use")],
    category=_CAT,
)
def system_containerd(ctx: Any) -> dict[str, Any]:
    return ctx.managers.system.containerd()


@command(
    "system df",
    help="Disk use of images, containers and volumes, and how much prune would reclaim",
    examples=[Example("system df", "One row per kind"),
              Example("system df | where type == volumes | get reclaimable", "Reclaimable volume space")],
    category=_CAT,
)
def system_df(ctx: Any) -> list[dict[str, Any]]:
    rows = ctx.managers.system.df()
    for row in rows:
        row["size"] = Size(row["size"])
        row["reclaimable"] = Size(row["reclaimable"])
    return rows


@command(
    "system prune",
    help="Remove stopped containers, unused networks and dangling images (and more with -a, --volumes)",
    flags=[
        Flag("all", short="a", help="Every unused image, not only dangling ones (and every unused volume with --volumes)"),
        Flag("volumes", help="Also unused volumes"),
        Flag("force", short="f", help="Do not ask (pouchsh never asks; accepted for docker's scripts)"),
    ],
    examples=[Example("system prune", "The usual clean-up"),
              Example("system prune -a --volumes", "Everything no container uses")],
    category=_CAT,
)
def system_prune(ctx: Any, all: bool, volumes: bool, force: bool) -> dict[str, Any]:
    return ctx.managers.system.prune(all=all, volumes=volumes)


@command(
    "events",
    help="Stream containerd's events as records (type action id name time attributes)",
    description=(
        "The stream starts now (containerd keeps no history) and runs until Ctrl-C, until --until, or "
        "until a later filter such as `first` stops reading."
    ),
    aliases=["system events"],
    flags=[
        Flag("filter", short="f", type="string", repeat=True,
             help="type=, action= (or event=), container= (id or name), image=, network=, volume=, "
                  "label=KEY[=VALUE]; repeated keys are OR'd (label: AND'd)"),
        Flag("since", type="string", help="Drop events stamped before this time or duration ago"),
        Flag("until", type="string", help="Stop at this time, or after this duration"),
        FORMAT,
    ],
    examples=[
        Example("events | where action == die | first 3", "Wait for three containers to exit"),
        Example("events --filter container=web --until 30s", "Events of web for 30 seconds"),
        Example("events --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}' --until 1s",
                "docker's --format over docker's event message"),
    ],
    category=_CAT,
    view=listings.EVENTS,
)
def events(ctx: Any, filter: list[str], since: str | None, until: str | None) -> Stream:
    records = ctx.managers.system.events(
        filters=filter,
        since=_moment(since, forward=False, flag="--since") if since else None,
        until=_moment(until, forward=True, flag="--until") if until else None,
        cancel=getattr(ctx, "cancel", None),
    )
    return Stream(records, close=getattr(records, "close", None))


@command(
    "namespace ls",
    help="List containerd namespaces (current marks the one in use)",
    aliases=["namespace list"],
    flags=[Flag("quiet", short="q", help="Only names"), FORMAT],
    examples=[Example("namespace ls", "Every namespace"),
              Example("namespace ls --format '{{.Name}}'", "docker-style --format")],
    category=_CAT,
    view=listings.NAMESPACES,
)
def namespace_ls(ctx: Any, quiet: bool) -> list[Any]:
    records = ctx.managers.system.namespaces()
    return [r["name"] for r in records] if quiet else records


@command(
    "namespace create",
    help="Create a containerd namespace",
    params=[Param("name", type="namespace", help="Namespace name")],
    flags=[Flag("label", short="l", type="string", repeat=True, help="Set metadata (KEY=VALUE)")],
    examples=[Example("namespace create staging", "A namespace for staging")],
    category=_CAT,
)
def namespace_create(ctx: Any, name: str, label: list[str]) -> dict[str, Any]:
    return ctx.managers.system.namespace_create(name, labels=label)


@command(
    "namespace rm",
    help="Remove empty namespaces",
    aliases=["namespace remove"],
    params=[Param("names", type="namespace", rest=True, help="Namespace names")],
    examples=[Example("namespace rm staging", "Remove the (empty) namespace staging")],
    category=_CAT,
)
def namespace_rm(ctx: Any, names: list[str]) -> list[str]:
    from ctrd.errors import InvalidArgument

    if not names:
        raise InvalidArgument("namespace rm: give at least one namespace name")
    return ctx.managers.system.namespace_remove(names)


@command(
    "namespace use",
    help="Use a namespace for the rest of the session or script",
    params=[Param("name", type="namespace", help="Namespace name (it must exist)")],
    examples=[Example("namespace use staging; ps", "Containers of staging")],
    category=_CAT,
)
def namespace_use(ctx: Any, name: str) -> dict[str, Any]:
    return ctx.managers.system.namespace_use(name)
