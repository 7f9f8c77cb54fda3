"""One gRPC channel per containerd address, and the one path every call takes.

``Connection`` owns the channel and a cache of stubs; ``Client`` views (ctrd.client) share it. ``unary``,
``stream`` and ``future`` are the only places in ctrd where a ``grpc.RpcError`` is caught: each maps it
onto the error tree with ``ctrd.errors.from_grpc`` and names the call that failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import grpc

from ctrd.errors import Interrupted, PouchError, Timeout, from_grpc

__all__ = ["CHANNEL_OPTIONS", "CallStream", "Connection", "Pending", "target_of"]

T = TypeVar("T")

MAX_MESSAGE = 16 << 20  # what containerd's Go client allows (defaults.DefaultMaxRecvMsgSize)

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # A unix socket refuses at once while containerd is down; retrying every 100 ms reaches a restarted
    # containerd within ~150 ms instead of grpc's default exponential backoff of up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 100),
)


def target_of(address: str) -> str:
    """``/run/x.sock``, ``unix:/run/x.sock`` or ``unix:///run/x.sock`` → the grpc target ``unix:///run/x.sock``."""
    if address.startswith("unix://"):
        return address
    if address.startswith("unix:"):
        return "unix://" + address[len("unix:") :]
    if address.startswith("/"):
        return "unix://" + address
    return address


class Connection:
    """The channel to one containerd. Thread-safe; create one per address and share it."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.target = target_of(address)
        self.channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self._stubs: dict[Callable[[grpc.Channel], Any], Any] = {}
        #: namespace → Client view, so that a view and its service wrappers are built once per namespace
        self.views: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.closed = False

    def stub(self, stub_class: Callable[[grpc.Channel], T]) -> T:
        """The one stub of ``stub_class`` on this channel (stubs are built once; building one is not free)."""
        stub = self._stubs.get(stub_class)
        if stub is None:
            with self.lock:
                stub = self._stubs.setdefault(stub_class, stub_class(self.channel))
        return stub

    def close(self) -> None:
        self.closed = True
        self.channel.close()


def unary(
    method: Callable[..., T],
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
) -> T:
    try:
        return method(request, metadata=metadata, timeout=timeout, wait_for_ready=wait_for_ready)
    except grpc.RpcError as err:
        raise from_grpc(err, what) from err


class CallStream(Generic[T]):
    """A response stream whose errors arrive as PouchErrors. ``cancel()`` ends the iteration cleanly."""

    __slots__ = ("_call", "_cancelled", "_what")

    def __init__(self, call: Any, what: str) -> None:
        self._call = call
        self._what = what
        self._cancelled = False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._call)
        except grpc.RpcError as err:
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise from_grpc(err, self._what) from err

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()


def stream(
    method: Callable[..., Any],
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
) -> CallStream[Any]:
    """Start a server or bidirectional stream (``request`` is a message or an iterator of them)."""
    try:
        call = method(request, metadata=metadata, timeout=timeout, wait_for_ready=wait_for_ready)
    except grpc.RpcError as err:
        raise from_grpc(err, what) from err
    return CallStream(call, what)


class Pending(Generic[T]):
    """A unary call in flight (``Tasks.Wait`` before ``Tasks.Start``); ``result()`` raises PouchErrors."""

    __slots__ = ("_future", "_what")

    def __init__(self, future: Any, what: str) -> None:
        self._future = future
        self._what = what

    def result(self, timeout: float | None = None) -> T:
        try:
            return self._future.result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Timeout(f"{self._what}: no answer within {timeout:g}s") from None
        except grpc.FutureCancelledError:
            raise Interrupted(f"{self._what}: cancelled") from None
        except grpc.RpcError as err:
            raise from_grpc(err, self._what) from err

    def exception(self) -> PouchError | None:
        """The error the call ended with, once it is done (None while pending or on success)."""
        if not self._future.done():
            return None
        try:
            self.result()
        except PouchError as err:
            return err
        return None

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> bool:
        return self._future.cancel()

    def add_done_callback(self, fn: Callable[[Pending[T]], None]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))


def future(
    method: Any,
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
) -> Pending[Any]:
    return Pending(method.future(request, metadata=metadata, timeout=timeout, wait_for_ready=wait_for_ready), what)
