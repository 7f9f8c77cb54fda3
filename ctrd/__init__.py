"""ctrd: the containerd client layer of pouchsh (gRPC stubs, typed services, stdio, events, supervisor).

    client = ctrd.connect(None, data_root=root, run_root=run)   # dial, or start our own containerd
    web = client.with_namespace("web")
    with web.lease() as leased:
        leased.content.write_blob(data, media_type=...)

Attributes load lazily so that ``import ctrd.errors`` (which the language does at start-up) pulls in
neither grpc nor protobuf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctrd.client import Client, Version
    from ctrd.daemon import DaemonInfo, daemon_info
    from ctrd.dial import connect

__all__ = ["Client", "DaemonInfo", "Version", "__version__", "connect", "daemon_info"]

#: The release of pouchsh (its four packages ship together). Kept in the lowest layer so that every layer
#: can read it without importlib.metadata (~25 ms at start-up); pyproject.toml reads it from here.
__version__ = "0.1.0"

_LAZY = {
    "Client": "ctrd.client",
    "Version": "ctrd.client",
    "connect": "ctrd.dial",
    "daemon_info": "ctrd.daemon",
    "DaemonInfo": "ctrd.daemon",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ctrd' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
