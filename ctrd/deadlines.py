"""How long pouchsh waits for containerd: the deadline of every gRPC call, and the keepalive that
watches the calls which have none.

Every call takes the deadline of its method's class (``METHODS``; a method not listed is a lookup), so no
call is unbounded by omission; a caller that passes its own timeout gets exactly that instead. A unary
call's deadline bounds the whole call. A stream's bounds each wait for its next reply (ctrd.connection
runs the clock only while the caller waits in ``next``), because a pull or a load may legitimately
stream for an hour while each reply still comes at once.

    class     seconds  why this figure
    lookup          5  a read of containerd's bolt store answers in milliseconds;
                       5 s is a thousand times that, and still tells a waiting user that a stopped
                       containerd is not answering while they wait
    shim           30  a task read (Get, List, ListPids, Metrics, CloseIO, ResizePty): containerd asks
                       each task's shim in turn, allowing each 2 s (io.containerd.timeout.task.state),
                       so a ps over many containers with a busy shim or two adds up
    change         30  a metadata write, a lease or image delete that runs a synchronous GC pass, a
                       signal or a snapshot made or removed: one bolt transaction and a few syscalls,
                       but a loaded CI host can queue them for seconds
    runtime       120  task create/start/delete: containerd spawns a shim, which runs runc, mounts the
                       rootfs and sets up cgroups; under load that takes tens of seconds
    apply         900  Diff.Apply unpacks a whole layer into a snapshot: minutes for a large one
    transfer       60  each reply of a content read or write stream (and containerd answers each chunk
                       as it lands): a minute of silence mid-stream is a dead peer, not a slow disk
    watch        none  Events.Subscribe and Tasks.Wait last as long as what they watch; a dead peer is
                       found by the channel's keepalive instead (``keepalive_options``)

``POUCHSH_TIMEOUT_SCALE`` (a positive number, default 1) multiplies every figure above and the
keepalive's ping timeout: 0.2 lets a test see a stopped containerd reported in a second, 4 suits a slow
board. ``POUCHSH_KEEPALIVE`` sets the keepalive interval in seconds (default 330).

A deadline that passes on a lookup, a shim read, a change or between stream replies means containerd
did not answer (the user sees ``error[unavailable]`` naming the socket); on a runtime or apply call,
that the operation is slow (``error[timeout]``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["METHODS", "Deadline", "deadline_for", "deadline_of", "keepalive_options", "scale"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """A class of calls: ``seconds`` before scaling (None: no deadline, keepalive only); ``silence``:
    whether passing it means containerd is not answering rather than that the work is slow."""

    name: str
    seconds: float | None
    silence: bool

    def timeout(self) -> float | None:
        """The scaled figure (``POUCHSH_TIMEOUT_SCALE``)."""
        return None if self.seconds is None else self.seconds * scale()


LOOKUP = Deadline("lookup", 5.0, silence=True)
SHIM = Deadline("shim", 30.0, silence=True)
CHANGE = Deadline("change", 30.0, silence=True)
RUNTIME = Deadline("runtime", 120.0, silence=False)
APPLY = Deadline("apply", 900.0, silence=False)
TRANSFER = Deadline("transfer", 60.0, silence=True)
WATCH = Deadline("watch", None, silence=False)

#: ``Service/Method`` → its class; every method not named here is a LOOKUP
METHODS: dict[str, Deadline] = {
    "Containers/Create": CHANGE,
    "Containers/Update": CHANGE,
    "Containers/Delete": CHANGE,
    "Content/Read": TRANSFER,
    "Content/Write": TRANSFER,
    "Content/Update": CHANGE,
    "Content/Delete": CHANGE,
    "Content/Abort": CHANGE,
    "Diff/Apply": APPLY,
    "Diff/Diff": APPLY,
    "Events/Subscribe": WATCH,
    "Events/Forward": CHANGE,
    "Images/Create": CHANGE,
    "Images/Update": CHANGE,
    "Images/Delete": CHANGE,
    "Leases/Create": CHANGE,
    "Leases/Delete": CHANGE,
    "Leases/AddResource": CHANGE,
    "Leases/DeleteResource": CHANGE,
    "Namespaces/Create": CHANGE,
    "Namespaces/Update": CHANGE,
    "Namespaces/Delete": CHANGE,
    "Snapshots/Prepare": CHANGE,
    "Snapshots/View": CHANGE,
    "Snapshots/Commit": CHANGE,
    "Snapshots/Remove": CHANGE,
    "Snapshots/Update": CHANGE,
    "Snapshots/Usage": CHANGE,
    "Snapshots/Cleanup": CHANGE,
    "Tasks/Create": RUNTIME,
    "Tasks/Start": RUNTIME,
    "Tasks/Delete": RUNTIME,
    "Tasks/DeleteProcess": RUNTIME,
    "Tasks/Checkpoint": APPLY,
    "Tasks/Exec": CHANGE,
    "Tasks/Kill": CHANGE,
    "Tasks/Pause": CHANGE,
    "Tasks/Resume": CHANGE,
    "Tasks/Update": CHANGE,
    "Tasks/Wait": WATCH,
    "Tasks/Get": SHIM,
    "Tasks/List": SHIM,
    "Tasks/ListPids": SHIM,
    "Tasks/Metrics": SHIM,
    "Tasks/CloseIO": SHIM,
    "Tasks/ResizePty": SHIM,
    # the CRI (ctrd.cri): a pod sandbox is a task plus a CNI ADD or DEL
    "RuntimeService/RunPodSandbox": RUNTIME,
    "RuntimeService/StopPodSandbox": RUNTIME,
    "RuntimeService/RemovePodSandbox": RUNTIME,
    "RuntimeService/CreateContainer": CHANGE,
    "RuntimeService/StartContainer": RUNTIME,
    "RuntimeService/RemoveContainer": RUNTIME,
}

#: containerd sets no keepalive policy, so grpc-go's default holds: a client that pings more often than
#: every 5 minutes collects a strike per ping (reset only when the server sends data), and a third strike
#: closes the connection with GOAWAY too_many_pings, failing every call on it. 330 s stays clear of that.
_KEEPALIVE_S = 330.0
#: a ping's answer comes from grpc-go's transport reader, not from a busy service: 20 s is generous
_PING_TIMEOUT_S = 20.0


def scale() -> float:
    """``POUCHSH_TIMEOUT_SCALE``, or 1 when unset or not a positive number."""
    return _positive("POUCHSH_TIMEOUT_SCALE", 1.0)


def deadline_of(method: object) -> Deadline:
    """The class of a stub method (a grpc multicallable, plain or intercepted: both keep the path)."""
    path = getattr(method, "_method", b"")
    return deadline_for(path.decode() if isinstance(path, bytes) else str(path))


def deadline_for(path: str) -> Deadline:
    """The class of ``/containerd.services.tasks.v1.Tasks/Create`` (of ``Tasks/Create``)."""
    service, _, rpc = path.rpartition("/")
    return METHODS.get(f"{service.rpartition('.')[2]}/{rpc}", LOOKUP)


def keepalive_options() -> tuple[tuple[str, int], ...]:
    """Channel options that end a watch or a wait on a peer that stopped answering (SIGSTOP, a frozen
    host): a ping after ``POUCHSH_KEEPALIVE`` seconds of quiet, the transport closed (the calls fail
    UNAVAILABLE) if its ack takes longer than 20 s (scaled)."""
    ping_timeout = max(1, int(_PING_TIMEOUT_S * scale() * 1000))
    return (
        ("grpc.keepalive_time_ms", int(_positive("POUCHSH_KEEPALIVE", _KEEPALIVE_S) * 1000)),
        ("grpc.keepalive_timeout_ms", ping_timeout),
        # grpc-core times a keepalive ping with this one (default 60 s), not with keepalive_timeout_ms.
        ("grpc.http2.ping_timeout_ms", ping_timeout),
        # Only while a call is open: grpc-go counts a ping on an idle connection as a strike too.
        ("grpc.keepalive_permit_without_calls", 0),
        # Keep pinging on a quiet subscription (grpc-core stops after two pings without data by default).
        ("grpc.http2.max_pings_without_data", 0),
    )


def _positive(variable: str, default: float) -> float:
    try:
        value = float(os.environ.get(variable) or default)
    except ValueError:
        return default
    return value if 0 < value < 1e6 else default  # inf or nan would reach grpc as a deadline
