"""A client for OCI distribution registries (the ``/v2/`` API): the protocol, over managers.transport.

containerd 1.6 leaves pulling and pushing to the client, so this module does what containerd's
remotes/docker package does for ``ctr``: resolve a tag with the manifest Accept list, fetch manifests and
blobs (resuming with ``Range``), and push blobs (existence check, then a monolithic or chunked upload) and
manifests. Challenges and tokens are managers.auth's; connections, TLS, proxies and redirects are
managers.transport's, and nothing here opens a socket.

Errors are the tree's kinds: a 404 is NotFound, a refusal (401/403) a runtime error with a login hint, an
unreachable host or a 5xx Unavailable, a malformed answer InvalidArgument.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctrd.errors import InvalidArgument, NotFound, PouchError, PouchRuntimeError, Unavailable
from managers import transport
from managers.auth import Auth, Authenticator, CredentialLookup, denied, parse_challenge
from managers.oci import DOCKER_LIST, DOCKER_MANIFEST, MAX_MANIFEST, OCI_INDEX, OCI_MANIFEST, Descriptor
from managers.reference import registry_host
from managers.tls import InsecureHosts, is_loopback
from managers.transport import Body, HostPolicy

if TYPE_CHECKING:
    import httpx  # the responses managers.transport hands out (it alone imports httpx)

__all__ = ["ACCEPT", "Auth", "BlobStream", "Registry", "is_loopback", "parse_challenge"]

ACCEPT = f"{DOCKER_MANIFEST}, {DOCKER_LIST}, {OCI_MANIFEST}, {OCI_INDEX}, */*"
_ERROR_BODY = 64 << 10


@dataclass
class BlobStream:
    """An open blob download. ``start`` is where the body begins (0 when the server ignored ``Range``)."""

    response: httpx.Response
    start: int
    length: int | None
    what: str

    def chunks(self, cancel: threading.Event | None = None) -> Iterator[bytes]:
        return transport.iter_body(self.response, self.what, cancel)

    def close(self) -> None:
        self.response.close()


class Registry:
    """One registry for one pull, push or login. Tokens are kept per scope for the life of the object;
    connections for the life of the process (managers.transport)."""

    def __init__(
        self,
        domain: str,
        *,
        insecure: bool = False,
        insecure_hosts: HostPolicy | None = None,
        credentials: CredentialLookup | None = None,
        cancel: threading.Event | None = None,
        host: str | None = None,
    ) -> None:
        self.domain = domain
        # a mirror serves a domain from another host; credentials stay those of the host asked
        self.host = host or registry_host(domain)
        named = insecure_hosts or InsecureHosts()
        self._policy: HostPolicy = named
        if insecure:  # --insecure-registry on this command: this host, not where it redirects
            self._policy = lambda h: h.lower() == self.host.lower() or named(h)
        self.insecure = self._policy(self.host)
        self._cancel = cancel
        self.auth = Authenticator(
            domain if host is None else self.host,
            credentials=credentials,
            policy=self._policy,
        )

    # ---------------------------------------------------------------- public API

    def ping(self) -> None:
        """Check that the registry answers ``/v2/`` and accepts our credentials (used by login)."""
        self._call("GET", "/v2/", what="registry check", scope="").close()

    def resolve(self, repo: str, obj: str) -> Descriptor:
        """The descriptor of ``repo:obj`` (a tag or digest): HEAD with the Accept list, GET if needed."""
        resp = self._call(
            "HEAD",
            f"/v2/{repo}/manifests/{obj}",
            what=f"manifest {self.domain}/{repo}:{obj}",
            headers={"Accept": ACCEPT},
            scope=self.pull_scope(repo),
        )
        resp.close()
        digest = resp.headers.get("Docker-Content-Digest")
        media_type = _media_type(resp)
        size = _content_length(resp.headers.get("Content-Length"))
        if obj.startswith("sha256:"):
            digest = obj
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
        resp = self._call(
            "GET",
            f"/v2/{repo}/manifests/{obj}",
            what=f"manifest {self.domain}/{repo}:{obj}",
            headers={"Accept": ACCEPT},
            scope=self.pull_scope(repo),
        )
        data = transport.read_body(resp, MAX_MANIFEST, f"manifest {repo}:{obj}")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        want = expected or (obj if obj.startswith("sha256:") else None)
        if want and digest != want:
            raise PouchRuntimeError(
                f"registry {self.domain} served manifest {digest} for {want}: digest mismatch"
            )
        return data, _media_type(resp), digest

    def open_blob(self, repo: str, digest: str, offset: int = 0) -> BlobStream:
        """Start downloading a blob, from ``offset`` when the server honours ``Range``."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        what = f"blob {digest}"
        resp = self._call(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            what=what,
            headers=headers,
            scope=self.pull_scope(repo),
            ok=(200, 206),
        )
        start = offset if resp.status_code == 206 else 0
        return BlobStream(resp, start, _content_length(resp.headers.get("Content-Length")), what)

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self._call(
            "HEAD",
            f"/v2/{repo}/blobs/{digest}",
            what=f"blob {digest}",
            scope=self.push_scope(repo),
            ok=(200, 404),
        )
        resp.close()
        return resp.status_code == 200

    def upload_blob(
        self,
        repo: str,
        desc: Descriptor,
        body: Callable[[], Iterable[bytes]],
        *,
        chunk_size: int | None = None,
        location: str | None = None,
    ) -> None:
        """Upload a blob: one PUT, or PATCHes of ``chunk_size`` bytes then a closing PUT; into the upload
        at ``location`` when one is open already (a refused mount's), else into a new one.

        ``body`` opens the blob's bytes afresh each time it is called.
        """
        scope = self.push_scope(repo)
        what = f"upload of {desc.digest}"
        if location is None:
            resp = self._call(
                "POST",
                f"/v2/{repo}/blobs/uploads/",
                what=what,
                headers={"Content-Length": "0"},
                scope=scope,
                ok=(202,),
            )
            location = self._location(resp)
        if chunk_size is None:
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)}
            url = _with_digest(location, desc.digest)
            self._call("PUT", url, what=what, headers=headers, content=body, scope=scope, ok=(201,)).close()
            return
        offset = 0
        for chunk in _rechunk(body(), chunk_size):
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(chunk)),
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            }
            resp = self._call(
                "PATCH", location, what=what, headers=headers, content=chunk, scope=scope, ok=(202,)
            )
            location = self._location(resp)
            offset += len(chunk)
        url = _with_digest(location, desc.digest)
        headers = {"Content-Length": "0"}
        self._call("PUT", url, what=what, headers=headers, content=b"", scope=scope, ok=(201,)).close()

    def mount_blob(self, repo: str, digest: str, source: str) -> tuple[bool, str | None]:
        """Ask the registry to link blob ``digest`` of its repository ``source`` into ``repo`` (a
        cross-repository mount): (True, None) when it did; (False, the upload it opened instead) when
        it would not; (False, None) when it refused the request, and the blob is uploaded afresh."""
        query = urllib.parse.urlencode({"mount": digest, "from": source})
        try:
            resp = self._call(
                "POST",
                f"/v2/{repo}/blobs/uploads/?{query}",
                what=f"mount of {digest} from {source}",
                headers={"Content-Length": "0"},
                # reading ``source`` is part of the request: a token must grant both
                scope=f"{self.push_scope(repo)} {self.pull_scope(source)}",
                ok=(201, 202),
            )
        except (PouchRuntimeError, InvalidArgument, NotFound):
            return False, None  # refused (no right to read ``source``, a registry without mounts)
        if resp.status_code == 201:
            resp.close()
            return True, None
        return False, self._location(resp)

    def put_manifest(self, repo: str, obj: str, media_type: str, data: bytes) -> str:
        """PUT a manifest under a tag or digest; returns the digest the registry reports."""
        headers = {"Content-Type": media_type, "Content-Length": str(len(data))}
        resp = self._call(
            "PUT",
            f"/v2/{repo}/manifests/{obj}",
            what=f"manifest {self.domain}/{repo}:{obj}",
            headers=headers,
            content=data,
            scope=self.push_scope(repo),
            ok=(201,),
        )
        resp.close()
        local = "sha256:" + hashlib.sha256(data).hexdigest()
        remote = resp.headers.get("Docker-Content-Digest") or local
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

    def _call(
        self,
        method: str,
        target: str,
        *,
        what: str,
        scope: str,
        headers: dict[str, str] | None = None,
        content: Body = None,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """One request with auth (a 401 is answered once and the request repeated); an answer not in
        ``ok`` is raised as its kind. The response is open: the caller reads or closes it."""
        url = target if "://" in target else f"{transport.transport(self.host, self.insecure).base()}{target}"
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            auth = self.auth.authorization(scope)
            if auth:
                hdrs["Authorization"] = auth
            resp = transport.request(
                method, url, policy=self._policy, headers=hdrs, content=content, cancel=self._cancel
            )
            if resp.status_code in ok:
                return resp
            if resp.status_code == 401 and attempt == 0:
                challenge = resp.headers.get("WWW-Authenticate") or ""
                resp.close()
                if self.auth.answer(challenge, scope, auth):
                    continue
                raise denied(self.domain, f"{what}: authentication required")
            raise self._refusal(resp, what)
        raise AssertionError("unreachable")

    def _refusal(self, resp: httpx.Response, what: str) -> PouchError:
        status = resp.status_code
        detail = _error_detail(resp)
        if status in (401, 403):
            return denied(self.domain, f"{what}: {detail}")
        if status == 404:
            return NotFound(f"{what}: not found in {self.domain} ({detail})")
        if status == 429 or status >= 500:
            return Unavailable(f"registry {self.domain}: {what}: {status} {detail}")
        return InvalidArgument(f"registry {self.domain}: {what}: {status} {detail}")

    def _location(self, resp: httpx.Response) -> str:
        location = resp.headers.get("Location")
        resp.close()
        if not location:
            raise InvalidArgument(f"registry {self.host} gave no upload location")
        return urllib.parse.urljoin(str(resp.request.url), location)


def _media_type(resp: httpx.Response) -> str:
    return (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip()


def _error_detail(resp: httpx.Response) -> str:
    try:
        head = resp.request.method == "HEAD"
        body = b"" if head else transport.read_body(resp, _ERROR_BODY, "error answer", deadline=10)
    except PouchError:
        body = b""
    resp.close()
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(str(e.get("message") or e.get("code")) for e in errors)[:300]
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace").strip()[:200]
    return text or resp.reason_phrase or str(resp.status_code)


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
