"""Tasks: the running part of a container (its init process) and the processes exec'd into it.

The order that does not lose output or an exit (see docs/ctrd.md, "Runtime"):

    io = FifoIO.open(fifo_root, cid, stdin=True)      # or NullIO(), CollectedIO.open(fifos)
    tasks.create(cid, rootfs=mounts, io=io)           # shim holds the FIFOs; io.created() is called
    exit = tasks.wait(cid)                            # issued BEFORE start, so a fast exit is seen
    tasks.start(cid)
    io.attach(stdout=..., stderr=..., stdin=..., close_stdin=lambda: tasks.close_io(cid))
    status = exit.result()
    io.wait(); tasks.delete(cid); io.close()

attach after start: output waits in the FIFOs meanwhile (nothing is lost), and stdin's EOF (CloseIO) must
not reach a terminal before start, which would hang the process up. For exec the shim opens the FIFOs
only at start.

What create, start, pause, resume, delete and an init process's Wait return is written through to the
watch cache of this connection and namespace when one runs (ctrd.watch): the shim's own events reach it
later, so without that a ``run -d web; ps`` could show web as created.
"""

from __future__ import annotations

import builtins
import signal as _signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.protobuf import any_pb2

from ctrd import typeurl
from ctrd.api.services.tasks.v1 import tasks_pb2 as pb
from ctrd.api.services.tasks.v1 import tasks_pb2_grpc
from ctrd.api.types import mount_pb2
from ctrd.api.types.task import task_pb2
from ctrd.connection import Pending
from ctrd.containers import spec_any, validate_id
from ctrd.convert import to_datetime
from ctrd.errors import Conflict, InvalidArgument, PouchRuntimeError
from ctrd.service import Service
from ctrd.stdio import NullIO, TaskIO

if TYPE_CHECKING:
    from ctrd.watch import Watcher

__all__ = ["PROCESS_URL", "STATUSES", "Exit", "ExitFuture", "Metrics", "Process", "Tasks", "signal_number"]

PROCESS_URL = typeurl.PROCESS_SPEC_URL

#: containerd's task status enum, by number, as the names pouchsh shows
STATUSES = {
    task_pb2.UNKNOWN: "unknown",
    task_pb2.CREATED: "created",
    task_pb2.RUNNING: "running",
    task_pb2.STOPPED: "stopped",
    task_pb2.PAUSED: "paused",
    task_pb2.PAUSING: "pausing",
}


@dataclass(frozen=True, slots=True)
class Process:
    """A task's init process (``id == container_id``) or an exec'd process (``id`` = exec id).

    - ``status``: created, running, stopped, paused, pausing or unknown
    - ``pid``: host pid (0 once gone)
    - ``exit_status``: meaningful when stopped; 128+n for death by signal n (137 = SIGKILL)
    - ``exited_at``: UTC, None until it exits
    - ``stdin``/``stdout``/``stderr``/``terminal``: what it was created with
    """

    container_id: str
    id: str
    pid: int
    status: str
    exit_status: int
    exited_at: datetime | None
    terminal: bool
    stdin: str
    stdout: str
    stderr: str

    @classmethod
    def from_proto(cls, p: task_pb2.Process, container_id: str = "") -> Process:
        # containerd 1.6 leaves container_id empty in Get and List; an init process's id is the container's.
        return cls(
            container_id=p.container_id or container_id or p.id,
            id=p.id,
            pid=p.pid,
            status=STATUSES.get(p.status, "unknown"),
            exit_status=p.exit_status,
            exited_at=to_datetime(p.exited_at),
            terminal=p.terminal,
            stdin=p.stdin,
            stdout=p.stdout,
            stderr=p.stderr,
        )


@dataclass(frozen=True, slots=True)
class Exit:
    """How a process ended: ``exit_status`` (128+n after signal n), ``exited_at`` (UTC), and ``pid``
    (known from Delete; 0 from Wait)."""

    exit_status: int
    exited_at: datetime | None
    pid: int = 0


