"""Chain IDs (image-spec ``identity.ChainIDs``): the names of an image's unpacked layer snapshots.

Apart from ctrd.unpack so that an image record can name its top snapshot without loading the unpacker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["chain_id", "chain_ids"]


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """image-spec ``identity.ChainIDs``: chain[0] = diff[0]; chain[i] = sha256(chain[i-1] + " " + diff[i])."""
    chain: list[str] = []
    for diff_id in diff_ids:
        if chain:
            digest = hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest()
            chain.append(f"sha256:{digest}")
        else:
            chain.append(diff_id)
    return chain


def chain_id(diff_ids: Sequence[str]) -> str:
    """The chain ID of the whole stack (the top snapshot's name); "" for no layers."""
    chain = chain_ids(diff_ids)
    return chain[-1] if chain else ""
