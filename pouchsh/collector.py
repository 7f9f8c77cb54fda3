"""The one place where pouchsh steers CPython's cyclic garbage collector, each step with its figure
(docs/PERFORMANCE.md, "Start-up and the prompt" and "Parser and checker").

- `collect_after_startup` (the ``pouchsh`` process, before pouchsh.cli loads): start-up makes some 40,000
  objects that live until exit and almost no garbage; at the default threshold the collector scans each
  of them twice over about 70 passes, 3% of the instructions of a ``pouchsh -c version`` (556.6M →
  540.4M). The first pass waits for `STARTUP_GEN0_THRESHOLD` allocations, then the defaults return.
- `paused` (around parse and check): both make many objects and free none; with the collector running,
  Lark took 15 µs a token, paused 8 µs.
- `keep_for_good` (the ``pouchsh`` process, once the script is checked): the checked program lives until
  exit, so it leaves the collector's sight (``gc.freeze``) instead of being rescanned by every pass the
  script's run triggers.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STARTUP_GEN0_THRESHOLD", "collect_after_startup", "keep_for_good", "paused"]

#: Allocations before the process's first collection (CPython's default threshold is 700).
STARTUP_GEN0_THRESHOLD = 50_000


def collect_after_startup() -> None:
    """Put the first pass off until ``STARTUP_GEN0_THRESHOLD`` allocations, then restore the defaults."""
    default = gc.get_threshold()

    def restore(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            gc.set_threshold(*default)
            gc.callbacks.remove(restore)

    gc.set_threshold(STARTUP_GEN0_THRESHOLD, *default[1:])
    gc.callbacks.append(restore)


@contextmanager
def paused() -> Iterator[None]:
    """No collection inside the block (the caller's own pause, if any, is left as it was)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def keep_for_good() -> None:
    """Everything alive now stays alive until exit: no later pass scans it again."""
    gc.freeze()
