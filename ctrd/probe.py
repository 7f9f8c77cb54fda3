"""Is a containerd there? The plain socket probe that ctrd.dial (which containerd to use) and ctrd.daemon
(the embedded one's supervisor) both ask, kept below both so neither imports the other for it."""

from __future__ import annotations

import os
import socket

__all__ = ["DEFAULT_SYSTEM_SOCKET", "answers", "system_socket"]

DEFAULT_SYSTEM_SOCKET = "/run/containerd/containerd.sock"


def system_socket() -> str:
    """The system containerd's socket (``$POUCHSH_SYSTEM_SOCKET`` overrides it, for tests)."""
    return os.environ.get("POUCHSH_SYSTEM_SOCKET") or DEFAULT_SYSTEM_SOCKET


def answers(address: str) -> bool:
    """Does something accept connections on this unix socket? (A plain connect: no gRPC, microseconds.)"""
    path = address.removeprefix("unix://").removeprefix("unix:")
    if not path.startswith("/"):
        return True  # not a unix socket (tcp): let the first call find out
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        # Non-blocking: a listener whose backlog is full (a stopped containerd that stopped accepting)
        # would otherwise block connect() for ever. Full means something listens there: it answers.
        sock.setblocking(False)
        try:
            sock.connect(path)
        except BlockingIOError:
            return True
        except OSError:
            return False
    return True
