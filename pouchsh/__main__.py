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

# Every import comes after the handler, on purpose.
from contextlib import suppress
from typing import NoReturn

from pouchsh.collector import collect_after_startup

__all__ = ["main"]


def main(argv: list[str] | None = None) -> NoReturn:
    # Again, for a caller that imported this module without running it as the program: the imports that
    # follow take tens of milliseconds, and a Ctrl-C among them would otherwise end in a traceback.
    signal.signal(signal.SIGINT, interrupted_at_startup)
    collect_after_startup()
    from pouchsh import cli

    status = cli.main(argv)
    # The process ends here, without the interpreter's finalization. grpc completes calls on daemon
    # threads, and finalization freezes a daemon thread wherever it next takes the GIL, which may be
    # inside a call's lock; the collector then runs that call's __del__, which takes the same lock, and
    # the process hangs for ever (seen 1 run in 20 with containerd stopped). Nothing pouchsh needs runs
    # at exit: its files are closed where they are written, and its channels when the program ends.
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