class ExitFuture:
    """A pending Tasks.Wait. ``result(timeout)`` → Exit; raises Timeout, Interrupted or the mapped error."""

    __slots__ = ("_pending",)

    def __init__(self, pending: Pending[Any]) -> None:
        self._pending = pending

    def result(self, timeout: float | None = None) -> Exit:
        reply = self._pending.result(timeout)
        return Exit(exit_status=reply.exit_status, exited_at=to_datetime(reply.exited_at))

    def done(self) -> bool:
        return self._pending.done()

    def cancel(self) -> bool:
        """Stop waiting (the process keeps running)."""
        return self._pending.cancel()

    def add_done_callback(self, fn: Callable[[ExitFuture], None]) -> None:
        self._pending.add_done_callback(lambda _p: fn(self))


@dataclass(frozen=True, slots=True)
class Metrics:
    """One task's cgroup statistics.

    ``type_url`` names the raw message (``io.containerd.cgroups.v1.Metrics`` or ``…v2.Metrics``), kept
    in ``raw``; the common figures are decoded from it (None when the cgroup does not report them):
    ``cpu_ns`` total CPU time, ``memory_bytes`` current usage, ``memory_limit``, ``pids``, ``pids_limit``,
    ``block_read`` and ``block_write`` (bytes, summed over the block devices).
    """

    container_id: str
    timestamp: datetime | None
    type_url: str
    raw: bytes
    cpu_ns: int | None
    memory_bytes: int | None
    memory_limit: int | None
    pids: int | None
    pids_limit: int | None
    block_read: int | None = None
    block_write: int | None = None


def signal_number(sig: str | int) -> int:
    """``"KILL"``, ``"SIGKILL"``, ``"9"`` or ``9`` → 9; anything else is an InvalidArgument."""
    if isinstance(sig, int) or (isinstance(sig, str) and sig.isdigit()):
        number = int(sig)
        if 0 < number < _signal.NSIG:
            return number
        raise InvalidArgument(f"invalid signal number {sig}")
    name = sig.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(_signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"unknown signal {sig!r}") from None


def _mount(m: Any) -> mount_pb2.Mount:
    """A rootfs mount from a ctrd Mount record, a protobuf Mount or a dict with the same keys."""
    if isinstance(m, mount_pb2.Mount):
        return m
    fields = (
        m
        if isinstance(m, Mapping)
        else {k: getattr(m, k, None) for k in ("type", "source", "target", "options")}
    )
    return mount_pb2.Mount(
        type=fields.get("type") or "",
        source=fields.get("source") or "",
        target=fields.get("target") or "",
        options=list(fields.get("options") or ()),
    )


