"""Published ports: ``-p`` specs parsed into mappings, ``-P`` host ports chosen, clashes found.

    -p 8080:80          host port 8080 on every address → container port 80/tcp
    -p 127.0.0.1:8080:80/udp
    -p 127.0.0.1::80    a free host port on 127.0.0.1
    -p 80               a free host port → 80/tcp
    -p 8000-8001:80-81  equal-length ranges

A mapping is the record ``{host_ip, host_port, container_port, protocol}``; its CNI form (portmap's
``portMappings`` capability) is ``{hostIP, hostPort, containerPort, protocol}``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from ctrd.errors import Conflict, InvalidArgument

__all__ = ["clashes", "free_port", "in_use_on_host", "parse_exposed", "parse_ports", "to_cni"]

PROTOCOLS = ("tcp", "udp", "sctp")


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"{what}: {text!r} is not a port number (1-65535)")
    return int(text)


def _range(text: str, what: str) -> list[int]:
    lo, dash, hi = text.partition("-")
    if not dash:
        return [_port(text, what)]
    a, b = _port(lo, what), _port(hi, what)
    if b < a:
        raise InvalidArgument(f"{what}: port range {text} runs backwards")
    return list(range(a, b + 1))


def parse_ports(specs: Iterable[str]) -> list[dict[str, Any]]:
    """``-p`` specs into mappings; a host port of 0 means "choose a free one"."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        what = f"-p {spec}"
        body, slash, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
        if slash and proto not in PROTOCOLS:
            raise InvalidArgument(f"{what}: protocol must be one of {', '.join(PROTOCOLS)}")
        # An IPv6 host address is written in brackets: [::1]:8080:80
        host_ip = ""
        if body.startswith("["):
            end = body.find("]:")
            if end < 0:
                raise InvalidArgument(f"{what}: unclosed '[' in the host address")
            host_ip, body = body[1:end], body[end + 2:]
            parts = [host_ip, *body.split(":")]
        else:
            parts = body.split(":")
        if len(parts) == 1:
            host, container = "", parts[0]
        elif len(parts) == 2:
            host, container = parts
        elif len(parts) == 3:
            host_ip, host, container = parts
        else:
            raise InvalidArgument(f"{what}: use [IP:][HOST:]CONTAINER[/PROTO]")
        if host_ip:
            try:
                address = ipaddress.ip_address(host_ip)
            except ValueError:
                raise InvalidArgument(f"{what}: {host_ip!r} is not an IP address") from None
            # 0.0.0.0 means every address, as an empty host IP does: one spelling, so clashes are found
            host_ip = "" if address.is_unspecified else str(address)
        cports = _range(container, what)
        hports = _range(host, what) if host else [0] * len(cports)
        if len(hports) != len(cports):
            raise InvalidArgument(f"{what}: host and container port ranges differ in length")
        for hp, cp in zip(hports, cports):
            out.append({"host_ip": host_ip, "host_port": hp, "container_port": cp, "protocol": proto})
    return out


def parse_exposed(exposed: Iterable[str]) -> list[dict[str, Any]]:
    """An image's ExposedPorts (``"80/tcp"``) as mappings to free host ports, for ``-P``."""
    out = []
    for item in exposed:
        port, _, proto = item.partition("/")
        proto = proto or "tcp"
        if proto not in PROTOCOLS:
            continue
        for cp in _range(port, f"exposed port {item}"):
            out.append({"host_ip": "", "host_port": 0, "container_port": cp, "protocol": proto})
    return out


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["protocol"] != b["protocol"] or a["host_port"] != b["host_port"]:
        return False
    return not a["host_ip"] or not b["host_ip"] or a["host_ip"] == b["host_ip"]


def clashes(wanted: list[dict[str, Any]], published: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Conflict when a wanted host port is published already (by ``owner``: "container NAME", "pod NAME")
    or given twice."""
    published = list(published)
    for i, m in enumerate(wanted):
        if not m["host_port"]:
            continue
        for other in wanted[:i]:
            if _overlap(m, other):
                raise Conflict(f"host port {m['host_port']}/{m['protocol']} is given twice")
        for owner, p in published:
            if _overlap(m, p):
                raise Conflict(
                    f"host port {_show(m)} is already published by {owner}",
                    hint="choose another host port, or -p CONTAINER for a free one",
                )


def free_port(protocol: str, host_ip: str, taken: set[int]) -> int:
    """A host port the kernel reports free (an ephemeral bind) and no container publishes."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    for _ in range(100):
        with socket.socket(family, kind) as s:
            s.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
            port = s.getsockname()[1]
        if port not in taken:
            return int(port)
    raise Conflict("no free host port found")


def in_use_on_host(m: dict[str, Any]) -> bool:
    """True when a host process already listens on the mapping's address and port."""
    kind = socket.SOCK_DGRAM if m["protocol"] == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in m["host_ip"] else socket.AF_INET
    if m["protocol"] == "sctp":
        return False
    with socket.socket(family, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT socket is no listener
        try:
            s.bind((m["host_ip"] or ("::" if family == socket.AF_INET6 else "0.0.0.0"), m["host_port"]))
        except OSError:
            return True
    return False


def to_cni(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"hostPort": m["host_port"], "containerPort": m["container_port"], "protocol": m["protocol"],
         "hostIP": m["host_ip"]}
        for m in mappings
    ]


def _show(m: dict[str, Any]) -> str:
    return f"{m['host_ip'] + ':' if m['host_ip'] else ''}{m['host_port']}/{m['protocol']}"
