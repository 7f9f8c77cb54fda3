"""Fan-out: one manager command on several contexts at once (``ps --context all``) or over every
namespace (``ps --all-namespaces``), and piped records sent back to where they came from
(``ps -a --context all | where status == exited | rm``).

Every manager command (categories in ``pouchsh.signature.FANS_OUT``) takes ``--context NAME,NAME`` or
``--context all`` (pouchsh.signature adds the flag, and wraps the command so that such calls come here);
``ps`` and ``images`` also take ``--all-namespaces``. The command runs once per context, at most ``JOBS``
at a time, each with the managers facade of its context (``Managers.for_context``: its own containerd
client and data roots), and with ``--all-namespaces`` once per namespace of it. Each result record gains
a ``context`` (and ``namespace``) field, first; a result that is not a record becomes ``{context,
value}``. Records come back in the order the contexts were named.

A context that fails does not hide the others: its error is printed on stderr at once, as
``error[KIND]: context NAME: message``, the others' records are the value, and ``$status`` is 1. Only
when every context fails is the (first) error raised. No error text goes into another context's records.

Input records that carry a ``context`` field (and, for container and image commands, a ``namespace``
field) are grouped by them and each group is handed to the command where it lives; records without one
go to the session's context and namespace. ``{context, value}`` records are passed on as their value.

**k8s.io is read-only.** Containerd's ``k8s.io`` namespace holds what Kubernetes runs (pods through
the CRI). There, only the commands in ``READ_ONLY`` and the additive ``ADDITIVE`` ones run; any other
needs its ``--force`` (``rm -f``, ``rmi -f``), and one without such a flag is refused: Kubernetes' pods
are changed through ``pod … --force`` or the kubelet. ``guard`` enforces it on every call.
"""

from __future__ import annotations

from typing import Any

from ctrd.errors import Conflict, InvalidArgument, PouchError
from pouchsh.scope import CallContext

__all__ = ["ADDITIVE", "JOBS", "K8S_NAMESPACE", "READ_ONLY", "call", "guard", "routes"]

#: how many contexts one fanned-out command works on at once
JOBS = 8
K8S_NAMESPACE = "k8s.io"
#: commands that only read what a namespace holds
READ_ONLY = frozenset({
    "ps", "inspect", "logs", "port", "top", "wait", "events", "history", "image inspect", "images", "save",
    "info", "version", "system df", "system containerd", "namespace ls", "namespace use", "network ls",
    "network inspect", "volume ls", "volume inspect", "login", "logout", "checkpoint ls",
})
#: commands that only add to a namespace (as a kubelet's pulls do), never change what runs there
ADDITIVE = frozenset({"pull", "load", "import"})
#: the categories whose records' ``namespace`` field is a containerd namespace
_NAMESPACED = frozenset({"container", "image"})


class _OnContext(CallContext):
    """A command's ``ctx`` whose managers are one context's (or one namespace's)."""

    __slots__ = ("_managers",)

    def __init__(self, base: CallContext, managers: Any, input: Any) -> None:
        super().__init__(base._rt, input, base.has_input, base._call)
        self._managers = managers

    @property
    def managers(self) -> Any:
        return self._managers  # settled already: ``call`` reached the session's managers first

    @property
    def unsettled_managers(self) -> Any:
        return self._managers


def guard(command: str, category: str, namespace: str, kwargs: dict[str, Any]) -> None:
    """Refuse a command that would change ``k8s.io`` without its ``--force``."""
    if namespace != K8S_NAMESPACE or category == "pod" or command in READ_ONLY or command in ADDITIVE:
        return
    if kwargs.get("force") is True:
        return
    if "force" in kwargs:
        raise Conflict(f"{command}: the {K8S_NAMESPACE} namespace holds what Kubernetes runs",
                       hint=f"add --force to {command} there anyway")
    raise Conflict(f"{command}: the {K8S_NAMESPACE} namespace holds what Kubernetes runs; pouchsh only reads it",
                   hint="pods are changed with `pod stop|rm --force`, or by their kubelet")


def routes(input: Any, category: str) -> bool:
    """Whether piped input carries records from contexts or namespaces (so the call must be routed)."""
    keys = ("context", "namespace") if category in _NAMESPACED else ("context",)
    if isinstance(input, dict):
        return any(isinstance(input.get(k), str) for k in keys)
    if isinstance(input, list):
        return any(isinstance(i, dict) and any(isinstance(i.get(k), str) for k in keys) for i in input)
    return False


