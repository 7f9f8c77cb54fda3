"""The base of every typed service wrapper (``client.images``, ``client.tasks`` …).

A wrapper holds the client view it was made from and the shared stub, and issues each RPC through
``self.client.call/stream/future(self.stub.Method, request, what)``: that adds the view's namespace and
lease metadata and maps gRPC errors onto ctrd.errors. Wrappers return frozen dataclasses defined in their
own module, never raw protobuf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ctrd.client import Client

__all__ = ["Service"]


class Service:
    #: the generated ``…Stub`` class this wrapper drives
    stub_class: ClassVar[type[Any]]

    def __init__(self, client: Client) -> None:
        self.client = client
        self.stub = client.stub(self.stub_class)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r})"
