"""The one exception tree of pouchsh, and the one place gRPC status codes map onto it.

    PouchError                      every error a user can see; ``kind`` names it in ``error[KIND]``
     ├── NotFound                   not-found          (gRPC NOT_FOUND)
     ├── AlreadyExists              already-exists     (gRPC ALREADY_EXISTS)
     ├── Conflict                   conflict           (gRPC FAILED_PRECONDITION, ABORTED)
     ├── InvalidArgument            invalid-argument   (gRPC INVALID_ARGUMENT, OUT_OF_RANGE)
     ├── Unavailable                unavailable        (gRPC UNAVAILABLE)
     ├── Timeout                    timeout            (gRPC DEADLINE_EXCEEDED)
     ├── Interrupted                interrupted        (gRPC CANCELLED, Ctrl-C)
     ├── Limit                      limit              (gRPC RESOURCE_EXHAUSTED; a value past its bound)
     ├── PouchRuntimeError          runtime            (everything else)
     │
     │   defined by the language (pouchsh.errors), because only it has source text:
     ├── ParseError                 parse
     └── CheckError                 check

The root and the kinds containerd can produce live here, in the lowest layer, because data flows one way
(grammar → pouchsh → managers → ctrd): managers and pouchsh import this module, never the reverse.
``PouchRuntimeError`` is not called ``RuntimeError`` so that it never shadows the builtin.
"""

from __future__ import annotations

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
]


class PouchError(Exception):
    """Root of the tree. ``span`` is filled in by the language layer when the error has a place in source."""

    kind = "runtime"

    def __init__(self, message: str, *, span: Any = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

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


def from_grpc(err: grpc.RpcError, what: str = "") -> PouchError:
    """Map a gRPC error onto the tree. ``what`` names the call for the message (``"task start web"``)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _code_table()
    code = err.code() if hasattr(err, "code") else None
    details = (err.details() if hasattr(err, "details") else None) or str(err)
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
    if cls is Unavailable and not what.startswith("containerd"):
        details = f"containerd is not answering ({details})"
    message = f"{what}: {details}" if what else details
    error = cls(message)
    error.__cause__ = err
    return error
