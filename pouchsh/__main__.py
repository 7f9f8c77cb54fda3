"""``python -m pouchsh`` and the ``pouchsh`` program (see pouchsh.cli)."""

from __future__ import annotations

from pouchsh.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
