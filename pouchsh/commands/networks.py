"""Declarations of the network commands: ``network create ls inspect rm prune connect disconnect``.

Records are documented in docs/commands/networks.md; the manager is ``managers.networks.NetworkManager``.
"""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh import listings
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.views import FORMAT, INSPECT_FORMAT, NO_TRUNC, show_id, show_nothing

__all__: list[str] = []

_CAT = "network"


@command(
    "network create",
    help="Create a bridge network with its own subnet",
    description=(
        "Without --subnet a free /24 is chosen that overlaps no other network and no host route. "
        "A subnet that overlaps another network or a host route is refused (conflict)."
    ),
    params=[Param("name", type="network", help="Network name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)")],
    flags=[
        Flag("driver", short="d", type="string", default="bridge", help="Network driver (only bridge)"),
        Flag("subnet", type="string", help="Subnet in CIDR form, e.g. 10.10.0.0/24"),
        Flag("gateway", type="string", help="Gateway address (default: the subnet's first address)"),
        Flag("ip-range", type="string", help="Allocate container addresses from this sub-range (CIDR)"),
        Flag("internal", help="No gateway, no masquerading, no published ports"),
        Flag("label", short="l", type="string", repeat=True, help="Set metadata (KEY=VALUE)"),
        Flag("opt", short="o", type="string", repeat=True,
             help="Driver option: com.docker.network.driver.mtu=N (or mtu=N), com.docker.network.bridge.name=DEV"),
    ],
    examples=[
        Example("network create shop", "A network with an automatically chosen subnet"),
        Example("network create --subnet 10.10.0.0/24 --gateway 10.10.0.1 shop", "With a given subnet"),
        Example("network create --internal backend", "A network with no way out"),
    ],
    category=_CAT,    show=show_id,
)
def network_create(
    ctx: Any, name: str, driver: str, subnet: str | None, gateway: str | None, ip_range: str | None,
    internal: bool, label: list[str], opt: list[str],
) -> dict[str, Any]:
    from managers.options import parse_key_values

    return ctx.managers.networks.create(
        name, driver=driver, subnet=subnet, gateway=gateway, ip_range=ip_range, internal=internal,
        labels=parse_key_values(label, "--label"), options=parse_key_values(opt, "--opt", need_value=True),
    )


@command(
    "network ls",
    help="List networks (the predefined host and none included)",
    aliases=["network list"],
    flags=[
        Flag("quiet", short="q", help="Only ids (12 digits; full with --no-trunc), as docker's"),
        Flag("filter", short="f", type="string", repeat=True,
             help="Filter: name=SUBSTR, id=PREFIX, driver=bridge, label=KEY[=VALUE], type=builtin|custom"),
        NO_TRUNC,
        FORMAT,
    ],
    examples=[Example("network ls", "Every network"),
              Example("network ls --filter type=custom", "Only user-made networks"),
              Example("network ls -q --filter type=custom", "Their ids, as docker's -q (names: `network ls | get name`)"),
              Example("network ls --format '{{.Name}}: {{.Driver}}'", "docker's --format")],
    category=_CAT,
    view=listings.NETWORKS,
)
def network_ls(ctx: Any, quiet: bool, filter: list[str], no_trunc: bool) -> list[Any]:
    records = ctx.managers.networks.list(filters=filter)
    if quiet:
        # ids, as docker's -q: a script's `docker network ls -q | xargs docker network rm` ports unchanged
        # (network commands take an id prefix as they take a name)
        return [r["id"] if no_trunc else r["id"][:12] for r in records]
    return records


@command(
    "network inspect",
    help="Show networks in detail, with the containers attached",
    params=[Param("names", type="network", rest=True, help="Network names or ids")],
    examples=[Example("network inspect bridge", "The default network"),
              Example("(network inspect shop).containers | select name ip", "Who is on shop, at which address"),
              Example("network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' bridge", "Its subnet")],
    flags=[INSPECT_FORMAT],
    category=_CAT,
    view=listings.NETWORK_INSPECT,
)
def network_inspect(ctx: Any, names: list[str]) -> Any:
    from ctrd.errors import InvalidArgument

    if not names:
        raise InvalidArgument("network inspect: give at least one network name")
    return one_or_all([ctx.managers.networks.inspect(n) for n in names], len(names) == 1)


@command(
    "network rm",
    help="Remove networks no container is attached to",
    aliases=["network remove"],
    params=[Param("names", type="network", rest=True, help="Network names or ids (or piped records)")],
    flags=[Flag("force", short="f", help="A missing network is not an error")],
    examples=[Example("network rm shop", "Remove the network shop")],
    input="any",
    category=_CAT,
)
def network_rm(ctx: Any, names: list[str], force: bool) -> list[str]:
    refs = targets(ctx, names, "network", required=not force)  # -f: nothing to remove is no error
    return ctx.managers.networks.remove(refs, force=force) if refs else []


@command(
    "network prune",
    help="Remove every user network no container is attached to",
    flags=[
        Flag("force", short="f", help="Do not ask (pouchsh never asks; accepted for docker's scripts)"),
        Flag("filter", type="string", repeat=True, help="Only networks matching (label=KEY[=VALUE], name=…)"),
    ],
    examples=[Example("network prune", "Remove unused networks")],
    category=_CAT,
)
def network_prune(ctx: Any, force: bool, filter: list[str]) -> dict[str, Any]:
    return ctx.managers.networks.prune(filters=filter)


@command(
    "network connect",
    help="Attach a container to one more network (a container not running joins it at its next start)",
    params=[Param("network", type="network", help="Network name"),
            Param("container", type="container", help="Container name or id")],
    flags=[Flag("ip", type="string", help="The container's address on that network"),
           Flag("alias", type="string", repeat=True, help="One more name its peers on that network reach it by")],
    examples=[Example("network connect shop web", "web joins shop (and is reachable there by name)"),
              Example("network connect --alias db shop pg1", "pg1 is also 'db' to the containers on shop")],
    category=_CAT,
    show=show_nothing,
)
def network_connect(ctx: Any, network: str, container: str, ip: str | None, alias: list[str]) -> dict[str, Any]:
    return ctx.managers.networks.connect(network, container, ip=ip, aliases=alias)


@command(
    "network disconnect",
    help="Detach a container from a network",
    params=[Param("network", type="network", help="Network name"),
            Param("container", type="container", help="Container name or id")],
    flags=[Flag("force", short="f", help="Not connected is not an error")],
    examples=[Example("network disconnect shop web", "web leaves shop")],
    category=_CAT,
    show=show_nothing,
)
def network_disconnect(ctx: Any, network: str, container: str, force: bool) -> dict[str, Any]:
    return ctx.managers.networks.disconnect(network, container, force=force)
