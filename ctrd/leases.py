"""Leases: protect content and snapshots from garbage collection while they are being assembled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ctrd.api.services.leases.v1 import leases_pb2 as pb
from ctrd.api.services.leases.v1 import leases_pb2_grpc
from ctrd.convert import rfc3339, to_datetime
from ctrd.service import Service

__all__ = ["EXPIRE_LABEL", "Lease", "Leases"]

EXPIRE_LABEL = "containerd.io/gc.expire"


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease: ``id``, ``labels`` (``containerd.io/gc.expire`` holds its expiry) and ``created_at``."""

    id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


def _lease(msg: pb.Lease) -> Lease:
    return Lease(id=msg.id, labels=dict(msg.labels), created_at=to_datetime(msg.created_at))


class Leases(Service):
    stub_class = leases_pb2_grpc.LeasesStub

    def create(
        self,
        lease_id: str,
        *,
        labels: Mapping[str, str] | None = None,
        expire: timedelta | None = None,
    ) -> Lease:
        """Create lease ``lease_id``; ``expire`` sets ``containerd.io/gc.expire`` to now + expire."""
        all_labels = dict(labels or {})
        if expire is not None:
            all_labels[EXPIRE_LABEL] = rfc3339(datetime.now(UTC) + expire)
        reply = self.client.call(
            self.stub.Create, pb.CreateRequest(id=lease_id, labels=all_labels), f"lease create {lease_id}"
        )
        return _lease(reply.lease)

    def delete(self, lease_id: str, *, sync: bool = False) -> None:
        """Delete a lease; ``sync`` waits for the garbage collection it triggers to finish."""
        self.client.call(self.stub.Delete, pb.DeleteRequest(id=lease_id, sync=sync), f"lease delete {lease_id}")

    def list(self, filters: Sequence[str] = ()) -> list[Lease]:
        reply = self.client.call(self.stub.List, pb.ListRequest(filters=list(filters)), "lease list")
        return [_lease(m) for m in reply.leases]
