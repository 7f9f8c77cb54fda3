"""Directories only their owner may enter, for everything pouchsh keeps under its data and run roots.

What lives there is root's alone: stores of names, volumes, networks and credentials, containers' logs
(whatever a container prints), FIFOs, the embedded containerd's socket and state. CVE-2021-41091 was
docker's ``/var/lib/docker`` letting other users walk into container filesystems; the cure is the same
here: every directory pouchsh makes is 0700, its missing parents too (``Path.mkdir(parents=True)``
would make those 0777 less the umask). A directory that already exists keeps its mode: it may be one
the administrator made, or a shared one named as a root.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory, made 0700 with any missing parent; raises like ``mkdir`` when a file is
    in the way or the parent cannot be written."""
    path = Path(path)
    try:
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    except FileNotFoundError:
        if path.parent == path:
            raise
        private_dir(path.parent)
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    return path
