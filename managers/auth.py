"""Authentication with a registry: answering ``WWW-Authenticate`` challenges, and keeping bearer tokens
fresh per repository scope.

A ``Bearer realm=…,service=…`` challenge is answered with a token fetched from the realm (with the
user's Basic credentials when there are any); ``Basic`` with the credentials themselves. A token is kept
per scope (``repository:NAME:pull`` / ``…:pull,push``) and renewed *before* it expires (a quarter of its
life ahead, at most 30 s), so a long pull or push does not run into an expiry; a 401 with a token in hand
(the registry's clock, or a revoked token) renews it once more and the request is repeated.

A token answer is bounded (1 MiB, and the transport's deadline for a body read into memory); a token
lifetime below 2 s is taken as 2 s, so a token service that says 0 cannot make every request fetch one.
Credentials never appear in a message.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from ctrd.errors import InvalidArgument, PouchRuntimeError
from managers import transport
from managers.transport import HostPolicy

__all__ = ["Auth", "Authenticator", "CredentialLookup", "denied", "parse_challenge"]

#: (username, password)
Auth = tuple[str, str]
CredentialLookup = Callable[[str], "Auth | None"]

_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_TOKEN_MAX = 1 << 20
_DEFAULT_LIFETIME = 60.0  # the distribution spec's default when the answer gives no expires_in
_MIN_LIFETIME = 2.0
_MAX_AHEAD = 30.0


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` → ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), params


def denied(domain: str, detail: str) -> PouchRuntimeError:
    return PouchRuntimeError(
        f"registry {domain} denied access: {detail}", hint=f"log in with: login {domain}"
    )


def basic(creds: Auth) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


@dataclass
class _Token:
    value: str
    renew_at: float  # time.monotonic() past which it is renewed before use


class Authenticator:
    """The credentials of one registry for one pull or push; thread-safe (layers move in parallel)."""

    def __init__(
        self,
        domain: str,
        *,
        credentials: CredentialLookup | None,
        policy: HostPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.domain = domain
        self._credentials = credentials
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._bearer: dict[str, str] | None = None  # the last bearer challenge: where to renew
        self._basic: str | None = None
        self.token_fetches = 0

    def authorization(self, scope: str) -> str | None:
        """The Authorization header for ``scope``: a token (renewed first when near its expiry), Basic
        credentials, or None before any challenge."""
        with self._lock:
            token = self._tokens.get(scope)
            if token is not None and self._clock() >= token.renew_at and self._bearer is not None:
                token = self._fetch(self._bearer, scope)
            if token is not None:
                return f"Bearer {token.value}"
            return self._basic

    def answer(self, challenge: str, scope: str, rejected: str | None) -> bool:
        """Prepare credentials after a 401 whose request carried ``rejected``; False when there is
        nothing new to try (the caller then reports the refusal)."""
        scheme, params = parse_challenge(challenge)
        with self._lock:
            if scheme == "basic":
                creds = self._lookup()
                if creds is None or (self._basic is not None and self._basic == rejected):
                    return False
                self._basic = basic(creds)
                return True
            if scheme != "bearer" or not params.get("realm"):
                return False
            current = self._tokens.get(scope)
            if current is not None and rejected != f"Bearer {current.value}":
                return True  # another thread renewed it meanwhile: try that one
            self._bearer = params
            self._fetch(params, scope)
            return True

    def _lookup(self) -> Auth | None:
        return self._credentials(self.domain) if self._credentials else None

    def _fetch(self, params: dict[str, str], scope: str) -> _Token:
        realm = params["realm"]
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArgument(f"registry {self.domain}: token realm is not an HTTP URL")
        # one ``scope`` parameter a scope (a mount asks for two repositories), as the token spec has it
        scopes = (scope or params.get("scope") or "").split()
        asked = [("service", params.get("service"))] + [("scope", s) for s in scopes]
        query = [(k, v) for k, v in asked if v]
        url = realm + ("&" if parts.query else "?") + urllib.parse.urlencode(query)
        headers: dict[str, str] = {}
        creds = self._lookup()
        if creds is not None:
            headers["Authorization"] = basic(creds)
        started = self._clock()
        self.token_fetches += 1
        # the realm is its own host: a plain-HTTP realm is refused unless that host is insecure, so the
        # credentials above never cross a network in clear
        resp = transport.request("GET", url, policy=self._policy, headers=headers)
        status = resp.status_code
        body = transport.read_body(resp, _TOKEN_MAX, "token answer")
        if status in (401, 403):
            raise denied(self.domain, "the token service refused the credentials")
        if status != 200:
            raise PouchRuntimeError(f"registry {self.domain}: token service answered {status}")
        try:
            doc = json.loads(body)
            value = doc.get("token") or doc.get("access_token")
            lifetime = doc.get("expires_in", _DEFAULT_LIFETIME)
        except (ValueError, AttributeError) as exc:
            raise InvalidArgument(f"registry {self.domain}: token service sent no JSON") from exc
        if not isinstance(value, str) or not value or len(value) > 64 << 10 or not value.isascii():
            raise InvalidArgument(f"registry {self.domain}: token service sent no usable token")
        if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool):
            lifetime = _DEFAULT_LIFETIME
        lifetime = max(float(lifetime), _MIN_LIFETIME)
        token = _Token(value, started + lifetime - min(_MAX_AHEAD, lifetime / 4))
        self._tokens[scope] = token
        return token
