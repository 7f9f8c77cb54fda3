"""containerd namespaces: list, create, delete, labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from google.protobuf.field_mask_pb2 import FieldMask

from ctrd.api.services.namespaces.v1 import namespace_pb2 as pb
from ctrd.api.services.namespaces.v1 import namespace_pb2_grpc
from ctrd.errors import NotFound
from ctrd.service import Service

if TYPE_CHECKING:
    from ctrd.client import Client

__all__ = ["Namespace", "Namespaces"]


@dataclass(frozen=True, slots=True)
class Namespace:
    """A containerd namespace: its ``name`` and ``labels``."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


class Namespaces(Service):
    stub_class = namespace_pb2_grpc.NamespacesStub

    def _about(self, name: str) -> Client:
        # The server publishes /namespace/* events inside the caller's namespace, and refuses to without one.
        return self.client if self.client.namespace else self.client.with_namespace(name)

    def get(self, name: str) -> Namespace:
        # Namespaces.Get answers every name, existing or not (it only reads labels), so look in the list.
        for namespace in self.list():
            if namespace.name == name:
                return namespace
        raise NotFound(f"namespace {name}: no such namespace")

    def list(self) -> list[Namespace]:
        reply = self.client.call(self.stub.List, pb.ListNamespacesRequest(), "namespace list")
        return [Namespace(n.name, dict(n.labels)) for n in reply.namespaces]

    def create(self, name: str, labels: Mapping[str, str] | None = None) -> Namespace:
        request = pb.CreateNamespaceRequest(namespace=pb.Namespace(name=name, labels=dict(labels or {})))
        reply = self._about(name).call(self.stub.Create, request, f"namespace create {name}")
        return Namespace(reply.namespace.name, dict(reply.namespace.labels))

    def set_labels(self, name: str, labels: Mapping[str, str | None]) -> Namespace:
        """Set (or, with a None value, remove) the given labels, leaving the others as they are."""
        namespace = pb.Namespace(name=name, labels={k: v for k, v in labels.items() if v is not None})
        mask = FieldMask(paths=[f"labels.{key}" for key in labels])
        self.get(name)  # Update would create it
        self._about(name).call(
            self.stub.Update, pb.UpdateNamespaceRequest(namespace=namespace, update_mask=mask), f"namespace {name}"
        )
        return self.get(name)  # the 1.6 server answers Update with an empty record

    def delete(self, name: str) -> None:
        """Delete an empty namespace (containerd refuses with Conflict while anything is left in it)."""
        self._about(name).call(self.stub.Delete, pb.DeleteNamespaceRequest(name=name), f"namespace delete {name}")
