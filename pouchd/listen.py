"""pouchd's listening sockets: ``unix://PATH`` (mode 0660 in a 0700 directory, or 0750 and the socket's
group set with ``--group``) and ``tcp://HOST:PORT``, refused on a non-loopback address unless mutual TLS
is configured, as dockerd does: the API gives root on the host to whoever reaches it."""

from __future__ import annotations

import grp
import ipaddress
import os
import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from ctrd.errors import InvalidArgument

__all__ = ["Listener", "TlsFiles", "bind", "parse_host"]


@dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.ca)
        ctx.load_cert_chain(self.cert, self.key)
        ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: a client without a certificate of our CA is refused
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


@dataclass(frozen=True)
class Listener:
    kind: str  # "unix" or "tcp"
    address: str  # the path, or the host
    port: int = 0


def parse_host(text: str) -> Listener:
    """``unix:///path``, ``tcp://host:port`` (``-H`` as dockerd takes it)."""
    if text.startswith("unix://"):
        path = text[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"-H {text}: the socket path must be absolute")
        return Listener("unix", path)
    if text.startswith("tcp://"):
        rest = text[len("tcp://"):].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise InvalidArgument(f"-H {text}: expected tcp://HOST:PORT")
        return Listener("tcp", host.strip("[]") or "0.0.0.0", int(port))
    raise InvalidArgument(f"-H {text}: expected unix://PATH or tcp://HOST:PORT")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(listener: Listener, *, group: str | None, tls: TlsFiles | None) -> socket.socket:
    """A bound, listening socket for ``listener``; refuses what would expose the API unprotected."""
    if listener.kind == "tcp":
        if not _is_loopback(listener.address) and tls is None:
            raise InvalidArgument(
                f"refusing to listen on tcp://{listener.address}:{listener.port} without mutual TLS",
                hint="give --tlsverify --tlscacert --tlscert --tlskey, or listen on a loopback address",
            )
        family = socket.AF_INET6 if ":" in listener.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listener.address, listener.port))
        sock.listen(128)
        return sock
    path = Path(listener.address)
    gid = _gid(group) if group else None
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if gid is not None:
        os.chown(directory, -1, gid)
        os.chmod(directory, 0o750)
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)  # the socket is born 0660: no moment where others could connect
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    if gid is not None:
        os.chown(path, -1, gid)
    sock.listen(128)
    return sock


def _gid(group: str) -> int:
    try:
        return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidArgument(f"--group {group}: no such group") from None


def _remove_stale(path: Path) -> None:
    """A socket left by a pouchd that died goes; one that still answers, or any other file, stays."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise InvalidArgument(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise InvalidArgument(f"{path}: another pouchd is listening there")
