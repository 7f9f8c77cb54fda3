"""The diff service: apply a layer blob from the content store onto mounts (server-side untar), and
make one from the difference of two mounts (server-side tar)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

    def compare(
        self, left: Sequence[Mount], right: Sequence[Mount], *, media_type: str, ref: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Descriptor:
        """The changes from ``left`` (the older mounts) to ``right`` as a layer blob of ``media_type``
        written to the content store by containerd; returns its descriptor. containerd labels the blob
        with its uncompressed digest (``containerd.io/uncompressed``: the layer's diff ID)."""
        request = pb.DiffRequest(
            left=[m.to_proto() for m in left], right=[m.to_proto() for m in right], media_type=media_type,
            ref=ref, labels=dict(labels or {}),
        )
        reply = self.client.call(self.stub.Diff, request, "diff snapshots")
        return Descriptor.from_proto(reply.diff)
