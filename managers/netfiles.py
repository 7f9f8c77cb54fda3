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

__all__ = ["FILES", "hosts_text", "parse_add_hosts", "resolv_text", "spec_mounts", "write_in_place"]

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


def hosts_text(own: list[tuple[str, list[str]]], peers: list[tuple[str, list[str]]], extra: list[tuple[str, str]]) -> str:
    """``own``: this container's (ip, names); ``peers``: others on its networks; ``extra``: --add-host."""
    lines = [_LOCAL]
    for ip, names in own + peers:
        lines.append(f"{ip}\t{' '.join(dict.fromkeys(names))}\n")
    for name, ip in extra:
        lines.append(f"{ip}\t{name}\n")
    return "".join(lines)


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


def write_in_place(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def spec_mounts(directory: Path, *, readonly: bool = False) -> list[dict[str, Any]]:
    options = ["rbind", "rprivate", "ro" if readonly else "rw"]
    return [
        {"destination": dst, "type": "bind", "source": str(directory / name), "options": list(options)}
        for name, dst in FILES.items()
    ]
