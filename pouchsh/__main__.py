"""``python -m pouchsh`` and the ``pouchsh`` program (see pouchsh.cli).

The process's collector policy is set here, before pouchsh.cli and everything after it is imported.
"""

from __future__ import annotations

import gc

__all__ = ["main"]

#: Allocations before the process's first collection (CPython's default threshold is 700).
STARTUP_GEN0_THRESHOLD = 50_000


def collect_after_startup() -> None:
    """Put the cyclic collector's first pass off until ``STARTUP_GEN0_THRESHOLD`` allocations, then
    restore the default thresholds.

    Start-up (the language, grpc, protobuf, the stubs) makes some 40,000 objects that live until exit
    and almost no garbage; at the default threshold the collector scans each of them twice over about 70
    passes, 3% of the instructions of a ``pouchsh -c version``. A short script now ends before any pass;
    a longer one pays one pass over what start-up made, and collects as before after it."""
    default = gc.get_threshold()

    def restore(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            gc.set_threshold(*default)
            gc.callbacks.remove(restore)

    gc.set_threshold(STARTUP_GEN0_THRESHOLD, *default[1:])
    gc.callbacks.append(restore)


def main(argv: list[str] | None = None) -> int:
    collect_after_startup()
    from pouchsh import cli

    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