class Tasks(Service):
    """``client.tasks``: create and drive the task of a container, and processes exec'd into it."""

    stub_class = tasks_pb2_grpc.TasksStub

    def create(
        self,
        container_id: str,
        *,
        rootfs: Sequence[Any] = (),
        io: TaskIO | None = None,
        runtime_path: str = "",
        checkpoint: Any = None,
    ) -> int:
        """Create the task (runc create) with ``rootfs`` mounts (ctrd Mount records, protobuf Mounts or
        dicts) and ``io`` (default NullIO). Returns the init pid. ``io.created()`` is called on success.
        ``checkpoint``: a ctrd Descriptor of a CRIU image tar in the content store to restore from."""
        io = io or NullIO()
        request = pb.CreateTaskRequest(
            container_id=container_id,
            rootfs=[_mount(m) for m in rootfs],
            stdin=io.stdin,
            stdout=io.stdout,
            stderr=io.stderr,
            terminal=io.terminal,
            runtime_path=runtime_path,
            checkpoint=checkpoint.to_proto() if checkpoint is not None else None,
        )
        reply = self.client.call(self.stub.Create, request, f"task create {container_id}")
        io.created()
        self._written("/tasks/create", container_id=container_id, pid=reply.pid)
        return reply.pid

    def checkpoint(self, container_id: str, *, image_path: str, work_path: str, exit: bool) -> None:
        """CRIU-dump the task into ``image_path`` (runc's CheckpointOptions; ``work_path`` gets CRIU's
        logs), leaving it running unless ``exit``."""
        from ctrd.api.runc.options import oci_pb2

        options = oci_pb2.CheckpointOptions(exit=exit, image_path=image_path, work_path=work_path)
        self.client.call(self.stub.Checkpoint,
                         pb.CheckpointTaskRequest(container_id=container_id, options=typeurl.pack(options)),
                         f"task checkpoint {container_id}")

    def start(self, container_id: str, exec_id: str = "") -> int:
        """Start the init process (or ``exec_id``); returns its pid."""
        reply = self.client.call(
            self.stub.Start,
            pb.StartRequest(container_id=container_id, exec_id=exec_id),
            f"task start {_name(container_id, exec_id)}",
        )
        if not exec_id:
            self._written("/tasks/start", container_id=container_id, pid=reply.pid)
        return reply.pid

    def wait(self, container_id: str, exec_id: str = "") -> ExitFuture:
        """Begin waiting for the exit; call before ``start`` so a fast exit is not missed."""
        pending = self.client.future(
            self.stub.Wait,
            pb.WaitRequest(container_id=container_id, exec_id=exec_id),
            f"task wait {_name(container_id, exec_id)}",
        )
        watcher = None if exec_id else self.client.watcher()
        pid = watcher.task_pid(container_id) if watcher is not None else 0
        if watcher is not None and pid:  # the exit is written through for the task shown now only

            def written(done: Pending[Any], watcher: Watcher = watcher) -> None:
                if done.exception() is None:
                    reply = done.result()
                    watcher.write("/tasks/exit", {
                        "container_id": container_id, "id": container_id, "pid": pid,
                        "exit_status": reply.exit_status, "exited_at": to_datetime(reply.exited_at),
                    })

            pending.add_done_callback(written)
        return ExitFuture(pending)

    def kill(
        self, container_id: str, signal: str | int = "SIGTERM", *, exec_id: str = "", all: bool = False
    ) -> None:
        """Send ``signal`` (name or number) to the process, or with ``all`` to every process of the task."""
        request = pb.KillRequest(
            container_id=container_id, exec_id=exec_id, signal=signal_number(signal), all=all
        )
        self.client.call(self.stub.Kill, request, f"task kill {_name(container_id, exec_id)}")

    def delete(self, container_id: str) -> Exit:
        """Delete a stopped (or created) task; returns how its init process ended. A running or paused
        task is a Conflict (containerd itself answers "unknown")."""
        what = f"task delete {container_id}"
        try:
            reply = self.client.call(self.stub.Delete, pb.DeleteTaskRequest(container_id=container_id), what)
        except PouchRuntimeError as err:
            status = self.get(container_id).status
            if status in ("running", "paused", "pausing"):
                raise Conflict(f"{what}: the task is {status}; stop it first") from err
            raise
        exit = Exit(exit_status=reply.exit_status, exited_at=to_datetime(reply.exited_at), pid=reply.pid)
        self._written(
            "/tasks/delete", container_id=container_id, id="", pid=exit.pid,
            exit_status=exit.exit_status, exited_at=exit.exited_at,
        )
        return exit

    def delete_process(self, container_id: str, exec_id: str) -> Exit:
        """Delete an exited exec'd process."""
        reply = self.client.call(
            self.stub.DeleteProcess,
            pb.DeleteProcessRequest(container_id=container_id, exec_id=exec_id),
            f"exec delete {_name(container_id, exec_id)}",
        )
        return Exit(exit_status=reply.exit_status, exited_at=to_datetime(reply.exited_at), pid=reply.pid)

    def pause(self, container_id: str) -> None:
        self.client.call(
            self.stub.Pause, pb.PauseTaskRequest(container_id=container_id), f"task pause {container_id}"
        )
        self._written("/tasks/paused", container_id=container_id)

    def resume(self, container_id: str) -> None:
        self.client.call(
            self.stub.Resume, pb.ResumeTaskRequest(container_id=container_id), f"task resume {container_id}"
        )
        self._written("/tasks/resumed", container_id=container_id)

    def exec(
        self, container_id: str, exec_id: str, process: Mapping[str, Any], *, io: TaskIO | None = None
    ) -> None:
        """Add a process to the task (not started yet: ``wait`` then ``start`` with ``exec_id``).

        ``process`` is an OCI process spec; copy the container's ``spec["process"]`` and change ``args``
        (and ``terminal``, ``env``, ``cwd``, ``user``): a bare process would get no capabilities.
        """
        validate_id("exec id", exec_id)
        io = io or NullIO()
        if bool(process.get("terminal", False)) != io.terminal:
            raise InvalidArgument("exec: process.terminal and the stdio terminal flag differ")
        request = pb.ExecProcessRequest(
            container_id=container_id,
            exec_id=exec_id,
            stdin=io.stdin,
            stdout=io.stdout,
            stderr=io.stderr,
            terminal=io.terminal,
            spec=spec_any(process, PROCESS_URL),
        )
        self.client.call(self.stub.Exec, request, f"exec {_name(container_id, exec_id)}")
        io.created()

    def close_io(self, container_id: str, exec_id: str = "") -> None:
        """Close the process's stdin (it sees EOF): the shim keeps a writer of its own until this call."""
        request = pb.CloseIORequest(container_id=container_id, exec_id=exec_id, stdin=True)
        self.client.call(self.stub.CloseIO, request, f"close stdin of {_name(container_id, exec_id)}")

    def resize_pty(self, container_id: str, width: int, height: int, exec_id: str = "") -> None:
        request = pb.ResizePtyRequest(container_id=container_id, exec_id=exec_id, width=width, height=height)
        self.client.call(self.stub.ResizePty, request, f"resize tty of {_name(container_id, exec_id)}")

    def get(self, container_id: str, exec_id: str = "") -> Process:
        reply = self.client.call(
            self.stub.Get,
            pb.GetRequest(container_id=container_id, exec_id=exec_id),
            f"task {_name(container_id, exec_id)}",
        )
        return Process.from_proto(reply.process, container_id)

    def list(self, filter: str = "") -> builtins.list[Process]:
        """The init process of every task in the namespace."""
        reply = self.client.call(self.stub.List, pb.ListTasksRequest(filter=filter), "task list")
        return [Process.from_proto(p) for p in reply.tasks]

    def list_later(self, filter: str = "") -> Callable[[], builtins.list[Process]]:
        """Tasks.List started now in the background (containerd asks every shim for its task's state,
        so a caller can do other work meanwhile); the returned function waits and returns as ``list``."""
        pending = self.client.future(self.stub.List, pb.ListTasksRequest(filter=filter), "task list")
        return lambda: [Process.from_proto(p) for p in pending.result().tasks]

    def pids(self, container_id: str) -> builtins.list[int]:
        """Host pids of all processes in the task."""
        reply = self.client.call(
            self.stub.ListPids, pb.ListPidsRequest(container_id=container_id), f"task pids {container_id}"
        )
        return [p.pid for p in reply.processes]

    def metrics(self, container_ids: Iterable[str] = ()) -> builtins.list[Metrics]:
        """Cgroup metrics of the given tasks (all tasks of the namespace when none are given)."""
        filters = [f"id=={cid}" for cid in container_ids]
        reply = self.client.call(self.stub.Metrics, pb.MetricsRequest(filters=filters), "task metrics")
        return [_metrics(m.id, to_datetime(m.timestamp), m.data) for m in reply.metrics]

    def _written(self, topic: str, **payload: Any) -> None:
        """Write an RPC's outcome through to the running watch cache of this namespace, if any."""
        watcher = self.client.watcher()
        if watcher is not None:
            watcher.write(topic, payload)


