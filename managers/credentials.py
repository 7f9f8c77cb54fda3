"""Registry credentials for ``login``/``logout`` and for pull and push.

They live in ``<data root>/auth.json`` in docker's ``config.json`` shape (``{"auths": {host: {"auth":
base64("user:password")}}}``), readable by root only (0600). Writes replace the file atomically under a
lock, so two pouchsh processes logging in at once lose nothing. Passwords are never put in messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from ctrd.errors import InvalidArgument
from managers.reference import DEFAULT_DOMAIN
from managers.store import FileLock, write_atomic

__all__ = ["CredentialStore", "server_domain"]

_LEGACY = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


def server_domain(server: str | None) -> str:
    """``None`` → docker.io; ``https://index.docker.io/v1/`` → docker.io; ``localhost:5000/`` → localhost:5000."""
    if not server:
        return DEFAULT_DOMAIN
    text = server.strip()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    host = text.split("/", 1)[0].lower()
    if not host or any(c.isspace() for c in host):
        raise InvalidArgument(f"invalid registry server {server!r}")
    return DEFAULT_DOMAIN if host in _LEGACY else host


class CredentialStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path.with_suffix(".lock"))

    def get(self, domain: str) -> tuple[str, str] | None:
        """(username, password) stored for ``domain``, or None."""
        entry = self._read().get(domain)
        if not entry:
            return None
        try:
            user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, AttributeError):
            return None
        return (user, password) if user else None

    def put(self, domain: str, username: str, password: str) -> None:
        if not username or ":" in username:
            raise InvalidArgument("the username must be non-empty and contain no ':'")
        auth = base64.b64encode(f"{username}:{password}".encode()).decode()
        with self._lock:
            auths = self._read()
            auths[domain] = {"auth": auth}
            self._write(auths)

    def remove(self, domain: str) -> bool:
        """Forget ``domain``; False when nothing was stored for it."""
        with self._lock:
            auths = self._read()
            if auths.pop(domain, None) is None:
                return False
            self._write(auths)
            return True

    def domains(self) -> list[str]:
        return sorted(self._read())

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"credential file {self.path} is unreadable: {exc}") from exc
        auths = doc.get("auths") if isinstance(doc, dict) else None
        return dict(auths) if isinstance(auths, dict) else {}

    def _write(self, auths: dict[str, dict[str, str]]) -> None:
        write_atomic(self.path, json.dumps({"auths": auths}, indent=2, sort_keys=True).encode(), 0o600)
