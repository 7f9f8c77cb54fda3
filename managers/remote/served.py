"""What a pouchd context serves: the base of its managers, whose unserved verbs are refused by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ctrd.errors import Unavailable

if TYPE_CHECKING:
    from managers.remote import RemoteManagers


class NotServed(Unavailable, AttributeError):
    """A manager or verb a pouchd context does not serve (an AttributeError too, so ``getattr(facade,
    name, default)`` probes still work)."""


SERVED_HINT = ("a pouchd context serves ps, inspect, create, run -d, start, stop, restart, kill, wait, "
               "exec (without -i/-t), rm, logs, images, pull, volume ls and network ls")


class Remote:
    """One of a pouchd context's managers: the facade's API client; any verb it does not define is
    refused as not served, naming it."""

    def __init__(self, facade: RemoteManagers) -> None:
        self.facade = facade
        self.api = facade.api

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotServed(f"a pouchd ({self.facade.address}): {type(self).__name__.removeprefix('Remote').lower()} "
                        f"{name} is not served through it", hint=SERVED_HINT)
