"""TLS towards registries, as docker does it.

A registry host ``HOST[:PORT]`` is trusted through the system's CAs plus what two directories hold for it:

- ``/etc/docker/certs.d/HOST[:PORT]/`` (docker's; ``$POUCHSH_CERTS_D`` replaces ``/etc/docker/certs.d``,
  which tests use so they never write to the real one), and
- ``<config dir>/certs.d/HOST[:PORT]/`` (pouchsh's own, beside the settings file).

In each, every ``*.crt`` is a CA to trust, and every ``*.cert`` with the ``*.key`` of the same stem is a
client certificate to present. A host is *insecure* when it is loopback (as dockerd treats 127.0.0.0/8)
or is named in ``insecure-registries`` or by ``--insecure-registry``; an entry may be ``HOST``,
``HOST:PORT`` or a CIDR. For an insecure host the certificate is not verified, and plain HTTP is used
when the host speaks no TLS (managers.transport). Every other host is verified, whatever redirects or
token realms say.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable
from pathlib import Path

from ctrd.errors import InvalidArgument
from managers.config import config_dir

__all__ = ["CERTS_D_ENV", "InsecureHosts", "certs_dirs", "certs_state", "is_loopback", "session_entry", "ssl_context"]

CERTS_D_ENV = "POUCHSH_CERTS_D"
DOCKER_CERTS_D = "/etc/docker/certs.d"


def _split_host(host: str) -> str:
    """The name or address of ``HOST[:PORT]`` (``[::1]:5000`` → ``::1``)."""
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    name = _split_host(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class InsecureHosts:
    """Which registry hosts may go unverified (or plain HTTP): loopback, and the entries named."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            text = entry.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
            if not text:
                continue
            if "/" in text:
                try:
                    self._nets.append(ipaddress.ip_network(text, strict=False))
                    continue
                except ValueError as exc:
                    raise InvalidArgument(
                        f"insecure registry {entry!r} is neither a host nor a CIDR"
                    ) from exc
            self._names.add(text)

    def __call__(self, host: str) -> bool:
        host = host.lower()
        if is_loopback(host) or host in self._names or _split_host(host) in self._names:
            return True
        if not self._nets:
            return False
        try:
            address = ipaddress.ip_address(_split_host(host))
        except ValueError:
            return False
        return any(address in net for net in self._nets)


def session_entry(entry: str) -> str:
    """An insecure-registry entry given in a session (``registry insecure``): ``HOST[:PORT]`` or a CIDR,
    normalized as InsecureHosts reads it; anything else is refused, so a typo is not silently kept."""
    from managers.reference import is_host

    text = entry.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if "/" in text:
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            pass
    elif text and is_host(text):
        return text
    raise InvalidArgument(
        f"insecure registry {entry[:100]!r} is neither HOST[:PORT] nor a CIDR",
        hint="registry insecure registry.lan:5000, or 10.20.0.0/16",
    )


def certs_dirs(host: str, env: dict[str, str] | os._Environ[str] | None = None) -> list[Path]:
    """The directories whose certificates apply to ``host`` (``HOST[:PORT]``), docker's first."""
    env = os.environ if env is None else env
    if "/" in host or host in ("", ".", ".."):
        raise InvalidArgument(f"invalid registry host {host!r}")
    docker = Path(env.get(CERTS_D_ENV) or DOCKER_CERTS_D)
    return [docker / host, config_dir(env) / "certs.d" / host]


def certs_state(host: str) -> tuple[tuple[str, int, int], ...]:
    """What the certs.d files of ``host`` are now (path, mtime, size): a change means a new context."""
    state: list[tuple[str, int, int]] = []
    for directory in certs_dirs(host):
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            state.append((entry.path, st.st_mtime_ns, st.st_size))
    return tuple(state)


def ssl_context(
    host: str, *, insecure: bool, env: dict[str, str] | os._Environ[str] | None = None
) -> ssl.SSLContext:
    """The one TLS context for ``host``: system CAs, the host's certs.d CAs and client certificate, and
    no verification only when ``insecure``."""
    ctx = ssl.create_default_context()
    for directory in certs_dirs(host, env):
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise InvalidArgument(f"cannot read {directory}: {exc.strerror or exc}") from None
        for name in names:
            path = directory / name
            try:
                if name.endswith(".crt"):
                    ctx.load_verify_locations(cafile=str(path))
                elif name.endswith(".cert"):
                    key = path.with_suffix(".key")
                    if not key.exists():
                        raise InvalidArgument(f"client certificate {path} has no key {key.name} beside it")
                    ctx.load_cert_chain(str(path), str(key))
                elif name.endswith(".key") and not path.with_suffix(".cert").exists():
                    raise InvalidArgument(f"client key {path} has no certificate {path.stem}.cert beside it")
            except (ssl.SSLError, OSError) as exc:
                raise InvalidArgument(f"cannot use {path} for {host}: {exc}") from None
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
