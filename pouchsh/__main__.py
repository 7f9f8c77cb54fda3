"""``python -m pouchsh`` and the ``pouchsh`` program (see pouchsh.cli).

Two things happen here, before pouchsh.cli and everything after it is imported: Ctrl-C during start-up
ends the process quietly with status 130, and the process's collector policy is set (pouchsh.collector).

The SIGINT handler is installed by the first lines of this module when it is the program being run
(``python -m pouchsh``, or the ``pouchsh`` console script, which imports it), so that an import that
follows cannot end in a traceback; importing this module elsewhere (tests) changes nothing. What runs
before these lines is CPython's own start-up and the console script's ``import re``: a Ctrl-C there is
CPython's to report, out of reach of any code of pouchsh.
"""

from __future__ import annotations

import os
import signal
import sys


def interrupted_at_startup(signum: int, frame: object) -> None:
    """SIGINT before pouchsh.cli has put its own handling in place: nothing has been done that needs
    undoing, so end at once, as an interrupted script ends (a KeyboardInterrupt raised inside an import
    would print a traceback)."""
    os.write(2, b"error[interrupted]: interrupted\n")
    os._exit(130)


if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "pouchsh":
    signal.signal(signal.SIGINT, interrupted_at_startup)

from pouchsh.collector import collect_after_startup  # noqa: E402 - after the handler, on purpose

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    # Again, for a caller that imported this module without running it as the program: the imports that
    # follow take tens of milliseconds, and a Ctrl-C among them would otherwise end in a traceback.
    signal.signal(signal.SIGINT, interrupted_at_startup)
    collect_after_startup()
    from pouchsh import cli

    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
