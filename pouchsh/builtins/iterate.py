"""`each` and `par-each`: run a closure for every item of the input.

Both drop null results (a closure that only acts, such as ``{ rm $it.id }`` with nothing to say, leaves no
hole in the output) unless ``--keep-empty`` is given. ``par-each`` runs the closures on a bounded thread
pool: at most ``--jobs`` items are in flight, results come back in input order, and the first error stops
new items from starting, waits for the ones running, and is raised. Ctrl-C does the same through
``ctx.cancel`` (the running closures see it too, in their manager calls and ``sleep``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ctrd.errors import Interrupted, InvalidArgument
from pouchsh.builtins._input import items, passthrough, pulls
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import IntRange, Stream

if TYPE_CHECKING:
    from concurrent.futures import Future

# How often a waiting par-each looks at ctx.cancel; a finished closure wakes it at once.
_CANCEL_POLL_SECONDS = 0.05
_DEFAULT_JOBS = 8


@command(
    "each",
    help="Run a closure for each item; the list of its results",
    description="The closure receives the item (`$it` without parameters). Null results are left out.",
    params=[Param("closure", type="closure", help="Called with each item")],
    flags=[Flag("keep-empty", short="k", help="Keep null results")],
    examples=[
        Example("[1 2 3] | each {|x| $x * 10 }", "Multiply each item", output="10\n20\n30"),
        Example("[1 2 3] | each { if $it > 1 { $it } }", "Nulls are left out", output="2\n3"),
        Example("ps -a | where status == exited | each { rm $it.id }", "Remove stopped containers"),
    ],
    input="any",
    category="filters",
)
@pulls
def each(ctx: Any, closure: Any, keep_empty: bool) -> Any:
    if ctx.input is not None and not isinstance(ctx.input, (list, Stream, IntRange)):
        return ctx.call(closure, ctx.input)
    source = items(ctx, "each")
    results = (ctx.call(closure, item) for item in source)
    return passthrough(source, results if keep_empty else (r for r in results if r is not None))


@command(
    "par-each",
    help="Run a closure for each item concurrently; results in input order",
    description=(
        f"At most --jobs closures run at once (default {_DEFAULT_JOBS}). The first error stops the "
        "items not yet started and is raised once the running ones have finished."
    ),
    params=[Param("closure", type="closure", help="Called with each item, on a worker thread")],
    flags=[
        Flag("jobs", short="j", type="int", default=_DEFAULT_JOBS, help="How many closures run at once"),
        Flag("keep-empty", short="k", help="Keep null results"),
    ],
    examples=[
        Example("[1 2 3] | par-each {|x| $x * 2 }", "Results keep the input order", output="2\n4\n6"),
        Example("1..10 | par-each -j 4 { run -d busybox sleep 60 }", "Start ten containers, four at a time"),
    ],
    input="list",
    category="filters",
)
def par_each(ctx: Any, closure: Any, jobs: int | None, keep_empty: bool) -> list[Any]:
    # Imported here: concurrent.futures brings logging with it, a cost every start-up would pay.
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    limit = _DEFAULT_JOBS if jobs is None else jobs
    if limit < 1:
        raise InvalidArgument(f"par-each: --jobs must be 1 or more, got {limit}")
    source = items(ctx, "par-each")
    results: dict[int, Any] = {}
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="par-each")
    pending: dict[Future[Any], int] = {}
    numbered = enumerate(source)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                entry = next(numbered, None)
                if entry is None:
                    exhausted = True
                    break
                pending[pool.submit(ctx.call, closure, entry[1])] = entry[0]
            if not pending:
                break
            done, _ = wait(pending, timeout=_CANCEL_POLL_SECONDS, return_when=FIRST_COMPLETED)
            if ctx.cancel.is_set():
                raise Interrupted("par-each: interrupted")
            for future in sorted(done, key=pending.__getitem__):
                results[pending.pop(future)] = future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(source, Stream):
            source.close()
    ordered = (results[i] for i in sorted(results))
    return [r for r in ordered if keep_empty or r is not None]