def _name(container_id: str, exec_id: str) -> str:
    return f"{container_id}/{exec_id}" if exec_id else container_id


# -- cgroup metrics: a few figures read straight off the wire, to avoid carrying the cgroups protos --------

_V1 = "io.containerd.cgroups.v1.Metrics"
_V2 = "io.containerd.cgroups.v2.Metrics"

# field paths (message field numbers) in containerd/cgroups stats/v1 and v2/stats metrics.proto
_PATHS: dict[str, dict[str, tuple[int, ...]]] = {
    _V1: {
        "cpu_ns": (3, 1, 1),  # cpu.usage.total (ns)
        "memory_bytes": (4, 33, 2),  # memory.usage.usage
        "memory_limit": (4, 33, 1),  # memory.usage.limit
        "pids": (2, 1),
        "pids_limit": (2, 2),
    },
    _V2: {
        "cpu_ns": (2, 1),  # cpu.usage_usec, scaled below
        "memory_bytes": (4, 32),  # memory.usage
        "memory_limit": (4, 33),  # memory.usage_limit
        "pids": (1, 1),
        "pids_limit": (1, 2),
    },
}


def _metrics(container_id: str, timestamp: datetime | None, data: any_pb2.Any) -> Metrics:
    paths = _PATHS.get(data.type_url, {})
    figures: dict[str, int | None] = {name: _read_path(data.value, path) for name, path in paths.items()}
    cpu = figures.get("cpu_ns")
    return Metrics(
        container_id=container_id,
        timestamp=timestamp,
        type_url=data.type_url,
        raw=data.value,
        cpu_ns=cpu * 1000 if cpu is not None and data.type_url == _V2 else cpu,
        memory_bytes=figures.get("memory_bytes"),
        memory_limit=figures.get("memory_limit"),
        pids=figures.get("pids"),
        pids_limit=figures.get("pids_limit"),
        **_block_io(data.type_url, data.value),
    )


