"""The files a container's network identity lives in: /etc/hosts, /etc/resolv.conf, /etc/hostname.

They are written under ``<root>/containers/<namespace>/<id>/`` and bind-mounted into the container. A
bind-mounted file is pinned by inode, so an update rewrites the file in place (truncate and write) rather
than renaming a new one over it, which the container would never see.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument

__all__ = ["FILES", "host_line", "hosts_text", "parse_add_hosts", "resolv_text", "spec_mounts", "write_in_place"]

FILES = {"hosts": "/etc/hosts", "resolv.conf": "/etc/resolv.conf", "hostname": "/etc/hostname"}
HOSTNAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
_LOCAL = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def validate_hostname(name: str) -> str:
    if len(name) > 253 or not HOSTNAME_RE.match(name):
        raise InvalidArgument(f"invalid hostname {name!r}: use letters, digits, '-' and '.', up to 63 per label")
    return name


def parse_add_hosts(items: list[str]) -> list[tuple[str, str]]:
    """``--add-host NAME:IP`` (docker's spelling; IPv6 addresses keep their colons) as pairs."""
    out = []
    for item in items:
        name, sep, ip = item.partition(":")
        if not sep:
            raise InvalidArgument(f"--add-host {item}: use NAME:IP")
        if ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidArgument(f"--add-host {item}: {ip!r} is not an IP address") from None
        validate_hostname(name)
        out.append((name, ip))
    return out


def parse_dns(items: list[str]) -> list[str]:
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise InvalidArgument(f"--dns {item}: not an IP address") from None
    return out


def host_line(ip: str, names: list[str]) -> str:
    """One /etc/hosts line: ``ip`` and its names, each once."""
    return f"{ip}\t{' '.join(dict.fromkeys(names))}\n"


def hosts_text(lines: list[str], extra: list[tuple[str, str]]) -> str:
    """``lines``: ``host_line``s, the container's own, then its peers' on its networks; ``extra``: --add-host."""
    return "".join([_LOCAL, *lines, *(f"{ip}\t{name}\n" for name, ip in extra)])


def resolv_text(dns: list[str], host_resolv: Path = Path("/etc/resolv.conf")) -> str:
    """The host's resolver settings without loopback name servers (unreachable from a container's own
    network namespace); ``--dns`` replaces the name servers."""
    try:
        host_lines = host_resolv.read_text().splitlines()
    except OSError:
        host_lines = []
    kept = []
    servers = []
    for line in host_lines:
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) > 1:
            try:
                if not ipaddress.ip_address(words[1].split("%")[0]).is_loopback:
                    servers.append(words[1])
            except ValueError:
                continue
        elif words[0] in ("search", "domain", "options"):
            kept.append(line.strip())
    servers = dns or servers
    return "".join(f"nameserver {s}\n" for s in servers) + "".join(f"{k}\n" for k in kept)


def write_in_place(path: Path | str, text: str) -> None:
    """``text`` over the file's old content, blank lines over what is left of that, then the file cut to
    size: a reader meanwhile sees the old text, the new one, or the new one and blank lines, never an
    empty file. (Opening with O_TRUNC had that window, and ext4 frees the blocks of a file truncated to
    nothing in a journal transaction: 116 µs a file here against 4 µs, and a bridge network's change
    rewrites the hosts file of every member.)"""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        old = os.fstat(fd).st_size
        os.pwrite(fd, data + b"\n" * (old - len(data)) if old > len(data) else data, 0)
        if old > len(data):
            os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def spec_mounts(directory: Path, *, readonly: bool = False) -> list[dict[str, Any]]:
    options = ["rbind", "rprivate", "ro" if readonly else "rw"]
    return [
        {"destination": dst, "type": "bind", "source": str(directory / name), "options": list(options)}
        for name, dst in FILES.items()
    ]
