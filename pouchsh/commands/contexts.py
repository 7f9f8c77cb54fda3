"""``context create|ls|rm|inspect|use``: named containerd endpoints (managers.contexts), and the one a
session talks to. ``--context a,b`` on a manager command runs it on several (pouchsh.fanout)."""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh.signature import Example, Flag, Param, command

_CAT = "context"


@command(
    "context create",
    help="Store a context: a containerd socket, or a pouchd (tcp:// with mutual TLS), to run commands on",
    description=(
        "The context is one file, 0600, under the config directory (contexts/NAME.json). A tcp:// address is "
        "a remote pouchd, reached with mutual TLS (--tlscacert, --tlscert, --tlskey, all three); a unix socket "
        "is containerd's, or a pouchd's with --pouchd. A pouchd context serves ps, inspect, rm, logs, run -d, "
        "images and pull through its Docker API, given as --context NAME (docs/SCALE.md)."
    ),
    params=[Param("name", help="Context name")],
    flags=[
        Flag("address", type="string", help="unix:///PATH (containerd, or pouchd with --pouchd) or tcp://HOST:PORT (pouchd)"),
        Flag("namespace", short="n", type="namespace", default="default", help="containerd namespace"),
        Flag("description", type="string", default="", help="What this context is"),
        Flag("pouchd", help="The unix socket is a pouchd's (its Docker API), not containerd's"),
        Flag("tlscacert", type="string", help="CA that signed the pouchd's certificate (tcp://)"),
        Flag("tlscert", type="string", help="This client's certificate (tcp://)"),
        Flag("tlskey", type="string", help="This client's key, readable only by you (tcp://)"),
    ],
    examples=[
        Example("context create build1 --address unix:///run/build1/containerd.sock",
                "A second containerd on this machine"),
        Example("context create ci --address /run/containerd/containerd.sock -n ci", "Its namespace ci"),
        Example("context create edge --address tcp://10.0.0.7:2376 --tlscacert ca.pem --tlscert cert.pem --tlskey key.pem",
                "A remote host's pouchd, with mutual TLS"),
    ],
    category=_CAT,
)
def context_create(ctx: Any, name: str, address: str | None, namespace: str, description: str, pouchd: bool,
                   tlscacert: str | None, tlscert: str | None, tlskey: str | None) -> dict[str, Any]:
    from ctrd.errors import InvalidArgument

    if not address:
        raise InvalidArgument("context create: --address is required (unix:///PATH or tcp://HOST:PORT)")
    import os

    def here(path: str | None) -> str | None:
        return None if path is None else os.path.join(ctx.cwd, os.path.expanduser(path))

    store = ctx.managers.contexts
    created = store.create(name, address, namespace=namespace, description=description, pouchd=pouchd,
                           tlscacert=here(tlscacert), tlscert=here(tlscert), tlskey=here(tlskey))
    return created.record(store.current())  # type: ignore[no-any-return]


@command(
    "context ls",
    help="List the stored contexts (current marks the one in use)",
    aliases=["context list"],
    flags=[Flag("quiet", short="q", help="Only names")],
    examples=[
        Example("context ls", "Every context"),
        Example("context ls | where current", "The one in use"),
        Example("ps -a --context all | where status == exited | rm", "Remove exited containers on every context"),
    ],
    category=_CAT,
)
def context_ls(ctx: Any, quiet: bool) -> list[Any]:
    store = ctx.managers.contexts
    in_use = ctx.managers.context
    records = [c.record(in_use) for c in store.list()]
    return [r["name"] for r in records] if quiet else records


@command(
    "context inspect",
    help="A context's record",
    params=[Param("names", rest=True, help="Context names (default: the current one)")],
    examples=[Example("context inspect build1", "Where build1 points")],
    input="any",
    category=_CAT,
)
def context_inspect(ctx: Any, names: list[str]) -> Any:
    store = ctx.managers.contexts
    in_use = ctx.managers.context
    wanted = targets(ctx, names, "context", required=False)
    if not wanted:
        if in_use is None:
            return {"name": "default", "current": True, "address": ctx.managers.address or "",
                    "namespace": ctx.managers.namespace, "description": "the session's own endpoint"}
        wanted = [in_use]
    return one_or_all([store.get(n).record(in_use) for n in wanted], bool(names) or ctx.input is None)


@command(
    "context rm",
    help="Remove stored contexts",
    aliases=["context remove"],
    params=[Param("names", rest=True, help="Context names")],
    flags=[Flag("force", short="f", help="Also the current context (the current one becomes default)")],
    examples=[Example("context rm build1", "Forget build1")],
    input="any",
    category=_CAT,
)
def context_rm(ctx: Any, names: list[str], force: bool) -> list[str]:
    store = ctx.managers.contexts
    removed = []
    for name in targets(ctx, names, "context"):
        if name == ctx.managers.context and not force:
            from ctrd.errors import InvalidArgument

            raise InvalidArgument(f"context {name} is in use by this session", hint="context use default, or rm -f")
        removed.append(store.remove(name, force=force))
    return removed


@command(
    "context use",
    help="Run every later command on this context, here and in later sessions",
    description="`default` goes back to the endpoint the session started on (--address, the settings file).",
    params=[Param("name", help="Context name, or default")],
    examples=[Example("context use build1; ps", "Containers of build1"), Example("context use default", "Back")],
    category=_CAT,
)
def context_use(ctx: Any, name: str) -> dict[str, Any]:
    return ctx.managers.use_context(name)  # type: ignore[no-any-return]