def _block_io(type_url: str, buf: bytes) -> dict[str, int | None]:
    """Bytes read and written, summed over devices: v1's blkio.io_service_bytes_recursive entries
    (op "Read"/"Write", value), v2's io.usage entries (rbytes, wbytes)."""
    if type_url == _V1:
        stat = _find_field(buf, 5)
        entries = _all_fields(stat, 1) if isinstance(stat, bytes) else []
        totals = {"Read": 0, "Write": 0}
        for entry in entries:
            op, value = _find_field(entry, 1), _find_field(entry, 5)
            if isinstance(op, bytes) and isinstance(value, int):
                key = op.decode("ascii", "replace").capitalize()
                if key in totals:
                    totals[key] += value
        return {"block_read": totals["Read"], "block_write": totals["Write"]}
    if type_url == _V2:
        stat = _find_field(buf, 6)
        entries = _all_fields(stat, 1) if isinstance(stat, bytes) else []
        read = sum(v for e in entries if isinstance(v := _find_field(e, 3), int))
        write = sum(v for e in entries if isinstance(v := _find_field(e, 4), int))
        return {"block_read": read, "block_write": write}
    return {"block_read": None, "block_write": None}


def _all_fields(buf: bytes, wanted: int) -> list[bytes]:
    """Every length-delimited value of (repeated) field ``wanted`` in a serialized message."""
    out: list[bytes] = []
    pos = 0
    try:
        while pos < len(buf):
            key, pos = _varint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(buf, pos)
            elif wire == 2:
                size, pos = _varint(buf, pos)
                if number == wanted:
                    out.append(buf[pos : pos + size])
                pos += size
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            else:
                break
    except IndexError:
        pass
    return out


def _read_path(buf: bytes, path: tuple[int, ...]) -> int | None:
    for depth, number in enumerate(path):
        value = _find_field(buf, number)
        if value is None:
            return None if depth < len(path) - 1 else 0  # an absent scalar is proto3's zero
        if depth == len(path) - 1:
            return value if isinstance(value, int) else None
        if not isinstance(value, bytes):
            return None
        buf = value
    return None


def _find_field(buf: bytes, wanted: int) -> int | bytes | None:
    """The last value of field ``wanted`` in a serialized message (varint or length-delimited only)."""
    found: int | bytes | None = None
    pos = 0
    try:
        while pos < len(buf):
            key, pos = _varint(buf, pos)
            number, wire = key >> 3, key & 7
            value: int | bytes
            if wire == 0:
                value, pos = _varint(buf, pos)
            elif wire == 2:
                size, pos = _varint(buf, pos)
                value, pos = buf[pos : pos + size], pos + size
            elif wire == 1:
                value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
            elif wire == 5:
                value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
            else:
                return found
            if number == wanted:
                found = value
    except IndexError:
        return found
    return found


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
