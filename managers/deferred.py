"""Work a foreground ``--rm`` run leaves behind its reported exit, each piece in a thread of this process:
the container's removal (``Lifecycle.destroy_later``) and its network's DELs
(``NetworkManager.detach_later``).

The exit is reported and the script's next statement begins while containerd deletes the task and the
plugins give the address back (docs/PERFORMANCE.md, issue 17's seventh pass). Whatever could see that work
half done waits for it first (``settle``): every network operation, every shell statement that reaches the
managers except ``run`` and ``create`` (pouchsh.scope), a host program, the end of a script or of a prompt
line, a transaction's undo, and ``Managers.close``; a name given again and a published port or address
wait too. Each piece writes its intent before it is handed over, so a kill -9 at any point leaves it to
the next invocation's reconcile. DELs that fail keep their intent for the same reason; a removal that
fails is left to a waiter of its own (managers.autoremove), as a synchronous one's is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["later", "pending", "settle"]

_PENDING: set[threading.Thread] = set()
_LOCK = threading.Lock()


def later(work: Callable[[], None], name: str) -> None:
    """Run ``work`` in a thread named ``name`` that ``settle`` waits for."""

    def run() -> None:
        try:
            work()
        finally:
            with _LOCK:
                _PENDING.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=name)
    with _LOCK:
        _PENDING.add(thread)
    thread.start()


def pending() -> list[threading.Thread]:
    """The pieces not finished yet."""
    with _LOCK:
        return list(_PENDING)


def settle() -> None:
    """Wait until no piece is left, those the pieces hand over included (a removal starts its DELs). A
    piece's own thread waits for none: two removals settling would wait for each other."""
    if threading.current_thread() in _PENDING:
        return
    while True:
        left = pending()
        if not left:
            return
        for thread in left:
            thread.join()
