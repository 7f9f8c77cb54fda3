"""``Client``: a view of one containerd connection, bound to a namespace and optionally a lease.

Views are cheap and share the connection's channel and stubs: ``client.with_namespace("web")`` returns the
same view object every time for the same namespace, so its service wrappers (``client.images`` …) are built
once. Every call goes through ``call`` / ``stream`` / ``future``, which add the view's metadata
(``containerd-namespace``, ``containerd-lease``) and map gRPC errors onto ctrd.errors.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from ctrd import connection as _conn
from ctrd.connection import CallStream, Connection, Pending

if TYPE_CHECKING:
    from ctrd.containers import Containers
    from ctrd.content import Content
    from ctrd.diff import Diff
    from ctrd.events import Events
    from ctrd.images import Images
    from ctrd.introspection import Introspection
    from ctrd.leases import Leases
    from ctrd.namespaces import Namespaces
    from ctrd.snapshots import Snapshots
    from ctrd.tasks import Tasks
    from ctrd.watch import Watcher

__all__ = ["LEASE_HEADER", "NAMESPACE_HEADER", "Client", "Version"]

T = TypeVar("T")

NAMESPACE_HEADER = "containerd-namespace"
LEASE_HEADER = "containerd-lease"


@dataclass(frozen=True, slots=True)
class Version:
    """containerd's answer to Version: ``version`` ("1.6.20~ds1") and git ``revision``."""

    version: str
    revision: str


