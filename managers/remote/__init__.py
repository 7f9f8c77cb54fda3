"""The managers facade of a pouchd context: the commands a fleet needs, over pouchd's Docker Engine API
(managers.pouchdclient), with the records the local managers give.

Served: ``ps``, ``inspect``, ``create``, ``run -d``, ``start``, ``stop``, ``restart``, ``kill``, ``wait``,
``exec`` (without -i/-t), ``rm``, ``logs`` (containers), ``images``, ``pull``, ``volume ls`` and
``network ls``. Any other command on a pouchd context is refused with ``error[unavailable]`` naming it
(``NotServed``, in ``served``), never half-done. The records come from another host: each field is taken
only with the type it should have (``fields``), a record without a usable id is dropped, and references
sent back are checked (``fields.checked_ref``) so that a name cannot add path segments to a request.

By verb group: ``containers`` (with ``create``, the body of create and run -d, and ``streams``, docker's
framing, wait's reply and logs -f), ``images``, ``volumes``, ``networks``.
"""

from __future__ import annotations

from typing import Any

from managers.pouchdclient import PouchdClient, TLSFiles
from managers.remote.containers import RemoteContainers
from managers.remote.images import RemoteImages
from managers.remote.networks import RemoteNetworks
from managers.remote.served import SERVED_HINT, NotServed
from managers.remote.volumes import RemoteVolumes

__all__ = ["NotServed", "RemoteManagers"]



class RemoteManagers:
    """A pouchd context's facade (what ``Managers.for_context`` gives for one)."""

    def __init__(self, name: str, address: str, namespace: str, tls: TLSFiles | None) -> None:
        self.context = name
        self.address = address
        self.namespace = namespace
        self.api = PouchdClient(address, tls)
        self.containers = RemoteContainers(self)
        self.images = RemoteImages(self)
        self.volumes = RemoteVolumes(self)
        self.networks = RemoteNetworks(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotServed(f"a pouchd ({self.address}): its {name} are not reached through it", hint=SERVED_HINT)

    def close(self) -> None:
        self.api.close()
