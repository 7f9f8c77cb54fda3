"""Healthchecks: the create/run flags (``HEALTH_FLAGS``, laid over the image's HEALTHCHECK) and
``health check``, which probes containers once now. ``wait --condition healthy`` waits on them. There
is no daemon: the probes run in whichever pouchsh asks (managers.health says why and how)."""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh.signature import Example, Flag, Param, command

__all__ = ["HEALTH_FLAGS"]

HEALTH_FLAGS = [
    Flag("health-cmd", type="string", help="Command that checks health, run by /bin/sh -c in the container (exit 0: healthy)"),
    Flag("health-interval", type="duration", help="Time between checks (default 30s)"),
    Flag("health-timeout", type="duration", help="Time a check may take before it counts as failed (default 30s)"),
    Flag("health-retries", type="int", help="Consecutive failures that make the container unhealthy (default 3)"),
    Flag("health-start-period", type="duration", help="Time after the start in which failures do not count (default 0s)"),
    Flag("health-start-interval", type="duration", help="Time between checks during the start period (default 5s)"),
    Flag("no-healthcheck", help="Disable the image's HEALTHCHECK"),
]


@command(
    "health check",
    help="Run the healthcheck of running containers once now and record it; their health",
    description=(
        "pouchsh has no daemon: a container's check runs when something needs the answer (this command, "
        "wait --condition healthy, compose up, upgrade). ps and inspect show the last recorded state; a "
        "container started again since shows starting."
    ),
    params=[Param("containers", type="container", required=False, rest=True, help="Containers")],
    examples=[
        Example("run -d --name hc --health-cmd 'true' busybox sleep 60; health check hc | get status",
                "Probe a container now"),
    ],
    aliases=["container health"],
    input="any",
    category="container",
)
def health_check(ctx: Any, containers: list[str]) -> Any:
    refs = targets(ctx, containers, "container", keys=("id", "name"))
    return one_or_all(ctx.managers.health.check(refs), len(containers or ()) == 1)