class Client:
    """A containerd client view. ``Client(address)`` dials; views come from ``with_namespace``/``with_lease``."""

    def __init__(
        self,
        address: str | Connection,
        *,
        namespace: str | None = None,
        lease: str | None = None,
    ) -> None:
        self.connection = address if isinstance(address, Connection) else Connection(address)
        self.namespace = namespace
        self.lease_id = lease
        md: list[tuple[str, str]] = []
        if namespace:
            md.append((NAMESPACE_HEADER, namespace))
        if lease:
            md.append((LEASE_HEADER, lease))
        #: the gRPC metadata sent with every call of this view, computed once
        self.metadata: tuple[tuple[str, str], ...] = tuple(md)

    def __repr__(self) -> str:
        return f"Client({self.address!r}, namespace={self.namespace!r}, lease={self.lease_id!r})"

    @property
    def address(self) -> str:
        return self.connection.address

    # -- views -------------------------------------------------------------------------------------

    def with_namespace(self, namespace: str) -> Client:
        """The view bound to ``namespace`` (cached: the same object for the same namespace)."""
        if namespace == self.namespace and self.lease_id is None:
            return self
        views = self.connection.views
        view = views.get(namespace)
        if view is None:
            with self.connection.lock:
                view = views.setdefault(namespace, Client(self.connection, namespace=namespace))
        return view

    def watcher(self) -> Watcher | None:
        """The running watch cache of this connection and namespace (``ctrd.watch.watching``), or None.
        ctrd.watch is not imported here: until something imports it, no watcher can be running."""
        # A module is in sys.modules from the moment its import begins: while another thread is still
        # running ctrd.watch's body (pouchd's health schedule imports it in its own thread), it may lack
        # ``watching``, and then no watcher can be running either.
        watching = getattr(sys.modules.get("ctrd.watch"), "watching", None)
        return watching(self) if watching is not None else None

    def with_lease(self, lease_id: str) -> Client:
        """A view of this namespace whose calls also carry ``containerd-lease: lease_id``."""
        return Client(self.connection, namespace=self.namespace, lease=lease_id)

    @contextmanager
    def lease(
        self,
        expire: timedelta | None = timedelta(hours=24),
        *,
        labels: dict[str, str] | None = None,
        sync_delete: bool = False,
    ) -> Iterator[Client]:
        """Create a lease, yield a view carrying it, delete the lease on exit (also on error).

        Whatever content and snapshots are created through the yielded view stay protected from GC until
        the lease is gone; ``expire`` bounds that if this process dies first, and the lease's
        ``pouchsh/owner`` label (ctrd.owner) lets ``system prune`` delete it sooner once this process is gone.
        """
        from ctrd.owner import OWNER_LABEL, this_process  # with pathlib: not needed by what takes no lease

        owned = {OWNER_LABEL: this_process().label(), **(labels or {})}
        lease = self.leases.create(new_lease_id(), labels=owned, expire=expire)
        try:
            yield self.with_lease(lease.id)
        finally:
            self.leases.delete(lease.id, sync=sync_delete)

    # -- the one call path -------------------------------------------------------------------------

    def stub(self, stub_class: Callable[[Any], T]) -> T:
        """The shared stub of ``stub_class`` (a generated ``…Stub``) on this client's channel."""
        return self.connection.stub(stub_class)

    def call(
        self,
        method: Callable[..., T],
        request: Any,
        what: str,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> T:
        """A unary call with this view's metadata; gRPC errors become PouchErrors naming ``what``.
        Without ``timeout`` the method's class in ctrd.deadlines bounds it."""
        return _conn.unary(method, request, what, self.metadata, timeout, wait_for_ready, self.connection.address)

    def stream(
        self,
        method: Callable[..., Any],
        request: Any,
        what: str,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> CallStream[Any]:
        """A server stream (``request`` a message) or bidi stream (``request`` an iterator of messages)."""
        return _conn.stream(method, request, what, self.metadata, timeout, wait_for_ready, self.connection.address)

    def future(
        self,
        method: Any,
        request: Any,
        what: str,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Pending[Any]:
        """A unary call that runs in the background; ``.result()`` raises PouchErrors."""
        return _conn.future(method, request, what, self.metadata, timeout, wait_for_ready, self.connection.address)

    # -- services ----------------------------------------------------------------------------------

    def version(self, *, timeout: float | None = None, wait_for_ready: bool | None = None) -> Version:
        # Stubs load with their service, as the wrappers below do: a `ps` never loads Version's.
        from google.protobuf.empty_pb2 import Empty

        from ctrd.api.services.version.v1 import version_pb2_grpc

        stub = self.stub(version_pb2_grpc.VersionStub)
        reply = self.call(stub.Version, Empty(), "containerd version", timeout=timeout, wait_for_ready=wait_for_ready)
        return Version(version=reply.version, revision=reply.revision)

    @cached_property
    def namespaces(self) -> Namespaces:
        from ctrd.namespaces import Namespaces

        return Namespaces(self)

    @cached_property
    def content(self) -> Content:
        from ctrd.content import Content

        return Content(self)

    @cached_property
    def images(self) -> Images:
        from ctrd.images import Images

        return Images(self)

    @cached_property
    def snapshots(self) -> Snapshots:
        from ctrd.snapshots import Snapshots

        return Snapshots(self)

    @cached_property
    def diff(self) -> Diff:
        from ctrd.diff import Diff

        return Diff(self)

    @cached_property
    def leases(self) -> Leases:
        from ctrd.leases import Leases

        return Leases(self)

    @cached_property
    def introspection(self) -> Introspection:
        from ctrd.introspection import Introspection

        return Introspection(self)

    @cached_property
    def containers(self) -> Containers:
        from ctrd.containers import Containers

        return Containers(self)

    @cached_property
    def tasks(self) -> Tasks:
        from ctrd.tasks import Tasks

        return Tasks(self)

    @cached_property
    def events(self) -> Events:
        from ctrd.events import Events

        return Events(self)

    def close(self) -> None:
        """Close the shared channel: every view of this connection stops working."""
        self.connection.close()


def new_lease_id() -> str:
    """containerd's own lease id shape: ``<unix nanos>-<3 random bytes, base64url>``."""
    return f"{time.time_ns()}-{base64.urlsafe_b64encode(os.urandom(3)).decode()}"
