"""The connections to registries: the one module that speaks HTTP (httpx), and the one place its errors
become the tree's kinds.

One ``httpx.Client`` per registry host and trust level (so one connection pool and one TLS context,
managers.tls), kept for the life of the process and shared by every thread of a pull or push. HTTP/1.1
only, a connection per transfer in flight: with HTTP/2 (httpx's h2) Debian's docker-registry (Go's server)
dropped the connection under concurrent uploads in about one push of ten over TLS (tests/images/
test_registry_tls_ctrd.py, 0 of 25 with HTTP/1.1). Proxies come from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and
``NO_PROXY`` (httpx's ``trust_env``). Every request has timeouts (connect, read, write, pool), and every
body read into memory has a size bound and an overall deadline, so a registry that trickles bytes forever
is cut off.

Redirects are followed here, at most ``MAX_REDIRECTS``: credentials never follow a redirect to another
host, the other host is verified (or not) by its own trust level, never by the first host's, and a
redirect from HTTPS to plain HTTP is refused unless the target host is insecure.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator

# httpx's package imports its command-line tool, and with it click, rich's progress and pygments, when
# they are installed (they are, for the REPL): 98 modules, ≈ 50 ms of CPU at the start of every pull,
# push and login, for nothing here. Its import then fails as httpx expects when they are missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

from ctrd.errors import Interrupted, InvalidArgument, PouchRuntimeError, Timeout, Unavailable
from managers.tls import certs_state, ssl_context

__all__ = [
    "MAX_REDIRECTS",
    "USER_AGENT",
    "Body",
    "HostPolicy",
    "TLSFailed",
    "Transport",
    "is_tls_error",
    "iter_body",
    "read_body",
    "request",
    "transport",
]

USER_AGENT = "pouchsh/0.1"
MAX_REDIRECTS = 5
#: per request: to connect, between two reads, to write, to wait for a pooled connection
TIMEOUT = httpx.Timeout(connect=15.0, read=60.0, write=60.0, pool=120.0)
#: overall deadline for a body read into memory (manifests, tokens, error details)
BODY_DEADLINE = 60.0
_IDEMPOTENT = frozenset({"GET", "HEAD"})
_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30.0)

#: is this host insecure (unverified TLS, or plain HTTP)? managers.tls.InsecureHosts is one.
HostPolicy = Callable[[str], bool]
Body = bytes | Callable[[], Iterable[bytes]] | None


class TLSFailed(Unavailable):
    """The TLS handshake failed: a plain-HTTP server, or a certificate that is not trusted."""


@contextlib.contextmanager
def _mapped(host: str, what: str) -> Iterator[None]:
    """httpx's errors as the tree's kinds; the only place that knows them."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Timeout(f"registry {host}: {what}: no answer in time ({type(exc).__name__})") from None
    except httpx.ProxyError as exc:
        raise Unavailable(f"registry {host}: {what}: the proxy failed: {exc}") from None
    except httpx.ConnectError as exc:
        if is_tls_error(exc):
            raise TLSFailed(f"registry {host}: TLS failed: {_tls_reason(exc)}") from None
        raise Unavailable(f"registry {host} is unreachable: {exc}") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise InvalidArgument(f"registry {host}: {what}: {exc}") from None
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise Unavailable(f"registry {host}: {what} broke off: {exc or type(exc).__name__}") from None


def is_tls_error(exc: BaseException) -> bool:
    """Whether ``exc`` (an httpx error) came from TLS: an ``ssl.SSLError`` in its chain, or httpx's text
    naming it (httpx wraps some of them in plain ConnectErrors)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).upper()
    return "SSL" in text or "CERTIFICATE" in text or "TLS" in text


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text.upper():
        return (
            "its certificate is not trusted (put its CA in certs.d/HOST:PORT/ca.crt, or name the host "
            "with --insecure-registry)"
        )
    return text


class Transport:
    """The connections to one host at one trust level."""

    def __init__(self, host: str, insecure: bool) -> None:
        self.host = host
        self.insecure = insecure
        self._client = httpx.Client(
            verify=ssl_context(host, insecure=insecure),
            http2=False,
            trust_env=True,
            timeout=TIMEOUT,
            limits=_LIMITS,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        # None until probed: an insecure host may speak plain HTTP only (see ``base``)
        self._scheme: str | None = None if insecure else "https"
        self._probe = threading.Lock()

    def base(self) -> str:
        """``https://HOST`` or, for an insecure host that speaks no TLS, ``http://HOST``."""
        with self._probe:
            if self._scheme is None:
                try:
                    with _mapped(self.host, "TLS check"):
                        probe = self._client.build_request("GET", f"https://{self.host}/v2/")
                        self._client.send(probe, stream=True).close()
                    self._scheme = "https"
                except (TLSFailed, Unavailable):
                    self._scheme = "http"
            return f"{self._scheme}://{self.host}"

    def send(self, method: str, url: str, headers: dict[str, str], content: Body) -> httpx.Response:
        with _mapped(self.host, f"{method} {urllib.parse.urlsplit(url).path}"):
            try:
                return self._send(method, url, headers, content)
            except httpx.RemoteProtocolError:
                # The server closed a pooled keep-alive connection just as the request went out on it:
                # a request that changes nothing is sent once more, on a fresh connection.
                if method not in _IDEMPOTENT:
                    raise
                return self._send(method, url, headers, content)

    def _send(self, method: str, url: str, headers: dict[str, str], content: Body) -> httpx.Response:
        payload = content() if callable(content) else content
        request = self._client.build_request(method, url, headers=headers, content=payload)
        return self._client.send(request, stream=True)

    def close(self) -> None:
        self._client.close()


