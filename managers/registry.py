"""A client for OCI distribution registries (the ``/v2/`` API) on the standard library's http.client.

containerd 1.6 leaves pulling and pushing to the client, so this module does what containerd's
remotes/docker package does for ``ctr``: resolve a tag with the manifest Accept list, answer auth
challenges (``Bearer realm=…,service=…,scope=…`` with a token fetched from the realm, or ``Basic``), fetch
manifests and blobs (following redirects, resuming with ``Range``), and push blobs (existence check, then
a monolithic or chunked upload) and manifests.

HTTPS is used unless the host is insecure: a loopback host, or one named with ``--insecure-registry``.
An insecure host is tried over HTTPS first and falls back to plain HTTP, like docker.

Errors are the tree's kinds: a 404 is NotFound, a refusal (401/403) a runtime error with a login hint, an
unreachable host or a 5xx Unavailable, a malformed answer InvalidArgument.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ctrd.errors import (
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchError,
    PouchRuntimeError,
    Timeout,
    Unavailable,
)
from managers.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
)
from managers.reference import registry_host

__all__ = ["ACCEPT", "Auth", "BlobStream", "Registry", "is_loopback"]

ACCEPT = f"{DOCKER_MANIFEST}, {DOCKER_LIST}, {OCI_MANIFEST}, {OCI_INDEX}, */*"
USER_AGENT = "pouchsh/0.1"
_REDIRECTS = 5
_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')

#: (username, password) for a registry host, or None. The credential store provides it.
Auth = tuple[str, str]
CredentialLookup = Callable[[str], "Auth | None"]


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.index("]")]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` → ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), params


@dataclass
class BlobStream:
    """An open blob download. ``start`` is where the body begins (0 when the server ignored ``Range``)."""

    response: http.client.HTTPResponse
    start: int
    length: int | None

    def chunks(self, size: int = 1 << 20, cancel: threading.Event | None = None) -> Iterator[bytes]:
        while True:
            if cancel is not None and cancel.is_set():
                raise Interrupted("download interrupted")
            try:
                data = self.response.read(size)
            except TimeoutError as exc:
                raise Timeout("registry stopped sending data") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise Unavailable(f"download broke off: {exc}") from exc
            if not data:
                return
            yield data

    def close(self) -> None:
        self.response.close()


class Registry:
    """One registry host. Tokens are cached per scope for the life of the object."""

    def __init__(
        self,
        domain: str,
        *,
        insecure: bool = False,
        credentials: CredentialLookup | None = None,
        timeout: float = 60.0,
        cancel: threading.Event | None = None,
    ) -> None:
        self.domain = domain
        self.host = registry_host(domain)
        self.insecure = insecure or is_loopback(self.host)
        self._credentials = credentials
        self._timeout = timeout
        self._cancel = cancel
        self._scheme: str | None = None if self.insecure else "https"
        self._tokens: dict[str, str] = {}
        self._basic: str | None = None

    # ---------------------------------------------------------------- public API

    def ping(self) -> None:
        """Check that the registry answers ``/v2/`` and accepts our credentials (used by login)."""
        resp = self._send("GET", "/v2/", scope="")
        self._expect(resp, (200,), "registry check")

    def resolve(self, repo: str, obj: str) -> Descriptor:
        """The descriptor of ``repo:obj`` (a tag or digest): HEAD with the Accept list, GET if needed."""
        path = f"/v2/{repo}/manifests/{obj}"
        resp = self._send("HEAD", path, {"Accept": ACCEPT}, scope=self.pull_scope(repo))
        self._expect(resp, (200,), f"manifest {self.domain}/{repo}:{obj}")
        digest = resp.getheader("Docker-Content-Digest")
        media_type = _media_type(resp)
        length = resp.getheader("Content-Length")
        if obj.startswith("sha256:"):
            digest = obj
        size = _content_length(length)
        if size is not None and size > MAX_MANIFEST:
            raise InvalidArgument(
                f"manifest {repo}:{obj} is {size} bytes, more than the {MAX_MANIFEST} allowed"
            )
        if not digest or not media_type or not size:
            data, media_type, digest = self.get_manifest(repo, obj)
            return Descriptor(media_type, digest, len(data))
        return Descriptor(media_type, digest, size)

    def get_manifest(self, repo: str, obj: str, expected: str | None = None) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index; the digest is verified when known."""
        resp = self._send(
            "GET", f"/v2/{repo}/manifests/{obj}", {"Accept": ACCEPT}, scope=self.pull_scope(repo)
        )
        self._expect(resp, (200,), f"manifest {self.domain}/{repo}:{obj}")
        data = resp.read(MAX_MANIFEST + 1)
        resp.close()
        if len(data) > MAX_MANIFEST:
            raise InvalidArgument(f"manifest {repo}:{obj} is larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        want = expected or (obj if obj.startswith("sha256:") else None)
        if want and digest != want:
            raise PouchRuntimeError(
                f"registry {self.domain} served manifest {digest} for {want}: digest mismatch"
            )
        return data, _media_type(resp), digest

    def open_blob(self, repo: str, digest: str, offset: int = 0) -> BlobStream:
        """Start downloading a blob, from ``offset`` when the server honours ``Range``."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._send("GET", f"/v2/{repo}/blobs/{digest}", headers, scope=self.pull_scope(repo))
        self._expect(resp, (200, 206), f"blob {digest}")
        start = offset if resp.status == 206 else 0
        return BlobStream(resp, start, _content_length(resp.getheader("Content-Length")))

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self._send("HEAD", f"/v2/{repo}/blobs/{digest}", scope=self.push_scope(repo))
        resp.read()
        resp.close()
        if resp.status == 404:
            return False
        self._expect(resp, (200,), f"blob {digest}")
        return True

    def upload_blob(
        self,
        repo: str,
        desc: Descriptor,
        body: Callable[[], Iterable[bytes]],
        *,
        chunk_size: int | None = None,
    ) -> None:
        """Upload a blob: one PUT, or PATCHes of ``chunk_size`` bytes then a closing PUT.

        ``body`` opens the blob's bytes afresh each time it is called.
        """
        scope = self.push_scope(repo)
        resp = self._send("POST", f"/v2/{repo}/blobs/uploads/", {"Content-Length": "0"}, scope=scope)
        self._expect(resp, (202,), f"upload of {desc.digest}")
        location = self._location(resp)
        if chunk_size is None:
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)}
            resp = self._send("PUT", _with_digest(location, desc.digest), headers, body=body, scope=scope)
            self._expect(resp, (201,), f"upload of {desc.digest}")
            return
        offset = 0
        for chunk in _rechunk(body(), chunk_size):
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(chunk)),
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            }
            resp = self._send("PATCH", location, headers, body=chunk, scope=scope)
            self._expect(resp, (202,), f"upload of {desc.digest}")
            location = self._location(resp)
            offset += len(chunk)
        resp = self._send(
            "PUT", _with_digest(location, desc.digest), {"Content-Length": "0"}, body=b"", scope=scope
        )
        self._expect(resp, (201,), f"upload of {desc.digest}")

    def put_manifest(self, repo: str, obj: str, media_type: str, data: bytes) -> str:
        """PUT a manifest under a tag or digest; returns the digest the registry reports."""
        headers = {"Content-Type": media_type, "Content-Length": str(len(data))}
        resp = self._send(
            "PUT", f"/v2/{repo}/manifests/{obj}", headers, body=data, scope=self.push_scope(repo)
        )
        self._expect(resp, (201,), f"manifest {self.domain}/{repo}:{obj}")
        local = "sha256:" + hashlib.sha256(data).hexdigest()
        remote = resp.getheader("Docker-Content-Digest") or local
        if remote != local:
            raise PouchRuntimeError(f"registry stored manifest as {remote}, expected {local}")
        return local

    @staticmethod
    def pull_scope(repo: str) -> str:
        return f"repository:{repo}:pull"

    @staticmethod
    def push_scope(repo: str) -> str:
        return f"repository:{repo}:pull,push"

    # ---------------------------------------------------------------- HTTP

    def _send(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        *,
        body: bytes | Callable[[], Iterable[bytes]] | None = None,
        scope: str,
    ) -> http.client.HTTPResponse:
        """One request with auth: on a 401 answer the challenge once and repeat."""
        for attempt in (0, 1):
            hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
            auth = self._authorization(scope)
            if auth:
                hdrs["Authorization"] = auth
            resp = self._request(method, target, hdrs, body)
            if resp.status != 401 or attempt == 1:
                return resp
            challenge = resp.getheader("WWW-Authenticate") or ""
            resp.read()
            resp.close()
            if not self._answer(challenge, scope):
                return resp
        raise AssertionError("unreachable")

    def _request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | Callable[[], Iterable[bytes]] | None,
    ) -> http.client.HTTPResponse:
        """Send and follow redirects; credentials are dropped when a redirect leaves the host."""
        if self._cancel is not None and self._cancel.is_set():
            raise Interrupted(f"{method} {target} interrupted")
        url = target if "://" in target else f"{self._base()}{target}"
        for _ in range(_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            payload = body() if callable(body) else body
            resp = self._round_trip(parts, method, headers, payload)
            if resp.status not in (301, 302, 303, 307, 308):
                return resp
            location = resp.getheader("Location")
            resp.read()
            resp.close()
            if not location:
                return resp
            url = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(url).netloc != parts.netloc:
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
            if resp.status == 303:
                method, body = "GET", None
        raise PouchRuntimeError(f"registry {self.host}: too many redirects for {target}")

    def _round_trip(
        self,
        parts: urllib.parse.SplitResult,
        method: str,
        headers: dict[str, str],
        payload: bytes | Iterable[bytes] | None,
    ) -> http.client.HTTPResponse:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.netloc, timeout=self._timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=self._timeout)
        try:
            conn.request(method, path, body=payload, headers=headers)
            return conn.getresponse()
        except TimeoutError as exc:
            conn.close()
            raise Timeout(f"registry {parts.netloc} did not answer {method} {parts.path}") from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if parts.scheme == "https" and isinstance(exc, (ssl.SSLError, ConnectionResetError)):
                raise _TLSFailed(f"TLS with {parts.netloc} failed: {exc}") from exc
            raise Unavailable(f"registry {parts.netloc} is unreachable: {exc}") from exc

    def _base(self) -> str:
        if self._scheme is None:
            # An insecure host: HTTPS first, plain HTTP when the server does not speak TLS.
            try:
                resp = self._round_trip(urllib.parse.urlsplit(f"https://{self.host}/v2/"), "GET", {}, None)
                resp.read()
                resp.close()
                self._scheme = "https"
            except (_TLSFailed, Unavailable):
                self._scheme = "http"
        return f"{self._scheme}://{self.host}"

    def _location(self, resp: http.client.HTTPResponse) -> str:
        location = resp.getheader("Location")
        resp.read()
        resp.close()
        if not location:
            raise InvalidArgument(f"registry {self.host} gave no upload location")
        return urllib.parse.urljoin(f"{self._base()}/", location)

    # ---------------------------------------------------------------- auth

    def _authorization(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token:
            return f"Bearer {token}"
        return self._basic

    def _answer(self, challenge: str, scope: str) -> bool:
        """Prepare credentials for a 401 challenge; False when there is nothing more to try."""
        scheme, params = parse_challenge(challenge)
        creds = self._credentials(self.domain) if self._credentials else None
        if scheme == "basic":
            if creds is None or self._basic is not None:
                return False
            self._basic = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            return True
        if scheme != "bearer" or "realm" not in params or scope in self._tokens:
            return False
        self._tokens[scope] = self._fetch_token(params, scope, creds)
        return True

    def _fetch_token(self, params: dict[str, str], scope: str, creds: Auth | None) -> str:
        query = {
            k: v
            for k, v in (("service", params.get("service")), ("scope", scope or params.get("scope")))
            if v
        }
        realm = params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"User-Agent": USER_AGENT}
        if creds is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise InvalidArgument(f"registry {self.host}: token realm {realm!r} is not an HTTP URL")
        resp = self._round_trip(parts, "GET", headers, None)
        body = resp.read(1 << 20)
        resp.close()
        if resp.status in (401, 403):
            raise _denied(self.domain, "the token service refused the credentials")
        if resp.status != 200:
            raise PouchRuntimeError(f"registry {self.host}: token service answered {resp.status}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError) as exc:
            raise InvalidArgument(f"registry {self.host}: token service sent no JSON") from exc
        if not token:
            raise InvalidArgument(f"registry {self.host}: token service sent no token")
        return str(token)

    # ---------------------------------------------------------------- answers

    def _expect(self, resp: http.client.HTTPResponse, ok: tuple[int, ...], what: str) -> None:
        if resp.status in ok:
            return
        detail = _error_detail(resp)
        if resp.status in (401, 403):
            raise _denied(self.domain, f"{what}: {detail}")
        if resp.status == 404:
            raise NotFound(f"{what}: not found in {self.domain} ({detail})")
        if resp.status == 429 or resp.status >= 500:
            raise Unavailable(f"registry {self.domain}: {what}: {resp.status} {detail}")
        error: PouchError = InvalidArgument(f"registry {self.domain}: {what}: {resp.status} {detail}")
        raise error


class _TLSFailed(Unavailable):
    """The TLS handshake failed: a plain-HTTP server on an insecure host."""


def _denied(domain: str, detail: str) -> PouchRuntimeError:
    return PouchRuntimeError(
        f"registry {domain} denied access: {detail}", hint=f"log in with: login {domain}"
    )


def _media_type(resp: http.client.HTTPResponse) -> str:
    return (resp.getheader("Content-Type") or "").split(";", 1)[0].strip()


def _error_detail(resp: http.client.HTTPResponse) -> str:
    try:
        body = resp.read(64 << 10)
    except (OSError, http.client.HTTPException):
        body = b""
    resp.close()
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace").strip()[:200]
    return text or resp.reason or str(resp.status)


def _content_length(header: str | None) -> int | None:
    """A Content-Length header's value; None when absent or not a plain non-negative number."""
    if header is None or not header.strip().isdigit() or not header.strip().isascii():
        return None
    return int(header)


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)
