"""Registry credentials where docker keeps them: ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``).

- ``auths``: ``{"SERVER": {"auth": base64("user:password")}}`` (docker.io is keyed
  ``https://index.docker.io/v1/``, as docker writes it);
- ``credHelpers``: ``{"SERVER": "NAME"}`` sends that server's credentials to ``docker-credential-NAME``;
- ``credsStore``: ``"NAME"`` sends every other server's there.

A helper is run as docker runs it: ``docker-credential-NAME get|store|erase``, the server URL (get,
erase) or ``{"ServerURL", "Username", "Secret"}`` (store) on stdin, JSON on stdout, with a deadline. The
rest of config.json (docker's other keys) is kept as it is; a write replaces the file atomically (0600)
under a lock.

pouchsh kept its own ``<data root>/auth.json`` before; ``migrate`` moves its entries into config.json
once (those config.json lacks) and removes it. Moving is idempotent, so a kill in the middle is finished
by the next run. Secrets never enter a message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument, NotFound, PouchRuntimeError, Timeout
from managers.reference import DEFAULT_DOMAIN
from managers.store import FileLock, write_atomic

__all__ = ["DockerConfig", "docker_config_dir", "server_domain"]

_LEGACY = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
DOCKER_IO_KEY = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30.0
_HELPER_OUTPUT = 1 << 20
Auth = tuple[str, str]


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


def docker_config_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if env is None else env
    given = env.get("DOCKER_CONFIG")
    return Path(given) if given else Path(os.path.expanduser("~")) / ".docker"


def _key(domain: str) -> str:
    return DOCKER_IO_KEY if domain == DEFAULT_DOMAIN else domain


class DockerConfig:
    def __init__(self, env: dict[str, str] | os._Environ[str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.path = docker_config_dir(self.env) / "config.json"
        self._lock = FileLock(self.path.with_name(".config.json.lock"))

    # ------------------------------------------------------------------ reading

    def get(self, domain: str) -> Auth | None:
        """(username, password) for ``domain``, or None."""
        doc = self._read()
        helper = self._helper(doc, domain)
        if helper:
            return self._helper_get(helper, domain)
        for key, entry in _dict(doc.get("auths")).items():
            if _same(key, domain) and isinstance(entry, dict):
                found = _decode(entry)
                if found:
                    return found
        return None

    # ------------------------------------------------------------------ writing

    def put(self, domain: str, username: str, password: str) -> str:
        """Store the credentials; returns where (``config.json`` or ``docker-credential-NAME``)."""
        if not username or ":" in username:
            raise InvalidArgument("the username must be non-empty and contain no ':'")
        with self._locked():
            doc = self._read()
            auths = _dict(doc.get("auths"))
            for key in [k for k in auths if _same(k, domain)]:
                del auths[key]
            helper = self._helper(doc, domain)
            if helper:
                secret = {"ServerURL": _key(domain), "Username": username, "Secret": password}
                self._run_helper(helper, "store", json.dumps(secret).encode())
                auths[_key(domain)] = {}  # docker lists a server whose secret is in a store so
                where = f"docker-credential-{helper}"
            else:
                auths[_key(domain)] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
                where = str(self.path)
            doc["auths"] = auths
            self._write(doc)
        return where

    def remove(self, domain: str) -> bool:
        """Forget ``domain`` (in config.json and in its helper); False when nothing was stored."""
        with self._locked():
            doc = self._read()
            auths = _dict(doc.get("auths"))
            keys = [k for k in auths if _same(k, domain)]
            removed = bool(keys)
            helper = self._helper(doc, domain)
            if helper:
                removed = self._helper_erase(helper, domain) or removed
            if keys:
                for key in keys:
                    del auths[key]
                doc["auths"] = auths
                self._write(doc)
            return removed

    def migrate(self, old: Path) -> None:
        """Move pouchsh's former store (``auths`` in docker's shape) into config.json, then remove it."""
        try:
            doc = json.loads(old.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            doc = {}
        for key, entry in _dict(doc.get("auths") if isinstance(doc, dict) else None).items():
            creds = _decode(entry) if isinstance(entry, dict) else None
            domain = server_domain(key)
            if creds is not None and self.get(domain) is None:
                self.put(domain, *creds)
        old.unlink(missing_ok=True)

    # ------------------------------------------------------------------ the file

    def _locked(self) -> FileLock:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self._lock

    def _read(self) -> dict[str, Any]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InvalidArgument(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            doc = json.loads(data) if data.strip() else {}
        except ValueError as exc:
            # the message names the place, never the content (it holds secrets)
            raise InvalidArgument(f"{self.path} is not JSON (line {getattr(exc, 'lineno', '?')})") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{self.path} is not a JSON object")
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        write_atomic(self.path, (json.dumps(doc, indent="\t") + "\n").encode(), 0o600)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _helper(doc: dict[str, Any], domain: str) -> str | None:
        for key, name in _dict(doc.get("credHelpers")).items():
            if _same(key, domain) and isinstance(name, str) and name:
                return _helper_name(name)
        store = doc.get("credsStore")
        return _helper_name(store) if isinstance(store, str) and store else None

    def _helper_get(self, helper: str, domain: str) -> Auth | None:
        out = self._run_helper(helper, "get", _key(domain).encode(), not_found_ok=True)
        if out is None:
            return None
        try:
            doc = json.loads(out)
            user, secret = doc.get("Username"), doc.get("Secret")
        except (ValueError, AttributeError):
            raise PouchRuntimeError(f"docker-credential-{helper} get answered no JSON") from None
        if not isinstance(user, str) or not isinstance(secret, str) or not secret:
            return None
        return user, secret

    def _helper_erase(self, helper: str, domain: str) -> bool:
        return self._run_helper(helper, "erase", _key(domain).encode(), not_found_ok=True) is not None

    def _run_helper(
        self, helper: str, verb: str, data: bytes, *, not_found_ok: bool = False
    ) -> bytes | None:
        program = f"docker-credential-{helper}"
        path = shutil.which(program, path=self.env.get("PATH"))
        if path is None:
            raise NotFound(f"credential helper {program} is not on PATH (named in {self.path})")
        try:
            done = subprocess.run(
                [path, verb], input=data, capture_output=True, timeout=HELPER_TIMEOUT, env=self.env
            )
        except subprocess.TimeoutExpired:
            raise Timeout(f"{program} {verb} did not finish within {HELPER_TIMEOUT:g}s") from None
        except OSError as exc:
            raise PouchRuntimeError(f"cannot run {program}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            said = done.stdout[:200].decode("utf-8", "replace").strip()
            if not_found_ok and "credentials not found" in said.lower():
                return None
            # the helper's own text stays out of the message: a helper may echo what it was given
            raise PouchRuntimeError(f"{program} {verb} failed (exit {done.returncode})")
        return done.stdout[:_HELPER_OUTPUT]


def _helper_name(name: str) -> str:
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidArgument(f"invalid credential helper name {name!r}")
    return name


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _same(key: str, domain: str) -> bool:
    try:
        return server_domain(key) == domain
    except InvalidArgument:
        return False


def _decode(entry: dict[str, Any]) -> Auth | None:
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, _, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return (user, password) if user else None
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and user and isinstance(password, str):
        return user, password
    return None
