"""The diff service: apply a layer blob from the content store onto mounts (server-side untar)."""

from __future__ import annotations

from collections.abc import Sequence

from ctrd.api.services.diff.v1 import diff_pb2 as pb
from ctrd.api.services.diff.v1 import diff_pb2_grpc
from ctrd.descriptors import Descriptor
from ctrd.mounts import Mount
from ctrd.service import Service

__all__ = ["Diff"]


class Diff(Service):
    stub_class = diff_pb2_grpc.DiffStub

    def apply(self, layer: Descriptor, mounts: Sequence[Mount]) -> Descriptor:
        """Decompress and untar ``layer`` into ``mounts``; returns the uncompressed tar's descriptor
        (its digest is the layer's diff ID)."""
        request = pb.ApplyRequest(diff=layer.to_proto(), mounts=[m.to_proto() for m in mounts])
        reply = self.client.call(self.stub.Apply, request, f"apply layer {layer.digest}")
        return Descriptor.from_proto(reply.applied)
