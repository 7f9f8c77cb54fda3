"""The HTTP/1.1 upgrade of attach and exec start: ``101 UPGRADED``, then the connection is a raw two-way
stream. aiohttp's transport closes a connection on the client's half-close (its protocol does not keep
a half-open socket), and docker clients half-close the write side as soon as they have no more stdin
while output must keep flowing; so once the 101 is on the wire the transport stops reading and the
stream runs on a duplicate of the socket, in blocking threads, where a half-close is just an EOF."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from typing import Any

from aiohttp import web

__all__ = ["Hijacked", "hijack"]

RAW_STREAM = "application/vnd.docker.raw-stream"
#: how long the 101's headers may take to leave the transport's buffer
_FLUSH_DEADLINE = 10.0


class Hijacked:
    """The raw stream: ``stdin`` (a file whose fileno is the socket's, so FIFO copiers can select on it)
    and writers for stdout and stderr (8-byte frames without a terminal, raw bytes with one)."""

    def __init__(self, sock: socket.socket, transport: Any, response: web.StreamResponse, *, tty: bool) -> None:
        self.sock = sock
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        #: the 101 already sent, which the handler returns (aiohttp finishes it on a closed transport)
        self.response = response
        self._lock = threading.Lock()
        self.stdin = sock.makefile("rb", buffering=0)
        self.stdout = _Writer(self, None if tty else 1)
        self.stderr = _Writer(self, None if tty else 2)
        self.closed = threading.Event()

    def send(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def close(self) -> None:
        """End the stream: the client sees EOF on its read side. Safe from any thread."""
        if self.closed.is_set():
            return
        self.closed.set()
        for step in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.stdin.close, self.sock.close):
            try:
                step()
            except OSError:
                pass
        # asyncio transports belong to their loop's thread
        self._loop.call_soon_threadsafe(self._transport.close)


class _Writer:
    """A BinaryIO-shaped writer of one stream: FifoIO's output pump calls write and flush."""

    def __init__(self, owner: Hijacked, stream: int | None) -> None:
        self._owner = owner
        self._stream = stream

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        if self._stream is None:
            self._owner.send(bytes(data))
        else:
            self._owner.send(struct.pack(">BxxxL", self._stream, len(data)) + bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


async def hijack(request: web.Request, *, tty: bool) -> Hijacked:
    """Answer ``request`` with 101 UPGRADED (200 to a client that did not ask to upgrade, as dockerd
    does) and hand back the raw stream. The request's body must have been read already."""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away before the stream started")
    transport.pause_reading()  # from here on the socket's input belongs to the stream
    upgrade = "upgrade" in request.headers.get("Connection", "").lower()
    response = web.StreamResponse(status=101 if upgrade else 200, reason="UPGRADED" if upgrade else "OK")
    response.headers["Content-Type"] = RAW_STREAM
    if upgrade:
        response.headers["Connection"] = "Upgrade"
        response.headers["Upgrade"] = "tcp"
    await response.prepare(request)
    deadline = time.monotonic() + _FLUSH_DEADLINE
    while transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)  # a slow reader: the headers must be out before raw bytes follow
    original = transport.get_extra_info("socket")
    sock = socket.socket(fileno=os.dup(original.fileno()))
    sock.setblocking(True)
    return Hijacked(sock, transport, response, tty=tty)
