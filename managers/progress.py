"""Progress of pulls, pushes and loads, reported to a callback the command layer passes in.

Managers never print: they call ``progress(Progress(...))`` as blobs move, and the command layer decides
whether to draw bars (only on a terminal) or ignore the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "ProgressFn", "report"]


@dataclass(frozen=True)
class Progress:
    """One blob's state. ``status`` is one of waiting, downloading, uploading, exists, done."""

    id: str  # the blob digest
    kind: str  # index, manifest, config or layer
    status: str
    current: int = 0
    total: int = 0


ProgressFn = Callable[[Progress], None]


def report(progress: ProgressFn | None, event: Progress) -> None:
    if progress is not None:
        progress(event)
