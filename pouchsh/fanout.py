"""Fan-out: one manager command on several contexts at once (``ps --context all``), and piped records
sent back to the context they came from (``ps --context all | where status == exited | rm``).

Every manager command (categories in ``pouchsh.signature.FANS_OUT``) takes ``--context NAME,NAME`` or
``--context all`` (pouchsh.signature adds the flag, and wraps the command so that such calls come here).
The command runs once per context, at most ``JOBS`` at a time, each with the managers facade of its
context (``Managers.for_context``: its own containerd client and data roots). Each result record gains a
``context`` field, first; a result that is not a record becomes ``{context, value}``. Records come back
in the order the contexts were named.

A context that fails does not hide the others: its error is printed on stderr at once, as
``error[KIND]: context NAME: message``, the others' records are the value, and ``$status`` is 1. Only
when every context fails is the (first) error raised. No error text goes into another context's records.

Input records that carry a ``context`` field are grouped by it and each group is handed to the command on
its own context, so a record is acted on where it lives; records without one go to the session's
context. ``{context, value}`` records are passed on as their value.
"""

from __future__ import annotations

from typing import Any

from ctrd.errors import InvalidArgument, PouchError
from pouchsh.scope import CallContext

__all__ = ["JOBS", "call", "routes"]

#: how many contexts one fanned-out command works on at once
JOBS = 8


class _OnContext(CallContext):
    """A command's ``ctx`` whose managers are one context's."""

    __slots__ = ("_managers",)

    def __init__(self, base: CallContext, managers: Any, input: Any) -> None:
        super().__init__(base._rt, input, base.has_input, base._call)
        self._managers = managers

    @property
    def managers(self) -> Any:
        return self._managers


def routes(input: Any) -> bool:
    """Whether piped input carries records from contexts (so the call must be routed)."""
    if isinstance(input, dict):
        return isinstance(input.get("context"), str)
    if isinstance(input, list):
        return any(isinstance(i, dict) and isinstance(i.get("context"), str) for i in input)
    return False


def call(fn: Any, command: str, ctx: CallContext, kwargs: dict[str, Any], spec: str | None) -> Any:
    """Run the command ``fn`` as ``--context spec`` asks, or routed by its input's ``context`` fields."""
    session = ctx.managers
    if spec is not None:
        if routes(ctx.input):
            raise InvalidArgument(f"{command}: --context with piped records that already name their context")
        names = [spec] if ctx._rt.dry_run else session.contexts.expand(spec)
        jobs = [(name, ctx.input) for name in names]
    else:
        jobs = _groups(ctx.input)
    return _run(fn, ctx, kwargs, jobs)


def _groups(input: Any) -> list[tuple[str | None, Any]]:
    if isinstance(input, dict):
        return [(input["context"], _unwrap(input))]
    order: dict[str | None, list[Any]] = {}
    for item in input:
        name = item.get("context") if isinstance(item, dict) else None
        order.setdefault(name if isinstance(name, str) else None, []).append(_unwrap(item))
    return list(order.items())


def _unwrap(item: Any) -> Any:
    if isinstance(item, dict) and set(item) == {"context", "value"}:
        return item["value"]
    return item


def _run(fn: Any, ctx: CallContext, kwargs: dict[str, Any], jobs: list[tuple[str | None, Any]]) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    rt = ctx._rt
    session = ctx.managers

    def one(name: str | None, input: Any) -> Any:
        managers = session if rt.dry_run or name is None else session.for_context(name)
        return fn(_OnContext(ctx, managers, input), **kwargs)

    outcomes: list[tuple[str | None, Any, PouchError | None]] = []
    with ThreadPoolExecutor(max_workers=min(JOBS, len(jobs)) or 1, thread_name_prefix="context") as pool:
        futures = [(name, pool.submit(one, name, input)) for name, input in jobs]
        for name, future in futures:
            try:
                outcomes.append((name, _collect(future.result()), None))
            except PouchError as e:
                if name is not None:
                    e.message = f"context {name}: {e.message}"
                    e.args = (e.message,)
                outcomes.append((name, None, e))
    failed = [e for _, _, e in outcomes if e is not None]
    if failed and len(failed) == len(outcomes):
        raise failed[0]
    results: list[Any] = []
    for name, value, err in outcomes:
        if err is not None:
            with rt._lock:
                rt.stderr.write(f"error[{err.kind}]: {err.message}\n".encode())
                rt.stderr.flush()
        elif name is None:
            results.extend(value if isinstance(value, list) else [] if value is None else [value])
        else:
            results.extend(_tag(name, value))
    if failed:
        rt.set_status(1)
    return results


def _collect(value: Any) -> Any:
    from pouchsh.values import Stream

    if isinstance(value, Stream):
        try:
            return list(value)
        finally:
            value.close()
    return value


def _tag(name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [{"context": name, **{k: v for k, v in i.items() if k != "context"}} if isinstance(i, dict)
            else {"context": name, "value": i} for i in items]