_Job = tuple[str | None, str | None, Any]  # context, namespace, input


def call(fn: Any, command: str, category: str, ctx: CallContext, kwargs: dict[str, Any], spec: str | None,
         all_namespaces: bool = False) -> Any:
    """Run the command ``fn`` as ``--context spec`` / ``--all-namespaces`` ask, or routed by its input's
    ``context`` and ``namespace`` fields."""
    session = ctx.managers
    routed = routes(ctx.input, category)
    if spec is not None or all_namespaces:
        if routed:
            raise InvalidArgument(f"{command}: --context or --all-namespaces with piped records that already "
                                  "name their context")
        names: list[str | None] = [None]
        if spec is not None:
            names = [spec] if ctx._rt.dry_run else list(session.contexts.expand(spec))
        jobs: list[_Job] = [(name, None, ctx.input) for name in names]
    else:
        jobs = _groups(ctx.input, category)
    return _run(fn, command, category, ctx, kwargs, jobs, all_namespaces)


def _groups(input: Any, category: str) -> list[_Job]:
    namespaced = category in _NAMESPACED

    def key(item: Any) -> tuple[str | None, str | None]:
        if not isinstance(item, dict):
            return None, None
        context, namespace = item.get("context"), item.get("namespace") if namespaced else None
        return (context if isinstance(context, str) else None, namespace if isinstance(namespace, str) else None)

    if isinstance(input, dict):
        return [(*key(input), _unwrap(input))]
    order: dict[tuple[str | None, str | None], list[Any]] = {}
    for item in input:
        order.setdefault(key(item), []).append(_unwrap(item))
    return [(c, n, items) for (c, n), items in order.items()]


def _unwrap(item: Any) -> Any:
    if isinstance(item, dict) and set(item) == {"context", "value"}:
        return item["value"]
    return item


def _run(fn: Any, command: str, category: str, ctx: CallContext, kwargs: dict[str, Any], jobs: list[_Job],
         all_namespaces: bool) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    rt = ctx._rt
    session = ctx.managers

    def on(managers: Any, input: Any) -> Any:
        guard(command, category, getattr(managers, "namespace", ""), kwargs)
        return _collect(fn(_OnContext(ctx, managers, input), **kwargs))

    def one(context: str | None, namespace: str | None, input: Any) -> Any:
        managers = session if rt.dry_run or context is None else session.for_context(context)
        if namespace is not None and not rt.dry_run:
            managers = managers.for_namespace(namespace)
        if not all_namespaces:
            return on(managers, input)
        rows: list[Any] = []
        for ns in managers.system.namespaces():
            rows.extend(_tag("namespace", ns["name"], on(managers.for_namespace(ns["name"]), input)))
        return rows

    outcomes: list[tuple[str | None, str | None, Any, PouchError | None]] = []
    with ThreadPoolExecutor(max_workers=min(JOBS, len(jobs)) or 1, thread_name_prefix="context") as pool:
        futures = [(c, n, pool.submit(one, c, n, input)) for c, n, input in jobs]
        for context, namespace, future in futures:
            try:
                outcomes.append((context, namespace, future.result(), None))
            except PouchError as e:
                where = " ".join(w for w in (context and f"context {context}", namespace and f"namespace {namespace}") if w)
                if where:
                    e.message = f"{where}: {e.message}"
                    e.args = (e.message,)
                outcomes.append((context, namespace, None, e))
    failed = [e for *_, e in outcomes if e is not None]
    if failed and len(failed) == len(outcomes):
        raise failed[0]
    results: list[Any] = []
    for context, _, value, err in outcomes:
        if err is not None:
            with rt._lock:
                rt.stderr.write(f"error[{err.kind}]: {err.message}\n".encode())
                rt.stderr.flush()
        elif context is None:
            results.extend(value if isinstance(value, list) else [] if value is None else [value])
        else:
            results.extend(_tag("context", context, value))
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


def _tag(key: str, name: str, value: Any) -> list[Any]:
    """``value``'s records, each with ``key: name`` first (and what it already said after, but never its
    own ``key``: the field says where the record came from, and only this code sets it)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [{key: name, **{k: v for k, v in i.items() if k != key}} if isinstance(i, dict)
            else {key: name, "value": i} for i in items]
