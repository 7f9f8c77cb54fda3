"""A client of pouchd's Docker Engine API: how a pouchd context (managers.contexts) is reached.

``tcp://HOST:PORT`` is always mutual TLS: the server is verified against the context's CA (and its name or
address against the certificate), and the context's client certificate is presented. ``unix:///PATH`` is
a pouchd socket on this machine (its file mode is its access control, as docker's socket's is).

Every reply comes from another host and is treated as hostile: each request has connect/read/write
deadlines, each body read into memory a size bound and an overall deadline, error messages are cut short,
and JSON is only parsed, never trusted for types (managers.remote checks each field it takes).

This is not managers.transport (the registries' client): that one follows redirects, retries tokens and
picks trust per registry host; here there is one endpoint, its own CA, no redirects, no credentials but
the client certificate.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ctrd.errors import (
    AlreadyExists,
    Conflict,
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchError,
    PouchRuntimeError,
    Timeout,
    Unavailable,
)
from managers.transport import is_tls_error

__all__ = ["API_VERSION", "PouchdClient", "StreamBody", "TLSFiles", "check_key_file"]

#: the Engine API version pouchd serves (its /version answers 1.41)
API_VERSION = "1.41"
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)
#: a JSON reply (a container or image list) read into memory: at most this many bytes, within BODY_DEADLINE
MAX_JSON = 32 << 20
BODY_DEADLINE = 60.0
#: an error reply's message as shown: the start of it
_MAX_MESSAGE = 1000
_STATUS_KINDS: dict[int, type[PouchError]] = {
    400: InvalidArgument, 404: NotFound, 409: Conflict, 503: Unavailable, 504: Timeout,
}


@dataclass(frozen=True)
class TLSFiles:
    """The files of a context's mutual TLS: the CA that signed pouchd's certificate, and this client's
    certificate and key (absolute paths, read when the connection is made)."""

    ca: str
    cert: str
    key: str


def check_key_file(path: str) -> None:
    """A private key must be this user's and readable by no one else (ssh's rule for its keys): anyone
    who can read it can drive the remote pouchd as this user."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"TLS key {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgument(f"TLS key {path} is not a regular file")
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise InvalidArgument(f"TLS key {path} is readable or owned by another user",
                              hint=f"chown {os.geteuid()} {path}; chmod 600 {path}")


def _ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    check_key_file(tls.key)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=tls.ca)
        context.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"TLS files of the context: {getattr(e, 'strerror', None) or e}") from None
    return context


class PouchdClient:
    """One pouchd endpoint. Thread-safe (httpx's client is); built lazily on the first request."""

    def __init__(self, address: str, tls: TLSFiles | None = None) -> None:
        self.address = address
        self._tls = tls
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                if self.address.startswith("tcp://"):
                    if self._tls is None:
                        raise InvalidArgument(f"{self.address}: a tcp:// pouchd is reached only with mutual TLS")
                    base = "https://" + self.address[len("tcp://"):]
                    self._client = httpx.Client(base_url=base, verify=_ssl_context(self._tls), timeout=TIMEOUT,
                                                trust_env=False, follow_redirects=False)
                else:
                    path = self.address.removeprefix("unix://")
                    self._client = httpx.Client(base_url="http://pouchd", timeout=TIMEOUT, trust_env=False,
                                                transport=httpx.HTTPTransport(uds=path), follow_redirects=False)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- requests ----------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None, *, what: str) -> Any:
        return self.json("GET", path, params, what=what)

    def json(self, method: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
             what: str) -> Any:
        """One request whose reply is JSON (or empty: None)."""
        with self.stream(method, path, params, body=body, what=what) as chunks:
            data = _bounded(chunks, MAX_JSON, f"pouchd {self.address}: {what}")
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise PouchRuntimeError(f"pouchd {self.address}: {what}: the reply is not JSON") from None

    @contextmanager
    def stream(self, method: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
               what: str, cancel: threading.Event | None = None, read_timeout: float | None = None) -> Iterator[StreamBody]:
        """A request whose body is read as it comes (logs, pull progress); errors as the tree's kinds."""
        url = f"/v{API_VERSION}{path}"
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        timeout = TIMEOUT if read_timeout is None else httpx.Timeout(
            connect=TIMEOUT.connect, read=read_timeout, write=TIMEOUT.write, pool=TIMEOUT.pool)
        with self._mapped(what):
            request = self._http().build_request(method, url, params=_params(params), content=content,
                                                 headers=headers, timeout=timeout)
            response = self._http().send(request, stream=True)
        try:
            if response.status_code >= 400:
                raise self._error(response, what)
            yield StreamBody(self._chunks(response, what, cancel), response)
        finally:
            response.close()

    def _chunks(self, response: httpx.Response, what: str, cancel: threading.Event | None) -> Iterator[bytes]:
        with self._mapped(what):
            for chunk in response.iter_bytes():
                if cancel is not None and cancel.is_set():
                    raise Interrupted(f"{what} interrupted")
                yield chunk

    def _error(self, response: httpx.Response, what: str) -> PouchError:
        try:
            raw = _bounded(self._chunks(response, what, None), 64 << 10, what)
            doc = json.loads(raw)
            message = doc.get("message") if isinstance(doc, dict) else None
        except (PouchError, ValueError):
            message = None
        text = message if isinstance(message, str) and message else f"HTTP {response.status_code}"
        text = "".join(ch if ch.isprintable() else "?" for ch in text[:_MAX_MESSAGE])
        kind = _STATUS_KINDS.get(response.status_code, PouchRuntimeError)
        if response.status_code == 409 and "already in use" in text:
            kind = AlreadyExists
        return kind(f"pouchd {self.address}: {what}: {text}")

    @contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        where = f"pouchd {self.address}"
        try:
            yield
        except httpx.TimeoutException as e:
            raise Timeout(f"{where}: {what}: no answer in time ({type(e).__name__})") from None
        except httpx.ConnectError as e:
            if is_tls_error(e):
                raise Unavailable(f"{where}: TLS failed: {_tls_reason(e)}",
                                  hint="context create NAME --tlscacert CA --tlscert CERT --tlskey KEY") from None
            raise Unavailable(f"{where} is unreachable: {e}") from None
        except (httpx.TransportError, httpx.StreamError) as e:
            if is_tls_error(e):
                raise Unavailable(f"{where}: TLS failed: {_tls_reason(e)}") from None
            raise Unavailable(f"{where}: {what} broke off: {e or type(e).__name__}") from None


class StreamBody:
    """A streamed reply's chunks, and ``abort`` for another thread: a read blocked on a quiet stream (``logs
    -f``) is not woken by closing the response, only by shutting its socket down."""

    def __init__(self, chunks: Iterator[bytes], response: httpx.Response) -> None:
        self._chunks = chunks
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def __next__(self) -> bytes:
        return next(self._chunks)

    def abort(self) -> None:
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _bounded(chunks: Iterator[bytes], limit: int, what: str) -> bytes:
    end = time.monotonic() + BODY_DEADLINE
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise InvalidArgument(f"{what}: the reply is larger than {limit} bytes")
        if time.monotonic() > end:
            raise Timeout(f"{what}: the reply took longer than {BODY_DEADLINE:.0f}s")
    return bytes(buf)


def _params(params: dict[str, Any] | None) -> dict[str, str]:
    out = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("1" if value else "0") if isinstance(value, bool) else value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return out


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text.upper():
        return "pouchd's certificate is not signed by the context's CA (--tlscacert), or not for this address"
    return text[:_MAX_MESSAGE]
