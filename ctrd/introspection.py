"""Introspection: which plugins this containerd has loaded (and which failed to)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ctrd.api.services.introspection.v1 import introspection_pb2 as pb
from ctrd.api.services.introspection.v1 import introspection_pb2_grpc
from ctrd.service import Service

__all__ = ["Introspection", "Plugin"]


@dataclass(frozen=True, slots=True)
class Plugin:
    """A containerd plugin: ``type`` (``io.containerd.snapshotter.v1``), ``id`` (``overlayfs``),
    ``requires``, ``exports``, ``capabilities`` and ``error`` (the init error message, "" when it loaded)."""

    type: str
    id: str
    requires: tuple[str, ...]
    exports: dict[str, str]
    capabilities: tuple[str, ...]
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


class Introspection(Service):
    stub_class = introspection_pb2_grpc.IntrospectionStub

    def plugins(self, filters: Sequence[str] = ()) -> list[Plugin]:
        reply = self.client.call(self.stub.Plugins, pb.PluginsRequest(filters=list(filters)), "containerd plugins")
        return [
            Plugin(
                type=p.type,
                id=p.id,
                requires=tuple(p.requires),
                exports=dict(p.exports),
                capabilities=tuple(p.capabilities),
                error=p.init_err.message if p.HasField("init_err") else "",
            )
            for p in reply.plugins
        ]

    def server_uuid(self) -> str:
        from google.protobuf.empty_pb2 import Empty

        return self.client.call(self.stub.Server, Empty(), "containerd server").uuid
