"""Mutual TLS for pouchd's TCP listeners, ended in front of the HTTP server.

docker clients half-close their side of an attach or exec stream as soon as their stdin ends (over TLS:
a close_notify) and then read the output to the end. asyncio's TLS transport closes the whole
connection when the peer's side closes, and the hijacked streams (``pouchd.hijack``) run on the socket
under the transport, which over TLS carries records instead of bytes. So TLS is ended here, in threads,
with the ``ssl`` module, where a close_notify is an EOF on one direction only: each connection is
relayed to one end of a socketpair whose other end the event loop serves as a plain connection, so
everything past this module (routing, hijack, streams) is the same as on a unix socket.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import ssl
import threading
from collections.abc import Callable

__all__ = ["TlsFront"]

#: a client that connects and does not finish its handshake in this time is dropped
HANDSHAKE_TIMEOUT = 30.0
_CHUNK = 64 * 1024
#: bytes buffered towards either side before reading from the other stops (backpressure)
_HIGH_WATER = 1024 * 1024


class TlsFront:
    """Accepts on ``sock`` (a bound, listening TCP socket), completes mutual TLS with ``context`` and hands
    each connection's plaintext end to ``serve`` (called in the acceptor's thread)."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, serve: Callable[[socket.socket], None]) -> None:
        self._sock = sock
        self._context = context
        self._serve = serve
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="pouchd-tls-accept", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting; connections already relayed go on until either side ends them."""
        self._closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept
        except OSError:
            pass
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue  # a connection reset before it was accepted, or out of descriptors for now
            threading.Thread(target=self._connection, args=(conn,), name="pouchd-tls", daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # a client that vanished ends its relay
        conn.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self._context.wrap_socket(conn, server_side=True)
        except (OSError, ValueError):
            conn.close()  # no certificate of our CA, not TLS, or too slow: nothing reaches the server
            return
        ours, theirs = socket.socketpair()
        try:
            self._serve(theirs)
        except Exception:  # noqa: BLE001 (the server is stopping: this client gets a closed connection)
            for s in (ours, theirs, tls):
                s.close()
            return
        _relay(tls, ours)


def _relay(tls: ssl.SSLSocket, plain: socket.socket) -> None:
    """Copy both ways between ``tls`` and ``plain``: the client's EOF (a close_notify) is passed on as a
    half-close while the output keeps flowing; the server's EOF, once its output is out, ends the relay."""
    tls.setblocking(False)
    plain.setblocking(False)
    to_plain = bytearray()
    to_tls = bytearray()
    tls_in_done = plain_in_done = False  # no more to read from that side
    plain_shut = False  # the client's EOF passed on to the server
    with selectors.DefaultSelector() as sel:
        try:
            while True:
                if tls_in_done and not to_plain and not plain_shut:
                    plain_shut = _half_close(plain)
                if plain_in_done and not to_tls:
                    # The server has ended the connection (pouchd never half-closes its side of a stream):
                    # nothing the client still sends has anywhere to go, so the relay ends here rather than
                    # wait for a client that may never answer the close_notify.
                    _close_notify(tls)
                    return
                # decrypted bytes the SSL object already holds: select would not see them
                if not tls_in_done and len(to_plain) < _HIGH_WATER and tls.pending():
                    tls_in_done = _read_tls(tls, to_plain)
                    continue
                _watch(sel, tls, (not tls_in_done and len(to_plain) < _HIGH_WATER, bool(to_tls)))
                _watch(sel, plain, (not plain_in_done and len(to_tls) < _HIGH_WATER, bool(to_plain)))
                for key, events in sel.select():
                    if key.fileobj is tls:
                        if events & selectors.EVENT_READ:
                            tls_in_done = _read_tls(tls, to_plain)
                        if events & selectors.EVENT_WRITE and to_tls:
                            _write(tls, to_tls)
                    else:
                        if events & selectors.EVENT_READ:
                            plain_in_done = _read(plain, to_tls)
                        if events & selectors.EVENT_WRITE and to_plain:
                            _write(plain, to_plain)
        except OSError:
            pass  # either side reset: the other one ends too
        finally:
            plain.close()
            tls.close()


def _watch(sel: selectors.BaseSelector, sock: socket.socket, wants: tuple[bool, bool]) -> None:
    mask = (selectors.EVENT_READ if wants[0] else 0) | (selectors.EVENT_WRITE if wants[1] else 0)
    try:
        key = sel.get_key(sock)
    except KeyError:
        if mask:
            sel.register(sock, mask)
        return
    if not mask:
        sel.unregister(sock)
    elif key.events != mask:
        sel.modify(sock, mask)


def _read_tls(tls: ssl.SSLSocket, into: bytearray) -> bool:
    """Whether the client's side has ended (a close_notify or a closed connection)."""
    try:
        data = tls.recv(_CHUNK)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False
    except ssl.SSLZeroReturnError:
        return True
    if not data:
        return True
    into += data
    return False


def _read(sock: socket.socket, into: bytearray) -> bool:
    try:
        data = sock.recv(_CHUNK)
    except BlockingIOError:
        return False
    if not data:
        return True
    into += data
    return False


def _write(sock: socket.socket, data: bytearray) -> None:
    try:
        sent = sock.send(data[:_CHUNK])
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return
    del data[:sent]


def _half_close(plain: socket.socket) -> bool:
    """Pass the client's EOF on to the server (its stdin ends); the output keeps flowing."""
    try:
        plain.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    return True


def _close_notify(tls: ssl.SSLSocket) -> None:
    """Tell the client the output has ended; its own close_notify is not waited for."""
    try:
        tls.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        pass  # ours is sent; SSL_shutdown would now wait for theirs
    except (OSError, ValueError):
        pass


def serve_on(loop: asyncio.AbstractEventLoop, protocol_factory: Callable[[], asyncio.BaseProtocol]
             ) -> Callable[[socket.socket], None]:
    """``serve`` for TlsFront: the event loop takes the plaintext end as an accepted connection."""

    def serve(sock: socket.socket) -> None:
        asyncio.run_coroutine_threadsafe(loop.connect_accepted_socket(protocol_factory, sock=sock), loop).result(30)

    return serve
