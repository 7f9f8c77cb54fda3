"""Events of the objects pouchsh keeps itself (networks and volumes): published to containerd's event
stream, so ``events`` in any shell and pouchd's ``/events`` see them beside containerd's own.

The topics are ``/networks/<action>`` (create, destroy, connect, disconnect) and ``/volumes/<action>``
(create, destroy); the attributes are docker's (network: ``id``, ``name``, ``type``, ``container`` for
connect and disconnect; volume: ``name``, ``driver``). An event is sent after its change is made and
recorded: a containerd that cannot take it loses the event, never the change (the error is dropped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctrd.errors import PouchError

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["emit"]


def emit(facade: Managers, kind: str, action: str, **attributes: str) -> None:
    """Publish ``kind`` (network or volume) ``action`` with ``attributes`` in the facade's namespace."""
    try:
        facade.ctrd.events.publish(f"/{kind}s/{action}", attributes)
    except PouchError:
        pass
