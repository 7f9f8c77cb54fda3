"""A token service of the tests' own for Debian's docker-registry in token-auth mode, on loopback.

It issues RS256 JSON web tokens (signed with ``openssl dgst``, the signing certificate in the ``x5c``
header, which the registry checks against ``rootcertbundle``) that live ``lifetime`` seconds and grant the
scope asked for, checks Basic credentials when ``credentials`` is set, and counts its answers per scope.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

SERVICE = "pouchsh-registry"
ISSUER = "pouchsh-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(self, workdir: Path, *, lifetime: int = 5, credentials: tuple[str, str] | None = None) -> None:
        self.key = workdir / "token.key"
        self.cert = workdir / "token.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
             "-days", "2", "-subj", "/CN=pouchsh-test-token"],
            check=True, capture_output=True,
        )
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], check=True, capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.lifetime = lifetime
        self.credentials = credentials
        self.issued: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def registry_config(self) -> str:
        """The ``auth:`` lines of a docker-registry config that trusts these tokens."""
        return (
            f"auth: {{token: {{realm: \"{self.realm}\", service: {SERVICE}, issuer: {ISSUER}, "
            f"rootcertbundle: {self.cert}}}}}\n"
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, scopes: list[str], subject: str) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + self.lifetime, "nbf": now - 1,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing.encode(),
                                   check=True, capture_output=True).stdout
        return f"{signing}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = query.get("scope", [])
                subject = "anonymous"
                if server.credentials is not None:
                    expected = "Basic " + base64.b64encode(":".join(server.credentials).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        self._send(401, b'{"details":"bad credentials"}')
                        return
                    subject = server.credentials[0]
                with server._lock:
                    for scope in scopes:
                        server.issued[scope] += 1
                body = json.dumps({"token": server.token(scopes, subject), "expires_in": server.lifetime}).encode()
                self._send(200, body)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
