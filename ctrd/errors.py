"""The one exception tree of pouchsh, and the one place gRPC status codes map onto it.

    PouchError                      every error a user can see; ``kind`` names it in ``error[KIND]``
     ├── NotFound                   not-found          (gRPC NOT_FOUND)
     ├── AlreadyExists              already-exists     (gRPC ALREADY_EXISTS)
     ├── Conflict                   conflict           (gRPC FAILED_PRECONDITION, ABORTED)
     ├── InvalidArgument            invalid-argument   (gRPC INVALID_ARGUMENT, OUT_OF_RANGE)
     ├── Unavailable                unavailable        (gRPC UNAVAILABLE; DEADLINE_EXCEEDED of a call
     │                                                  whose deadline measures containerd's silence)
     ├── Timeout                    timeout            (gRPC DEADLINE_EXCEEDED of a slow operation)
     ├── Interrupted                interrupted        (gRPC CANCELLED, Ctrl-C)
     ├── Limit                      limit              (gRPC RESOURCE_EXHAUSTED; a value past its bound)
     ├── PouchRuntimeError          runtime            (everything else)
     │
     │   defined by the language (pouchsh.errors), because only it has source text:
     ├── ParseError                 parse
     └── CheckError                 check

An error may also carry ``exit_status``: the status a program it ends exits with, where docker's
differs from what the kind gives (pouchsh.session.exit_code). A container command that failed before
the container's command ran gives 125 (pouchsh.commands.containers), one whose command cannot be
invoked 126, or is not found 127 (managers.launch reads runc's report); otherwise it stays None.

The root and the kinds containerd can produce live here, in the lowest layer, because data flows one way
(grammar → pouchsh → managers → ctrd): managers and pouchsh import this module, never the reverse.
``PouchRuntimeError`` is not called ``RuntimeError`` so that it never shadows the builtin.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Interrupted",
    "InvalidArgument",
    "Limit",
    "NotFound",
    "PouchError",
    "PouchRuntimeError",
    "Timeout",
    "Unavailable",
    "from_grpc",
    "not_answering",
]


class PouchError(Exception):
    """Root of the tree. ``span`` is filled in by the language layer when the error has a place in source."""

    kind = "runtime"

    def __init__(
        self, message: str, *, span: Any = None, hint: str | None = None, exit_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.exit_status = exit_status

    def with_span(self, span: Any) -> PouchError:
        """Attach a source span unless a more precise one is already set; returns self for ``raise``."""
        if self.span is None:
            self.span = span
        return self


class NotFound(PouchError):
    kind = "not-found"


class AlreadyExists(PouchError):
    kind = "already-exists"


class Conflict(PouchError):
    kind = "conflict"


class InvalidArgument(PouchError):
    kind = "invalid-argument"


class Unavailable(PouchError):
    kind = "unavailable"


class Timeout(PouchError):
    kind = "timeout"


class Interrupted(PouchError):
    kind = "interrupted"


class Limit(PouchError):
    """Something would grow past a bound set to protect the host (the language's values, a gRPC message)."""

    kind = "limit"


class PouchRuntimeError(PouchError):
    kind = "runtime"


def _code_table() -> dict[Any, type[PouchError]]:
    import grpc

    c = grpc.StatusCode
    return {
        c.NOT_FOUND: NotFound,
        c.ALREADY_EXISTS: AlreadyExists,
        c.FAILED_PRECONDITION: Conflict,
        c.ABORTED: Conflict,
        c.INVALID_ARGUMENT: InvalidArgument,
        c.OUT_OF_RANGE: InvalidArgument,
        c.UNAVAILABLE: Unavailable,
        c.DEADLINE_EXCEEDED: Timeout,
        c.CANCELLED: Interrupted,
        c.RESOURCE_EXHAUSTED: Limit,
    }


_TABLE: dict[Any, type[PouchError]] | None = None
_CONNECT_FAILURE = re.compile(
    r"failed to connect to all addresses; last error: [A-Z_]+: (?:\S+: )?(.+)", re.S
)


def from_grpc(
    err: grpc.RpcError, what: str = "", *, address: str = "", silence: float | None = None
) -> PouchError:
    """Map a gRPC error onto the tree. ``what`` names the call for the message (``"task start web"``),
    ``address`` the containerd it went to. ``silence``: the call's deadline (seconds) measured how long
    containerd may stay silent (ctrd.deadlines), so its passing means containerd is not answering
    (Unavailable); without it a passed deadline is a slow operation (Timeout)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _code_table()
    code = err.code() if hasattr(err, "code") else None
    details = (err.details() if hasattr(err, "details") else None) or str(err)
    if silence is not None and _TABLE.get(code) is Timeout:
        error = not_answering(what, address, silence)
        error.__cause__ = err
        return error
    # containerd appends the errdefs class to its messages ("...: not found"); a user has the kind already.
    for suffix in (": not found", ": already exists", ": failed precondition", ": invalid argument", ": unavailable"):
        if details.endswith(suffix) and len(details) > len(suffix):
            details = details[: -len(suffix)]
            break
    cls = _TABLE.get(code, PouchRuntimeError)
    if cls is PouchRuntimeError:
        # Some containerd services wrap Go context errors instead of mapping them (Events.Subscribe
        # answers UNKNOWN "subscription error: context deadline exceeded" when its deadline races ours).
        if details.endswith("context deadline exceeded"):
            cls = Timeout
        elif details.endswith("context canceled"):
            cls = Interrupted
    if cls is Unavailable:
        # "failed to connect to all addresses; last error: UNKNOWN: unix:/x.sock: <why>": only <why> is news
        reason = _CONNECT_FAILURE.match(details)
        details = f"containerd{_at(address)} is not answering ({reason.group(1) if reason else details})"
    message = f"{what}: {details}" if what else details
    error = cls(message)
    error.__cause__ = err
    return error


def not_answering(what: str, address: str, seconds: float) -> Unavailable:
    """The error for a containerd that gave no reply within ``seconds`` (stopped, frozen, overloaded)."""
    message = f"containerd{_at(address)} is not answering (no reply within {seconds:.3g}s)"
    return Unavailable(f"{what}: {message}" if what else message)


def _at(address: str) -> str:
    return f" at {address.removeprefix('unix://')}" if address else ""
