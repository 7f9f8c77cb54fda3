"""``upgrade``: replace containers with ones from a new image, keeping everything else (managers.upgrade),
one at a time or ``--max-parallel`` at once when a list is piped in, stopping at the first failure."""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh.signature import Example, Flag, Param, command

__all__: list[str] = []


@command(
    "upgrade",
    help="Replace containers with ones from a new image, keeping name, config, volumes, networks and ports",
    description=(
        "The new container must be healthy (with a healthcheck) or still running after --grace; otherwise it "
        "is removed and the old one comes back, as it does on any failure, Ctrl-C or kill -9. Piped containers "
        "are upgraded in a rolling way, --max-parallel at a time; the first failure stops the roll (those "
        "already upgraded stay upgraded) and is the command's error."
    ),
    params=[Param("containers", type="container", required=False, rest=True, help="Containers")],
    flags=[
        Flag("image", type="image", help="The new image"),
        Flag("max-parallel", type="int", default=1, help="How many to upgrade at once (rolling)"),
        Flag("grace", type="duration", help="Without a healthcheck: how long the new container must keep running (default 5s)"),
        Flag("timeout", type="duration", help="With a healthcheck: how long to wait for healthy (default: no limit)"),
    ],
    examples=[
        Example("upgrade web --image busybox:latest", "web, from another image"),
        Example("ps --filter label=app=web | upgrade --image busybox:latest --max-parallel 2", "A rolling upgrade"),
    ],
    input="any",
    category="container",
)
def upgrade(ctx: Any, containers: list[str], image: str | None, max_parallel: int, grace: Any, timeout: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    from ctrd.errors import InvalidArgument

    if not image:
        raise InvalidArgument("upgrade: --image is required")
    if max_parallel < 1:
        raise InvalidArgument("--max-parallel: at least 1")
    refs = targets(ctx, containers, "container", keys=("id", "name"))
    seconds = {k: None if v is None else int(v) / 1e9 for k, v in (("grace", grace), ("timeout", timeout))}

    def one(ref: str) -> Any:
        return ctx.managers.upgrades.upgrade(ref, image=image, cancel=ctx.cancel, **seconds)

    done: list[Any] = []
    if ctx.dry_run or max_parallel == 1:
        for ref in refs:
            done.append(one(ref))
        return one_or_all(done, len(containers or ()) == 1)
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="upgrade") as pool:
        for start in range(0, len(refs), max_parallel):
            batch = [pool.submit(one, ref) for ref in refs[start:start + max_parallel]]
            failures = [f.exception() for f in batch if f.exception() is not None]
            done += [f.result() for f in batch if f.exception() is None]
            if failures:
                raise failures[0]  # type: ignore[misc]
    return done
