"""One gRPC channel per containerd address, and the one path every call takes.

``Connection`` owns the channel and a cache of stubs; ``Client`` views (ctrd.client) share it. ``unary``,
``stream`` and ``future`` are the only places in ctrd where a ``grpc.RpcError`` is caught: each maps it
onto the error tree with ``ctrd.errors.from_grpc`` and names the call that failed and the containerd it
went to.

They are also where every call gets its deadline: the one its caller gave, else its method's class in
ctrd.deadlines. A unary call waits for its answer in short slices, so that Ctrl-C (a KeyboardInterrupt,
or the event named in ctrd.interrupt) cancels it at once. A stream's deadline bounds each wait for its
next reply: ``_Watchdog``, one thread for the process, cancels a stream whose reply is overdue or whose
caller was interrupted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import grpc

from ctrd import interrupt
from ctrd.deadlines import deadline_of, keepalive_options
from ctrd.errors import Interrupted, PouchError, Timeout, from_grpc, not_answering

__all__ = ["CHANNEL_OPTIONS", "CallStream", "Connection", "Pending", "target_of"]

T = TypeVar("T")

MAX_MESSAGE = 16 << 20  # what containerd's Go client allows (defaults.DefaultMaxRecvMsgSize)
#: how often a waiting call looks at the interrupt event; Ctrl-C is honoured within this
_SLICE = 0.1

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
        self.channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS + keepalive_options())
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


def _budget(method: Any, timeout: float | None) -> tuple[float | None, float | None]:
    """(the deadline to wait, and the same figure again if its passing means containerd is silent)."""
    if timeout is not None:
        return timeout, None  # the caller's own bound: its passing is the caller's Timeout
    deadline = deadline_of(method)
    seconds = deadline.timeout()
    return seconds, seconds if deadline.silence else None


def _armed() -> threading.Event | None:
    """The interrupt event, if it is not set yet (a call begun after Ctrl-C is not cancelled by it)."""
    event = interrupt.event()
    return event if event is not None and not event.is_set() else None


def unary(
    method: Callable[..., T],
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
    address: str = "",
) -> T:
    timeout, silence = _budget(method, timeout)
    call = method.future(request, metadata=metadata, timeout=timeout, wait_for_ready=wait_for_ready)
    armed = _armed()
    try:
        while armed is not None:
            try:
                return call.result(timeout=_SLICE)
            except grpc.FutureTimeoutError:
                if armed.is_set():
                    call.cancel()
                    raise Interrupted(f"{what}: interrupted") from None
        return call.result()
    except grpc.RpcError as err:
        raise from_grpc(err, what, address=address, silence=silence) from err
    except KeyboardInterrupt:
        call.cancel()  # else it would stay in flight on the channel until its deadline
        raise


class CallStream(Generic[T]):
    """A response stream whose errors arrive as PouchErrors. ``cancel()`` ends the iteration cleanly.

    ``idle``: seconds each ``next`` may wait for a reply before the stream is cancelled and containerd
    reported as not answering (None: no bound, the caller's total deadline or the keepalive decides)."""

    __slots__ = ("_address", "_call", "_cancelled", "_idle", "_silence", "_stopped", "_what")

    def __init__(
        self,
        call: Any,
        what: str,
        *,
        idle: float | None = None,
        address: str = "",
        silence: float | None = None,
    ) -> None:
        self._call = call
        self._what = what
        self._idle = idle
        self._address = address
        self._silence = silence
        self._cancelled = False
        #: why the watchdog cancelled the call: "idle" or "interrupted" (None: it did not)
        self._stopped: str | None = None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        armed = _armed()
        watched = self._idle is not None or armed is not None
        if watched:
            _WATCHDOG.watch(self, self._idle, armed)
        try:
            return next(self._call)
        except grpc.RpcError as err:
            if self._stopped == "idle":
                raise not_answering(self._what, self._address, self._idle or 0.0) from None
            if self._stopped == "interrupted":
                raise Interrupted(f"{self._what}: interrupted") from None
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise from_grpc(err, self._what, address=self._address, silence=self._silence) from err
        except KeyboardInterrupt:
            self.cancel()
            raise
        finally:
            if watched:
                _WATCHDOG.unwatch(self)

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def stop(self, why: str) -> None:
        """The watchdog's cancel: ``why`` is "idle" or "interrupted"; the waiting ``next`` raises it."""
        self._stopped = why
        self._call.cancel()

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()


class _Watchdog:
    """Cancels a stream whose caller waits in ``next`` longer than its idle bound, or was interrupted.

    One daemon thread for the process, started on first use; it sleeps until the earliest expiry, or
    looks every ``_SLICE`` while a waiting stream's caller can be interrupted. A wait is a few dict
    operations, so a content stream of a thousand chunks costs no thread per chunk."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waits: dict[CallStream[Any], tuple[float, threading.Event | None]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, stream: CallStream[Any], idle: float | None, armed: threading.Event | None) -> None:
        expires = time.monotonic() + idle if idle is not None else float("inf")
        with self._cond:
            self._waits[stream] = (expires, armed)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ctrd-call-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def unwatch(self, stream: CallStream[Any]) -> None:
        with self._cond:
            self._waits.pop(stream, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = {s: "interrupted" for s, (_e, armed) in self._waits.items() if armed and armed.is_set()}
                due |= {s: "idle" for s, (ends, _a) in self._waits.items() if ends <= now and s not in due}
                for stream in due:
                    del self._waits[stream]
                if not due:
                    nearest = min((e for e, _a in self._waits.values()), default=float("inf")) - now
                    if any(armed is not None for _e, armed in self._waits.values()):
                        nearest = min(nearest, _SLICE)
                    self._cond.wait(None if nearest == float("inf") else nearest)
            for stream, why in due.items():
                stream.stop(why)


_WATCHDOG = _Watchdog()


def stream(
    method: Callable[..., Any],
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
    address: str = "",
) -> CallStream[Any]:
    """Start a server or bidirectional stream (``request`` is a message or an iterator of them). With
    ``timeout`` the whole stream must end within it; without, its class bounds each wait for a reply."""
    if timeout is not None:
        total, idle, silence = timeout, None, None
    else:
        idle, silence = _budget(method, None)
        total = None
    try:
        call = method(request, metadata=metadata, timeout=total, wait_for_ready=wait_for_ready)
    except grpc.RpcError as err:
        raise from_grpc(err, what, address=address) from err
    return CallStream(call, what, idle=idle, address=address, silence=silence)


class Pending(Generic[T]):
    """A unary call in flight (``Tasks.Wait`` before ``Tasks.Start``); ``result()`` raises PouchErrors."""

    __slots__ = ("_address", "_future", "_silence", "_what")

    def __init__(self, future: Any, what: str, *, address: str = "", silence: float | None = None) -> None:
        self._future = future
        self._what = what
        self._address = address
        self._silence = silence

    def result(self, timeout: float | None = None) -> T:
        try:
            return self._future.result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Timeout(f"{self._what}: no answer within {timeout:g}s") from None
        except grpc.FutureCancelledError:
            raise Interrupted(f"{self._what}: cancelled") from None
        except grpc.RpcError as err:
            raise from_grpc(err, self._what, address=self._address, silence=self._silence) from err

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
        """Run ``fn(self)`` in a thread of its own once the call is done. grpc runs done callbacks on the
        channel's one spin thread, which also completes every other call (and fires their deadlines):
        a callback that made a call itself would wait for ever on the thread that must answer it."""

        def done(_future: Any) -> None:
            threading.Thread(target=fn, args=(self,), name="ctrd-done-callback", daemon=True).start()

        self._future.add_done_callback(done)


def future(
    method: Any,
    request: Any,
    what: str,
    metadata: tuple[tuple[str, str], ...],
    timeout: float | None = None,
    wait_for_ready: bool | None = None,
    address: str = "",
) -> Pending[Any]:
    """A unary call in the background. Its class's deadline applies unless ``timeout`` is given; a
    Tasks.Wait has none (the process may run for days): the channel's keepalive finds a dead peer."""
    timeout, silence = _budget(method, timeout)
    call = method.future(request, metadata=metadata, timeout=timeout, wait_for_ready=wait_for_ready)
    return Pending(call, what, address=address, silence=silence)
