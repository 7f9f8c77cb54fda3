"""What the bridge's handlers share: the API (routing, pool), the managers' facade, the attach streams
waiting for their container's start, and the execs made through the API."""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ctrd.errors import Conflict, PouchError
from managers.console import TerminalSize
from pouchd.hijack import Hijacked
from pouchd.server import Api

#: seconds the server's own threads get to end once ``closing`` is set (the health schedule looks at it
#: every 50 ms; a probe in flight is a daemon thread of its own and is not waited for)
_BACKGROUND_STOP = 5.0

__all__ = ["Bridge", "ExecRecord", "PendingAttach"]


@dataclass
class PendingAttach:
    """An attach stream opened before its container started (``docker run``: create, attach, wait,
    start); the start runs the container attached to it. ``ready`` is set once ``stream`` is up, or the
    attach was abandoned before (then ``stream`` stays None); ``done`` once it is over."""

    stdin: bool
    stream: Hijacked | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def attach(self, stream: Hijacked) -> None:
        self.stream = stream
        self.ready.set()

    def abandon(self) -> None:
        self.done.set()
        self.ready.set()


@dataclass
class ExecRecord:
    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    exit_code: int | None = None
    started: bool = False
    #: the pty's size from the client's resize calls, kept until the process's pty exists
    size: TerminalSize = field(default_factory=TerminalSize)


class Bridge:
    def __init__(self, api: Api, facade: Any) -> None:
        self.api = api
        self.facade = facade
        self._lock = threading.Lock()
        self._attaches: dict[str, PendingAttach] = {}
        self.execs: dict[str, ExecRecord] = {}
        #: set when the server stops (for threads, and for handlers)
        self.closing = threading.Event()
        self._stopping = asyncio.Event()
        #: containers running attached to a client through this server
        self.attached_runs: set[str] = set()
        #: the cancel events of long calls in the pool (follows, waits, event streams, pulls)
        self._cancels: weakref.WeakSet[threading.Event] = weakref.WeakSet()
        #: threads of the server's own that ``closing`` ends (the health schedule), joined by ``shutdown``
        self.background: list[threading.Thread] = []

    def new_cancel(self) -> threading.Event:
        """A cancel event for a long manager call, set by ``shutdown`` as well."""
        event = threading.Event()
        with self._lock:
            self._cancels.add(event)
        return event

    async def until_stopping(self, future: asyncio.Future[Any]) -> None:
        """Await ``future``, or less: until the server stops."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([future, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    def shutdown(self) -> None:
        """End every long call and attach stream, so that the pool's threads (which the interpreter
        joins at exit) return and the server stops at once. Running containers go on."""
        self.closing.set()
        self._stopping.set()
        with self._lock:
            cancels = list(self._cancels)
            attaches = list(self._attaches.values())
        for event in cancels:
            event.set()
        for pending in attaches:
            pending.abandon()
        with self._lock:
            running = list(self.attached_runs)
        for cid in running:
            # Their foreground owner (this process) goes: a `--rm` container is removed when it ends all
            # the same, by the waiter `run -d --rm` uses.
            try:
                self.facade.containers.hand_off_auto_remove(cid)
            except PouchError:
                pass  # gone meanwhile
        for thread in self.background:
            # before the facade's channel closes under it: the schedule stops its watch on the way out
            thread.join(_BACKGROUND_STOP)

    def route(self, method: str, path: str, handler: Any) -> None:
        self.api.route(method, path, handler)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.api.call(fn, *args, **kwargs)

    def add_attach(self, container_id: str, pending: PendingAttach) -> None:
        with self._lock:
            if container_id in self._attaches and not self._attaches[container_id].done.is_set():
                raise Conflict(f"container {container_id[:12]} already has an attach waiting for its start")
            self._attaches[container_id] = pending

    def take_attach(self, container_id: str) -> PendingAttach | None:
        with self._lock:
            pending = self._attaches.pop(container_id, None)
        if pending is not None and pending.done.is_set():
            return None  # its client left before the start
        return pending

    def drop_attach(self, container_id: str, pending: PendingAttach) -> None:
        with self._lock:
            if self._attaches.get(container_id) is pending:
                del self._attaches[container_id]
