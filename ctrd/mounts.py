"""Mounts as containerd hands them out (snapshots) and takes them (Tasks.Create rootfs, Diff.Apply)."""

from __future__ import annotations

from dataclasses import dataclass

from ctrd.api.types import mount_pb2

__all__ = ["Mount"]


@dataclass(frozen=True, slots=True)
class Mount:
    """A mount: ``type`` (``overlay``, ``bind``), ``source``, ``target`` (usually empty) and ``options``."""

    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()

    @classmethod
    def from_proto(cls, msg: mount_pb2.Mount) -> Mount:
        return cls(msg.type, msg.source, msg.target, tuple(msg.options))

    def to_proto(self) -> mount_pb2.Mount:
        return mount_pb2.Mount(type=self.type, source=self.source, target=self.target, options=list(self.options))
