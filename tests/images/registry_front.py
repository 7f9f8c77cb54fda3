"""A small HTTP front for Debian's docker-registry, on loopback, for the paths the registry itself cannot show.

It forwards every ``/v2/`` request to the real registry (the Host header is passed on, so upload locations
point back at the front) and can:

- demand a Bearer token (``auth="bearer"``), issuing challenges with a realm served by the front itself at
  ``/token``, which checks Basic credentials when ``credentials`` is set and grants the scope asked for;
- demand Basic credentials (``auth="basic"``);
- corrupt blob downloads (``corrupt_blobs``: a flipped byte, same length);
- cut the first download of each blob after half its bytes (``drop_first_download``), to make clients resume;
- pass the client's Authorization on (``pass_auth``), for a registry that checks tokens itself;
- slow blob bodies both ways to ``throttle`` bytes a second, so a transfer outlives a token;
- hold blob downloads until ``gate`` of them were in flight together (or 20 s pass); count the most in flight;
- make its own tokens expire ``token_lifetime`` seconds after issue while announcing ``announced_lifetime``;
- go away (stop listening, cut its downloads) once ``stop_after`` blob bytes were sent;
- hold the download of the blob ``hold_blob`` until ``release`` is set.

Every request forwarded is logged in ``requests`` as (method, path with query, the registry's status).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class RegistryFront:
    def __init__(
        self, upstream: str, *, auth: str | None = None, credentials: tuple[str, str] | None = None, port: int = 0
    ) -> None:
        self.upstream = upstream
        self.auth = auth
        self.credentials = credentials
        self.corrupt_blobs = False
        self.drop_first_download = False
        self.token_requests: list[dict[str, str]] = []
        self.token_scopes: list[list[str]] = []  # every ``scope`` parameter of each token request
        self.requests: list[tuple[str, str, int]] = []
        self.ranges: list[str] = []
        self.pass_auth = False
        self.throttle: int | None = None
        self.gate: int | None = None
        self.max_in_flight = 0
        self.token_lifetime: float | None = None
        self.announced_lifetime: float | None = None
        self.refused_tokens = 0
        self._in_flight = 0
        self._flight = threading.Condition()
        self._issued: dict[str, float] = {}
        self._dropped: set[str] = set()
        self._tokens: dict[str, str] = {}
        self.stop_after: int | None = None
        self.hold_blob: str | None = None  # a digest whose download waits for ``release``
        self.release = threading.Event()
        self.stopped = threading.Event()
        self._sent = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving: the port refuses connections from now on (a registry that went away)."""
        if not self.stopped.is_set():
            self.stopped.set()
            self._server.shutdown()
            self._server.server_close()

    def _basic_ok(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == expected

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _token(self, query: dict[str, list[str]]) -> None:
                front.token_requests.append({k: v[0] for k, v in query.items()})
                front.token_scopes.append(query.get("scope", []))
                if not front._basic_ok(self.headers.get("Authorization")):
                    self._reply(401, {"Content-Type": "application/json"}, b'{"details":"bad credentials"}')
                    return
                scope = query.get("scope", [""])[0]
                token = f"tok-{len(front._tokens)}"
                front._tokens[token] = scope
                front._issued[token] = time.monotonic()
                answer: dict[str, object] = {"token": token}
                if front.announced_lifetime is not None:
                    answer["expires_in"] = front.announced_lifetime
                self._reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())

            def _authorized(self, path: str) -> bool:
                header = self.headers.get("Authorization") or ""
                if front.auth == "basic":
                    if header.startswith("Basic ") and front._basic_ok(header):
                        return True
                    self._challenge('Basic realm="test"')
                    return False
                parts = path.split("/")
                kinds = [i for i, p in enumerate(parts) if p in ("blobs", "manifests", "tags")]
                repo = "/".join(parts[2 : kinds[-1]]) if kinds else ""
                action = "pull" if self.command in ("GET", "HEAD") else "pull,push"
                scope = f"repository:{repo}:{action}" if repo else ""
                token = header.removeprefix("Bearer ")
                granted = front._tokens.get(token) if header.startswith("Bearer ") else None
                if granted is not None and front.token_lifetime is not None:
                    if time.monotonic() - front._issued[token] > front.token_lifetime:
                        front.refused_tokens += 1
                        granted = None
                if granted is not None and (not scope or _covers(granted, repo, action)):
                    return True
                realm = f"http://{front.address}/token"
                params = f'realm="{realm}",service="front"' + (f',scope="{scope}"' if scope else "")
                self._challenge(f"Bearer {params}")
                return False

            def _challenge(self, value: str) -> None:
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                self._reply(401, {"WWW-Authenticate": value, "Content-Type": "application/json"}, body)

            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self._read_slowly(length) if length else b""
                if url.path == "/token":
                    self._token(urllib.parse.parse_qs(url.query))
                    return
                if front.auth and not self._authorized(url.path):
                    return
                dropped_in = ("connection",) if front.pass_auth else ("authorization", "connection")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped_in}
                if "/blobs/sha256:" in url.path and self.command == "GET" and "Range" in headers:
                    front.ranges.append(headers["Range"])
                conn = http.client.HTTPConnection(front.upstream, timeout=30)
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                front.requests.append((self.command, self.path, resp.status))
                dropped = ("connection", "transfer-encoding") + (() if self.command == "HEAD" else ("content-length",))
                out = {k: v for k, v in resp.getheaders() if k.lower() not in dropped}
                is_blob = "/blobs/sha256:" in url.path and self.command == "GET" and resp.status in (200, 206)
                if is_blob and front.corrupt_blobs and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if is_blob and front.drop_first_download and url.path not in front._dropped and len(data) > 2:
                    front._dropped.add(url.path)
                    self.send_response(resp.status)
                    for k, v in out.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if is_blob and front.hold_blob is not None and url.path.endswith(front.hold_blob):
                    front.release.wait(60)
                if is_blob:
                    self._held()
                    try:
                        self._reply_slowly(resp.status, out, data)
                    finally:
                        with front._flight:
                            front._in_flight -= 1
                    return
                self._reply(resp.status, out, data)

            def _held(self) -> None:
                with front._flight:
                    front._in_flight += 1
                    front.max_in_flight = max(front.max_in_flight, front._in_flight)
                    front._flight.notify_all()
                    if front.gate is not None:
                        # open for good once that many were in flight together
                        front._flight.wait_for(lambda: front.max_in_flight >= front.gate, timeout=20)  # type: ignore[operator]

            def _pace(self, started: float, done: int) -> None:
                """Rate limiting (not a wait for a condition): ``done`` bytes may not have gone faster."""
                if front.throttle:
                    ahead = started + done / front.throttle - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)

            def _read_slowly(self, length: int) -> bytes:
                if not front.throttle or "/blobs/uploads/" not in self.path:
                    return self.rfile.read(length)
                started, buf = time.monotonic(), bytearray()
                while len(buf) < length:
                    buf += self.rfile.read(min(16 << 10, length - len(buf)))
                    self._pace(started, len(buf))
                return bytes(buf)

            def _reply_slowly(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                started = time.monotonic()
                for start in range(0, len(body), 16 << 10):
                    if front.stop_after is not None and front._sent >= front.stop_after:
                        # the registry goes away in the middle of this download
                        threading.Thread(target=front.stop, daemon=True).start()
                        front.stopped.wait(10)
                        self.close_connection = True
                        return
                    self.wfile.write(body[start : start + (16 << 10)])
                    front._sent += len(body[start : start + (16 << 10)])
                    self._pace(started, start + (16 << 10))

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler


def _covers(granted: str, repo: str, action: str) -> bool:
    _, _, rest = granted.partition(":")
    name, _, actions = rest.rpartition(":")
    return name == repo and set(action.split(",")) <= set(actions.split(","))
