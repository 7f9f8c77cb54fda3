"""Snapshots: the layered filesystems an image unpacks into and a container's rootfs is prepared from."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ctrd.api.services.snapshots.v1 import snapshots_pb2 as pb
from ctrd.api.services.snapshots.v1 import snapshots_pb2_grpc
from ctrd.convert import to_datetime
from ctrd.mounts import Mount
from ctrd.service import Service

__all__ = ["DEFAULT_SNAPSHOTTER", "Kind", "SnapshotInfo", "Snapshots", "Usage"]

DEFAULT_SNAPSHOTTER = "overlayfs"


class Kind(enum.IntEnum):
    UNKNOWN = pb.UNKNOWN
    VIEW = pb.VIEW
    ACTIVE = pb.ACTIVE
    COMMITTED = pb.COMMITTED


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot: ``name`` (key), ``parent`` name, ``kind``, ``labels``, ``created_at``, ``updated_at``."""

    name: str
    parent: str
    kind: Kind
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Disk use of one snapshot's own layer: ``size`` in bytes and ``inodes``."""

    size: int
    inodes: int


def _info(msg: pb.Info) -> SnapshotInfo:
    return SnapshotInfo(
        msg.name, msg.parent, Kind(msg.kind), dict(msg.labels), to_datetime(msg.created_at), to_datetime(msg.updated_at)
    )


def _mounts(msgs: Sequence[object]) -> list[Mount]:
    return [Mount.from_proto(m) for m in msgs]  # type: ignore[arg-type]


class Snapshots(Service):
    """``client.snapshots``; every method takes ``snapshotter`` (default overlayfs)."""

    stub_class = snapshots_pb2_grpc.SnapshotsStub

    def prepare(
        self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None, snapshotter: str = DEFAULT_SNAPSHOTTER
    ) -> list[Mount]:
        """A new active (writable) snapshot ``key`` on top of committed ``parent``; returns its mounts."""
        request = pb.PrepareSnapshotRequest(snapshotter=snapshotter, key=key, parent=parent, labels=dict(labels or {}))
        return _mounts(self.client.call(self.stub.Prepare, request, f"snapshot prepare {key}").mounts)

    def view(
        self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None, snapshotter: str = DEFAULT_SNAPSHOTTER
    ) -> list[Mount]:
        """A new read-only view ``key`` of ``parent``; returns its mounts."""
        request = pb.ViewSnapshotRequest(snapshotter=snapshotter, key=key, parent=parent, labels=dict(labels or {}))
        return _mounts(self.client.call(self.stub.View, request, f"snapshot view {key}").mounts)

    def mounts(self, key: str, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> list[Mount]:
        request = pb.MountsRequest(snapshotter=snapshotter, key=key)
        return _mounts(self.client.call(self.stub.Mounts, request, f"snapshot {key}").mounts)

    def commit(
        self, name: str, key: str, *, labels: Mapping[str, str] | None = None, snapshotter: str = DEFAULT_SNAPSHOTTER
    ) -> None:
        """Turn active snapshot ``key`` into committed snapshot ``name`` (``key`` is gone afterwards)."""
        request = pb.CommitSnapshotRequest(snapshotter=snapshotter, name=name, key=key, labels=dict(labels or {}))
        self.client.call(self.stub.Commit, request, f"snapshot commit {name}")

    def remove(self, key: str, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> None:
        request = pb.RemoveSnapshotRequest(snapshotter=snapshotter, key=key)
        self.client.call(self.stub.Remove, request, f"snapshot remove {key}")

    def stat(self, key: str, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> SnapshotInfo:
        request = pb.StatSnapshotRequest(snapshotter=snapshotter, key=key)
        return _info(self.client.call(self.stub.Stat, request, f"snapshot {key}").info)

    def list(self, filters: Sequence[str] = (), *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> list[SnapshotInfo]:
        request = pb.ListSnapshotsRequest(snapshotter=snapshotter, filters=list(filters))
        return [_info(i) for reply in self.client.stream(self.stub.List, request, "snapshot list") for i in reply.info]

    def usage(self, key: str, *, snapshotter: str = DEFAULT_SNAPSHOTTER) -> Usage:
        reply = self.client.call(self.stub.Usage, pb.UsageRequest(snapshotter=snapshotter, key=key), f"snapshot {key}")
        return Usage(reply.size, reply.inodes)
