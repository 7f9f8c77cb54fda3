"""Which containerd pouchsh talks to: ``connect``.

``connect`` picks, in order: the address given, ``$CONTAINERD_ADDRESS``, the system containerd on
/run/containerd/containerd.sock if something answers there, else the embedded containerd under the data
root, which ctrd.daemon starts on first use. Only that last case loads ctrd.daemon (the supervisor, its
dataclasses and paths: ~2% of a ``pouchsh -c version`` that finds containerd running).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ctrd.probe import answers, system_socket

if TYPE_CHECKING:
    from pathlib import Path

    from ctrd.client import Client

__all__ = ["connect"]

def connect(
    address: str | None = None,
    *,
    data_root: Path | str,
    run_root: Path | str,
    timeout: float = 20.0,
    binary: str | None = None,
) -> Client:
    """A client for the containerd pouchsh should use, starting the embedded one when there is no other."""
    from ctrd.client import Client

    address = address or os.environ.get("CONTAINERD_ADDRESS")
    if address:
        return Client(address)
    system = system_socket()
    if answers(system):
        return Client(system)
    from ctrd.daemon import Embedded, start_embedded

    embedded = Embedded.under(data_root, run_root)
    start_embedded(embedded, timeout=timeout, binary=binary)
    return Client(str(embedded.socket))
