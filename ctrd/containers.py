"""Container records: containerd's Containers service (metadata only; the running part is ctrd.tasks).

A container record holds the OCI spec, the image name, the rootfs snapshot key and labels. pouchsh keeps
its own metadata in labels under ``pouchsh/``. The spec travels as JSON inside an ``Any`` whose type URL
containerd registers for it; the runtime is runc v2 with empty options, exactly as ``ctr`` sends them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import any_pb2, field_mask_pb2

from ctrd import typeurl
from ctrd.api.services.containers.v1 import containers_pb2 as pb
from ctrd.api.services.containers.v1 import containers_pb2_grpc
from ctrd.convert import to_datetime
from ctrd.errors import InvalidArgument
from ctrd.service import Service

__all__ = [
    "DEFAULT_RUNTIME",
    "RUNC_OPTIONS_URL",
    "SPEC_URL",
    "Container",
    "Containers",
    "JsonSpec",
    "validate_id",
]

SPEC_URL = typeurl.RUNTIME_SPEC_URL
DEFAULT_RUNTIME = "io.containerd.runc.v2"
#: containerd resolves type URLs by exact string; this one has no ``type.googleapis.com/`` prefix.
RUNC_OPTIONS_URL = "containerd.runc.v1.Options"

_ID_MAX = 76
_ID_RE = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


class JsonSpec(Mapping[str, Any]):
    """A JSON object decoded on first use: a listing of 500 containers carries 2 MB of OCI specs that
    ``ps`` (which reads labels) never needs. Read-only, like the rest of ``Container``."""

    __slots__ = ("_raw", "_value")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._value: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        if self._value is None:
            value = json.loads(self._raw) if self._raw else {}
            self._value = value if isinstance(value, dict) else {}
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return f"JsonSpec({self._decoded()!r})"


@dataclass(frozen=True, slots=True)
class Container:
    """A container record.

    - ``id``: the containerd id (also the snapshot key by default)
    - ``image``: the image name it was made from ("" if none)
    - ``labels``: all labels, pouchsh's own under ``pouchsh/``
    - ``spec``: the OCI runtime spec, a read-only mapping decoded from JSON on first use (``dict(spec)``
      for a copy to change)
    - ``snapshotter``, ``snapshot_key``: where the rootfs lives
    - ``runtime``: the runtime name (``io.containerd.runc.v2``)
    - ``created_at``, ``updated_at``: set by containerd (UTC)
    - ``extensions``: extension name → raw ``(type_url, bytes)``
    """

    id: str
    image: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    snapshotter: str
    snapshot_key: str
    runtime: str
    created_at: datetime | None
    updated_at: datetime | None
    extensions: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)

    @classmethod
    def from_proto(cls, c: pb.Container) -> Container:
        return cls(
            id=c.id,
            image=c.image,
            labels=dict(c.labels),
            spec=JsonSpec(c.spec.value),
            snapshotter=c.snapshotter,
            snapshot_key=c.snapshot_key,
            runtime=c.runtime.name,
            created_at=to_datetime(c.created_at) if c.HasField("created_at") else None,
            updated_at=to_datetime(c.updated_at) if c.HasField("updated_at") else None,
            extensions={k: (v.type_url, v.value) for k, v in c.extensions.items()} if c.extensions else {},
        )


def validate_id(kind: str, value: str) -> str:
    """containerd's identifier rule (identifiers.Validate), checked here for a clear message."""
    if len(value) > _ID_MAX or not _ID_RE.fullmatch(value):
        raise InvalidArgument(
            f"invalid {kind} {value!r}: use letters, digits and single '.', '_' or '-' between them "
            f"(at most {_ID_MAX} characters)"
        )
    return value


def spec_any(spec: Mapping[str, Any], type_url: str = SPEC_URL) -> any_pb2.Any:
    """An OCI spec (or process, with its type URL) as the JSON-carrying Any containerd expects."""
    try:
        value = json.dumps(spec, separators=(",", ":")).encode()
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"OCI spec is not JSON-serialisable: {e}") from e
    return any_pb2.Any(type_url=type_url, value=value)


class Containers(Service):
    """``client.containers``: create, inspect, update and delete container records."""

    stub_class = containers_pb2_grpc.ContainersStub

    def create(
        self,
        id: str,
        *,
        spec: Mapping[str, Any],
        image: str = "",
        snapshotter: str = "overlayfs",
        snapshot_key: str | None = None,
        labels: Mapping[str, str] | None = None,
        runtime: str = DEFAULT_RUNTIME,
        extensions: Mapping[str, tuple[str, bytes]] | None = None,
        runtime_options: bytes = b"",
    ) -> Container:
        """Create the record. The rootfs snapshot ``snapshot_key`` (default: ``id``) must already exist;
        create both under one lease (``with client.lease() as c: ...``) so GC cannot take the snapshot
        in between. ``runtime_options`` is a serialized ``containerd.runc.v1.Options`` (empty, as ctr
        sends it, unless e.g. ``binary_name`` picks another OCI runtime)."""
        validate_id("container id", id)
        container = pb.Container(
            id=id,
            image=image,
            labels=dict(labels or {}),
            runtime=pb.Container.Runtime(
                name=runtime, options=any_pb2.Any(type_url=RUNC_OPTIONS_URL, value=runtime_options)
            ),
            spec=spec_any(spec),
            snapshotter=snapshotter,
            snapshot_key=id if snapshot_key is None else snapshot_key,
        )
        for name, (type_url, value) in (extensions or {}).items():
            container.extensions[name].CopyFrom(any_pb2.Any(type_url=type_url, value=value))
        reply = self.client.call(
            self.stub.Create, pb.CreateContainerRequest(container=container), f"container create {id}"
        )
        return Container.from_proto(reply.container)

    def get(self, id: str) -> Container:
        reply = self.client.call(self.stub.Get, pb.GetContainerRequest(id=id), f"container {id}")
        return Container.from_proto(reply.container)

    def list(self, filters: Iterable[str] = ()) -> list[Container]:
        """All records of the namespace, or those matching any of ``filters`` (containerd filter syntax,
        e.g. ``labels."pouchsh/name"==web``)."""
        reply = self.client.call(
            self.stub.List, pb.ListContainersRequest(filters=list(filters)), "container list"
        )
        return [Container.from_proto(c) for c in reply.containers]

    def update(
        self,
        id: str,
        *,
        labels: Mapping[str, str | None] | None = None,
        spec: Mapping[str, Any] | None = None,
        image: str | None = None,
    ) -> Container:
        """Change only what is given. ``labels`` are merged key by key (a value of None removes the
        label); ``spec`` and ``image`` replace the old ones."""
        container = pb.Container(id=id)
        paths: list[str] = []
        for key, value in (labels or {}).items():
            paths.append(f"labels.{key}")
            if value is not None:
                container.labels[key] = value
        if spec is not None:
            container.spec.CopyFrom(spec_any(spec))
            paths.append("spec")
        if image is not None:
            container.image = image
            paths.append("image")
        if not paths:
            return self.get(id)
        request = pb.UpdateContainerRequest(
            container=container, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        reply = self.client.call(self.stub.Update, request, f"container update {id}")
        return Container.from_proto(reply.container)

    def delete(self, id: str) -> None:
        """Delete the record (not its snapshot: remove that first, see docs/ctrd.md)."""
        self.client.call(self.stub.Delete, pb.DeleteContainerRequest(id=id), f"container delete {id}")
