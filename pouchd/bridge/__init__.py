"""pouchd's bridge: each API request becomes calls on the managers (``managers.Managers``, the facade the
shell holds too) and their records become the API's shapes. It owns no container logic; what an endpoint
needs that the managers lack is added to the managers. ``install`` registers every route."""

from __future__ import annotations

import threading
from typing import Any

from pouchd.server import Api

__all__ = ["install"]


def install(api: Api, facade: Any) -> Any:
    """Register every route; returns the bridge (``shutdown()`` ends its long calls)."""
    from pouchd.bridge import containers, execs, images, networks, system, volumes
    from pouchd.bridge.context import Bridge

    bridge = Bridge(api, facade)
    # order matters where paths overlap: aiohttp matches routes in the order they are added
    system.install(bridge)
    containers.install(bridge)
    execs.install(bridge)
    images.install(bridge)
    volumes.install(bridge)
    networks.install(bridge)
    # a daemon runs healthchecks as dockerd does (the shell, which has none, runs them when asked): the
    # schedule and the probes are the managers'
    health = threading.Thread(target=facade.health.keep_checking, args=(bridge.closing,), name="pouchd-health",
                              daemon=True)
    health.start()
    bridge.background.append(health)
    return bridge
