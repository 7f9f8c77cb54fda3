"""What pouchsh writes at a host path the user names (``cp``'s destination, ``export -o``, ``save -o``):
built under a temporary sibling of the final name and renamed onto it once complete, so a failure leaves
nothing and the final name never holds half a copy.

The sibling is ``.NAME.pouchsh-WHAT-RANDOM``, recorded in the intent journal (managers.intents, kind
``host.write``) before it is made: a pouchsh killed with ``kill -9`` half-way leaves that intent, and the
next invocation's reconcile removes the sibling. The random part keeps two writers (or a writer and the
reconcile of a killed one that had the same pid) from ever naming the same sibling.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from managers import faults

__all__ = ["KIND", "reconcile_intent", "remove", "temp_sibling", "write_file"]

KIND = "host.write"
_MARK = ".pouchsh-"

T = TypeVar("T")


@contextlib.contextmanager
def temp_sibling(final: Path, root: Path, what: str) -> Iterator[Path]:
    """A name for the temporary sibling of ``final``, journalled under the data root ``root``; the block
    makes it and renames it into place. It is removed if the block fails, and the intent is cleared when
    the block ends."""
    from managers.intents import Journal

    temp = final.parent / f".{final.name}{_MARK}{what}-{secrets.token_hex(6)}"
    with Journal(root).intent(KIND, path=str(temp.absolute())):
        try:
            yield temp
        except BaseException:
            remove(temp)
            raise


def write_file(final: Path, root: Path, what: str, write: Callable[[BinaryIO], T]) -> T:
    """``write(out)`` into a temporary sibling of ``final``, synced, made 0644 (the user's file, as
    ``>`` would make it) and renamed onto ``final``; what ``write`` returned."""
    with temp_sibling(final, root, what) as temp:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)
        faults.point("host.write.written")
        os.replace(temp, final)
    return result


def remove(path: Path) -> None:
    """``path`` and, if it is a directory, what is under it; links are removed, never followed."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path)  # fd-based on Linux: never follows a link out of the tree


def reconcile_intent(record: dict[str, object]) -> None:
    """A write killed half-way: its sibling goes (gone already when the rename happened)."""
    path = Path(str(record["path"]))
    # The journal is the data root's (0700), but only a name this module makes is ever removed.
    if not path.is_absolute() or not (path.name.startswith(".") and _MARK in path.name):
        raise ValueError(f"{path}: not a temporary sibling pouchsh makes")
    remove(path)