_transports: dict[tuple[str, bool, tuple[tuple[str, int, int], ...], tuple[str, ...]], Transport] = {}
_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
_transports_lock = threading.Lock()


def transport(host: str, insecure: bool) -> Transport:
    """The process's transport for ``host`` at this trust level and these certs.d files (a CA put in
    place while pouchsh runs takes effect at the next request)."""
    key = (host.lower(), insecure, certs_state(host), _proxy_env())
    with _transports_lock:
        found = _transports.get(key)
        if found is None:
            found = _transports[key] = Transport(host, insecure)
        return found


def _proxy_env() -> tuple[str, ...]:
    """The proxy variables httpx reads when a client is made: a change means a new client."""
    return tuple(os.environ.get(n) or os.environ.get(n.lower()) or "" for n in _PROXY_VARS)


def request(
    method: str,
    url: str,
    *,
    policy: HostPolicy,
    headers: dict[str, str] | None = None,
    content: Body = None,
    cancel: threading.Event | None = None,
) -> httpx.Response:
    """Send ``method url`` and follow redirects; the response is open (streamed): the caller closes it.

    ``content`` that is a callable is called afresh for each send (a redirected upload re-reads)."""
    if cancel is not None and cancel.is_set():
        raise Interrupted(f"{method} {urllib.parse.urlsplit(url).path} interrupted")
    hdrs = dict(headers or {})
    origin = urllib.parse.urlsplit(url).netloc
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc
        if parts.scheme not in ("http", "https") or not host:
            raise InvalidArgument(f"registry {origin}: refusing to follow to {_shown(url)}")
        insecure = policy(host)
        if parts.scheme == "http" and not insecure:
            raise PouchRuntimeError(
                f"registry {origin}: refusing plain HTTP to {host}, which is not an insecure registry"
            )
        if host.lower() != origin.lower():
            # a credential is for the host it was given for, never for where that host sends us
            hdrs.pop("Authorization", None)
        resp = transport(host, insecure).send(method, url, hdrs, content)
        if resp.status_code not in (301, 302, 303, 307, 308):
            return resp
        location = resp.headers.get("Location")
        resp.close()
        if not location:
            raise PouchRuntimeError(f"registry {host} redirected without a location")
        url = urllib.parse.urljoin(url, location)
        if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
            method, content = "GET", None
            hdrs.pop("Content-Length", None)
            hdrs.pop("Content-Type", None)
    raise PouchRuntimeError(f"registry {origin}: more than {MAX_REDIRECTS} redirects")


def _shown(url: str) -> str:
    """A URL for a message: no user info, no query (either may carry a credential)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"[:200]


def read_body(resp: httpx.Response, limit: int, what: str, *, deadline: float | None = None) -> bytes:
    """The whole body, refused past ``limit`` bytes or ``deadline`` seconds (default BODY_DEADLINE);
    the response is closed."""
    host = resp.request.url.netloc.decode("ascii", "replace")
    deadline = BODY_DEADLINE if deadline is None else deadline
    end = time.monotonic() + deadline
    buf = bytearray()
    try:
        with _mapped(host, what):
            for chunk in resp.iter_bytes():
                buf += chunk
                if len(buf) > limit:
                    raise InvalidArgument(f"registry {host}: {what} is larger than {limit} bytes")
                if time.monotonic() > end:
                    raise Timeout(f"registry {host}: {what} took longer than {deadline:.0f}s")
    finally:
        resp.close()
    return bytes(buf)


def iter_body(resp: httpx.Response, what: str, cancel: threading.Event | None = None) -> Iterator[bytes]:
    """The body as it arrives (bytes as sent: blobs are requested without content coding)."""
    host = resp.request.url.netloc.decode("ascii", "replace")
    with _mapped(host, what):
        for chunk in resp.iter_raw():  # as received: a cut body keeps what came
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"{what} interrupted")
            yield chunk
