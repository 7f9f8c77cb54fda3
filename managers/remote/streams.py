"""pouchd's streamed replies: docker's multiplexed frames, a small JSON reply read without a body deadline,
logs -f, and the watcher that shuts a quiet stream down on Ctrl-C."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ctrd.errors import Interrupted, InvalidArgument, PouchError, PouchRuntimeError
from managers.pouchdclient import PouchdClient, StreamBody

#: a frame of the multiplexed stream: at most this much
_MAX_FRAME = 16 << 20

#: a small JSON reply read without the body deadline (wait's): at most this many bytes
_MAX_SMALL_JSON = 64 << 10


@contextmanager
def aborted_on(cancel: threading.Event | None, body: StreamBody) -> Iterator[None]:
    """While the block runs, a set ``cancel`` shuts the stream down: a read blocked on a quiet stream (a
    long ``wait``, an exec that prints nothing) wakes only so."""
    if cancel is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if cancel.is_set():
                body.abort()
                return

    threading.Thread(target=watch, name="pouchd-stream-cancel", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def small_json(chunks: Iterable[bytes], what: str, cancel: threading.Event | None) -> Any:
    buf = b""
    try:
        for chunk in chunks:
            buf += chunk
            if len(buf) > _MAX_SMALL_JSON:
                raise InvalidArgument(f"{what}: the reply is larger than {_MAX_SMALL_JSON} bytes")
    except PouchError:
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{what}: interrupted") from None
        raise
    try:
        return json.loads(buf)
    except ValueError:
        raise PouchRuntimeError(f"{what}: the reply is not JSON") from None


class Follow:
    """``logs -f``: the lines as pouchd sends them, until the container stops, Ctrl-C (``cancel``), or
    ``close``. A quiet stream blocks in a read, so a watcher closes the response when ``cancel`` is set."""

    def __init__(self, api: PouchdClient, path: str, params: dict[str, Any], tty: bool,
                 cancel: threading.Event | None, what: str) -> None:
        self._user_cancel = cancel
        self._done = threading.Event()
        self._closing = threading.Lock()
        self._what = what
        self._stream = api.stream("GET", path, params, what=what, cancel=self._done, read_timeout=None)
        self._chunks = self._stream.__enter__()
        self._tty = tty
        if cancel is not None:
            threading.Thread(target=self._watch, name="pouchd-logs-follow", daemon=True).start()

    def _watch(self) -> None:
        assert self._user_cancel is not None
        while not self._done.wait(0.2):
            if self._user_cancel.is_set():
                self._chunks.abort()
                return

    def __iter__(self) -> Iterator[str]:
        pending = b""
        try:
            for piece in payloads(self._chunks, self._tty):
                pending += piece
                *lines, pending = pending.split(b"\n")
                for line in lines:  # as the local logs -f: a line without its newline
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        except PouchError:
            if self._user_cancel is not None and self._user_cancel.is_set():
                raise Interrupted(f"{self._what} interrupted") from None
            raise
        finally:
            self.close()

    def close(self) -> None:
        with self._closing:
            if not self._done.is_set():
                self._done.set()
                self._stream.__exit__(None, None, None)


def payloads(chunks: Iterator[bytes], tty: bool) -> Iterator[bytes]:
    """The log's bytes: as sent for a terminal's; else docker's multiplexed frames unwrapped, stdout's and
    stderr's alike."""
    if tty:
        yield from chunks
        return
    for _kind, payload in frames(chunks):
        yield payload


def frames(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """docker's multiplexed frames (8-byte header: stream, 3 zero bytes, big-endian length) as (stream,
    payload); a frame of another stream or larger than ``_MAX_FRAME`` is a broken stream."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            kind, size = struct.unpack(">BxxxL", buf[:8])
            if kind not in (0, 1, 2) or size > _MAX_FRAME:
                raise PouchRuntimeError("pouchd's stream is not docker's framing")
            if len(buf) < 8 + size:
                break
            yield kind, buf[8:8 + size]
            buf = buf[8 + size:]
    if buf:
        raise PouchRuntimeError("pouchd's stream ended inside a frame")
