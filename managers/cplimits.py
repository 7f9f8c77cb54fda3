"""The bounds of one ``cp``: how many archive members and how many bytes of content it may move.

A container (or an archive given to ``cp -``) may hold millions of entries or a file that never ends;
``cp`` stops at the bound with ``error[invalid-argument]`` naming it, before writing past it. The defaults
suit real copies; ``POUCHSH_CP_MAX_MEMBERS`` and ``POUCHSH_CP_MAX_BYTES`` change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ctrd.errors import InvalidArgument

__all__ = ["CopyLimits"]

DEFAULT_MEMBERS = 1_000_000
DEFAULT_BYTES = 16 << 30


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise InvalidArgument(f"{name}={text!r}: expected a positive number")
    return int(text)


@dataclass
class CopyLimits:
    members: int = DEFAULT_MEMBERS
    bytes: int = DEFAULT_BYTES
    seen_members: int = 0
    seen_bytes: int = 0

    @classmethod
    def from_env(cls) -> CopyLimits:
        return cls(_env_int("POUCHSH_CP_MAX_MEMBERS", DEFAULT_MEMBERS), _env_int("POUCHSH_CP_MAX_BYTES", DEFAULT_BYTES))

    def count(self, size: int) -> None:
        """One more member of ``size`` content bytes."""
        self.seen_members += 1
        self.seen_bytes += max(size, 0)
        if self.seen_members > self.members:
            raise InvalidArgument(f"cp: more than {self.members} entries (the limit, POUCHSH_CP_MAX_MEMBERS)")
        if self.seen_bytes > self.bytes:
            raise InvalidArgument(f"cp: more than {self.bytes} bytes (the limit, POUCHSH_CP_MAX_BYTES)")
