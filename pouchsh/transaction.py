"""``transaction { … }``: the block runs; if a statement in it fails (or Ctrl-C stops it), everything
the block made is undone in reverse order (managers.transactions) and then the original error goes on
with its span. Leaving the block by ``return``, ``break``, ``continue`` or ``exit`` is not a failure:
what it made stays. Under ``--dry-run`` nothing is made, so nothing is undone: the block's manager
calls are printed as usual, followed by the plan of the calls that would undo them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ctrd.errors import Interrupted, PouchError

__all__ = ["run_transaction"]


def run_transaction(rt: Any, body: Callable[[], Any]) -> Any:
    """Run ``body`` (the block, evaluated in its own scope) as one transaction on ``rt``'s managers."""
    managers = rt.managers
    if rt.dry_run:
        return _dry_run(managers, body)
    transactions = managers.transactions
    tx = transactions.begin()
    try:
        result = body()
    except (PouchError, KeyboardInterrupt) as err:
        _undo(rt, transactions, tx, err)
        raise
    except BaseException:
        # return, break, continue, exit: the block is left on purpose, and keeps what it made
        transactions.commit(tx)
        raise
    transactions.commit(tx)
    return result


def _undo(rt: Any, transactions: Any, tx: Any, err: BaseException) -> None:
    rt.settle()  # a --rm run of the block may still be removing what the undo would remove
    try:
        steps = transactions.rollback(tx)
    except PouchError as failed:
        rt.stderr.write(f"pouchsh: the transaction's undo is incomplete ({failed.kind}: {failed.message}); "
                        "the next pouchsh to start finishes it\n".encode())
        rt.stderr.flush()
        return
    if steps:
        what = ", ".join(f"{s['undo']} {s['name']}" for s in steps)
        why = "interrupted" if isinstance(err, (Interrupted, KeyboardInterrupt)) else "failed"
        rt.stderr.write(f"pouchsh: transaction {why}, undone: removed {what}\n".encode())
        rt.stderr.flush()


def _dry_run(recorder: Any, body: Callable[[], Any]) -> Any:
    from managers.transactions import plan

    start = len(recorder.made)
    recorder.note("transaction begins")
    result = body()
    for line in plan(recorder.made[start:]):
        recorder.note(f"  on failure, undo: {line}")
    recorder.note("transaction commits")
    return result
