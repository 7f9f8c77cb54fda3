"""A live cache of one namespace's containers and tasks, kept from containerd's event stream.

The standard list-then-watch pattern, made restart-proof (PouchContainer's event loop never re-watched):

1. subscribe to the namespace's events;
2. publish a marker event and read until it comes back, which proves the subscription is live (the
   Subscribe call itself acknowledges nothing);
3. note the time, list containers and tasks, and replace the cache with the lists;
4. apply every later event newer than that time (older ones are already in the lists);
5. on any stream error (containerd killed, restarted, the socket gone) mark the cache unsynced, back off
   and start again at 1: the cache converges to containerd's state after a restart.

``StateCache`` is the state machine (no I/O); ``Watcher`` runs the loop in a daemon thread and lets
callers wait, with a deadline, for the cache to reach a state they expect. ``Watcher.sync`` makes the
cache current as of the call: it publishes a marker and waits for it to come back through the stream,
so every event published before the call (every Containers.Create, Update and Delete that returned)
has been applied. ``watching(client)`` finds the running watcher of a client's namespace, so that a
long-lived process can answer from the cache instead of listing.

Task events are different: each shim sends them after (or while) it answers the RPC, so the stream can
lag behind a Tasks.Start that already returned. ctrd.tasks therefore writes the outcome of this
process's own task RPCs through to the watcher of its connection and namespace (``Watcher.write``, an
event known before the stream brings it). A write-through is pinned over the stream's state of that
task until the stream reaches it; positions are compared per task as (pid, step), the step being
created < started < paused/resumed (one step each) < stopped < deleted, and the pid telling a task
apart from the container's earlier or later ones. So a stale event never undoes a newer write-through,
and changes made by other processes arrive through the stream as before.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

from ctrd.errors import InvalidArgument, NotFound, PouchError, Timeout
from ctrd.events import SYNC_TOPIC

if TYPE_CHECKING:
    from ctrd.client import Client
    from ctrd.containers import Container
    from ctrd.events import Event
    from ctrd.tasks import Process

__all__ = ["CacheSnapshot", "ContainerState", "StateCache", "TaskState", "Watcher", "watching"]

#: running watchers by (connection, namespace); see ``watching``
_RUNNING: dict[tuple[int, str], Watcher] = {}
_RUNNING_LOCK = threading.Lock()


def watching(client: Client) -> Watcher | None:
    """The running watcher of ``client``'s namespace on the same connection, if one was started."""
    with _RUNNING_LOCK:
        watcher = _RUNNING.get((id(client.connection), client.namespace or ""))
    return watcher if watcher is not None and watcher.running else None


@dataclass(frozen=True, slots=True)
class ContainerState:
    """A container as the cache knows it.

    ``exit_status``/``exited_at``: the last exit of its task that this cache saw being deleted (None if
    it saw none; containerd forgets exits once the task is deleted, so after a re-list this is None).
    ``spec``: the OCI spec as listed or read at creation (decoded on first use); an update event carries
    no spec, so a spec changed later by Containers.Update is not seen here (labels and image are).
    """

    id: str
    image: str
    labels: Mapping[str, str]
    created_at: datetime | None = None
    exit_status: int | None = None
    exited_at: datetime | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskState:
    """A container's task: ``status`` (created, running, stopped, paused, pausing, unknown), ``pid``,
    ``exit_status``/``exited_at`` once stopped, ``oom`` if the kernel OOM-killed in it, and ``execs``:
    exec id → pid (0 until started) of the exec'd processes that have not exited."""

    container_id: str
    status: str
    pid: int = 0
    exit_status: int = 0
    exited_at: datetime | None = None
    oom: bool = False
    execs: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CacheSnapshot:
    """An immutable view of the cache.

    - ``generation``: bumped on every change and every (re)sync
    - ``synced``: True while the stream is live and the last list has been applied; False while
      reconnecting (the data is then the last known state)
    - ``containers``, ``tasks``: by container id
    """

    namespace: str
    generation: int
    synced: bool
    containers: Mapping[str, ContainerState]
    tasks: Mapping[str, TaskState]

    def status(self, container_id: str) -> str | None:
        """``created`` for a container with no task, else its task's status; None if unknown."""
        task = self.tasks.get(container_id)
        if task is not None:
            return task.status
        return "created" if container_id in self.containers else None


#: a task's step in its life (see the module docstring); pause and resume add one each, so a paused
#: task's step is odd and a running one's even
CREATED, STARTED, STOPPED, DELETED = 0, 2, 1 << 40, (1 << 40) + 1
#: events that move a task's init process along its life
_MOVES = frozenset(("/tasks/create", "/tasks/start", "/tasks/paused", "/tasks/resumed", "/tasks/exit", "/tasks/delete"))


@dataclass(slots=True)
class _Written:
    """A write-through not yet reached by the stream: the task as this process's RPC left it (None:
    deleted), its position, and whether the stream has already been in that task (its pid)."""

    task: TaskState | None
    pid: int
    step: int
    entered: bool
    order: int


class StateCache:
    """The state machine: a full reset from lists, then one event at a time, and write-throughs of this
    process's own task RPCs pinned over it (``write``). Not thread-safe.

    ``tasks`` is the state as the stream (and the last list) has it; ``view_tasks()`` the state to show,
    with the write-throughs the stream has not reached yet.
    """

    def __init__(self) -> None:
        self.containers: dict[str, ContainerState] = {}
        self.tasks: dict[str, TaskState] = {}
        # the stream's last position of each container's task, kept after a delete (to compare with)
        self._at: dict[str, tuple[int, int]] = {}
        self._written: dict[str, _Written] = {}
        self._writes = 0

    @property
    def pinned(self) -> frozenset[str]:
        """The containers whose shown task is a write-through the stream has not reached yet."""
        return frozenset(self._written)

    @property
    def writes(self) -> int:
        """How many write-throughs were made (a mark for ``reset``'s ``keep_after``)."""
        return self._writes

    def reset(self, containers: Iterable[Container], tasks: Iterable[Process], keep_after: int | None = None) -> None:
        """Replace the state with fresh lists. Write-throughs made before the lists were taken are
        dropped (the lists hold them); those numbered above ``keep_after`` (made while listing) stay
        until the lists or the stream show them."""
        exits = {cid: (c.exit_status, c.exited_at) for cid, c in self.containers.items()}
        self.containers = {c.id: _container_state(c) for c in containers}
        for cid, (status, at) in exits.items():
            if cid in self.containers and status is not None:
                self.containers[cid] = replace(self.containers[cid], exit_status=status, exited_at=at)
        self.tasks = {
            p.id: TaskState(
                container_id=p.id,
                status=p.status,
                pid=p.pid,
                exit_status=p.exit_status,
                exited_at=p.exited_at,
            )
            for p in tasks
        }
        self._at = {cid: (t.pid, _LISTED_STEP.get(t.status, STARTED)) for cid, t in self.tasks.items()}
        kept = {}
        for cid, w in self._written.items():
            if keep_after is None or w.order <= keep_after:
                continue
            listed = self.tasks.get(cid)
            if listed is None and w.task is not None:
                w.entered = False  # listed before the RPC: the stream will bring it
            elif listed is not None and listed.pid == w.pid and not _reached(listed, w):
                w.entered = True
            else:
                continue  # the lists show it, or a later task than it
            kept[cid] = w
        self._written = kept

    def view_tasks(self) -> dict[str, TaskState]:
        """The tasks to show: the stream's, with the write-throughs it has not reached yet."""
        tasks = dict(self.tasks)
        for cid, w in self._written.items():
            if w.task is None:
                tasks.pop(cid, None)
            else:
                tasks[cid] = w.task
        return tasks

    def pid_of(self, container_id: str) -> int:
        """The pid of the container's task as shown (0 if none)."""
        w = self._written.get(container_id)
        if w is not None:
            return w.pid if w.task is not None else 0
        task = self.tasks.get(container_id)
        return task.pid if task is not None else 0

    def write(self, topic: str, payload: Mapping[str, Any]) -> bool:
        """Pin what one of this process's own task RPCs did, given as the event it will cause (a
        ``/tasks/*`` topic and its payload), over the stream's state until the stream reaches it.
        Returns whether the shown state changed. A write the stream (or an earlier write) has already
        passed is ignored, and so is a pause, resume or exit of a task other than the one shown (a
        Wait that ended after its task was deleted)."""
        p = payload
        cid = p["container_id"]
        if topic not in _MOVES or p.get("id", "") not in ("", cid):
            return False
        w = self._written.get(cid)
        if w is not None:
            shown, pid, step = w.task, w.pid, w.step
        else:
            shown = self.tasks.get(cid)
            pid, step = self._at.get(cid, (0, -1))
        if topic in ("/tasks/paused", "/tasks/resumed", "/tasks/exit") and (
            shown is None or p.get("pid", pid) != pid
        ):
            return False
        task, new_pid, new_step, exit = _move(shown, pid, step, topic, p)
        if new_pid == pid and new_step <= step:
            return False  # already there, or past it
        at = self._at.get(cid)
        if at is not None and at[0] == new_pid and at[1] >= new_step:
            return False  # the stream is already there
        self._writes += 1
        self._written[cid] = _Written(task, new_pid, new_step, at is not None and at[0] == new_pid, self._writes)
        if exit is not None:
            self._set_exit(cid, *exit)
        return True

    def apply(self, event: Event, record: Container | None = None) -> bool:
        """Apply one event; ``record`` is the freshly read container for ``/containers/create``
        (the event carries no labels). Returns whether anything changed."""
        topic, p = event.topic, event.payload
        if topic == "/containers/create":
            state = (
                _container_state(record) if record is not None else ContainerState(p["id"], p["image"], {})
            )
            return self._set_container(state)
        if topic == "/containers/update":
            old = self.containers.get(p["id"])
            state = ContainerState(p["id"], p["image"], dict(p["labels"]))
            if old is not None:
                state = replace(old, image=p["image"], labels=dict(p["labels"]))
            return self._set_container(state)
        if topic == "/containers/delete":
            self.tasks.pop(p["id"], None)
            self._at.pop(p["id"], None)
            self._written.pop(p["id"], None)
            return self.containers.pop(p["id"], None) is not None
        if not topic.startswith("/tasks/"):
            return False
        cid = p["container_id"]
        if topic in _MOVES and p.get("id", "") in ("", cid):
            return self._move(cid, topic, p)
        task = self.tasks.get(cid) or TaskState(container_id=cid, status="unknown")
        if topic in ("/tasks/exit", "/tasks/delete"):  # of an exec'd process: the task stays
            task = replace(task, execs=_without(task.execs, p["id"]))
        elif topic == "/tasks/oom":
            task = replace(task, oom=True)
        elif topic == "/tasks/exec-added":
            task = replace(task, execs={**task.execs, p["exec_id"]: 0})
        elif topic == "/tasks/exec-started":
            task = replace(task, execs={**task.execs, p["exec_id"]: p["pid"]})
        else:
            return False
        changed = self._set_task(task)
        w = self._written.get(cid)
        if w is not None and w.task is not None and w.pid == task.pid:
            w.task = replace(w.task, oom=task.oom, execs=task.execs)  # what the write-through does not know
        return changed

    def _move(self, cid: str, topic: str, p: Mapping[str, Any]) -> bool:
        """A stream event moving the init process: applied to the stream's state in order; then the
        write-through of the task (if any) is dropped once the stream has reached or passed it."""
        pid, step = self._at.get(cid, (0, -1))
        task, pid, step, exit = _move(self.tasks.get(cid), pid, step, topic, p)
        self._at[cid] = (pid, step)
        if task is None:
            changed = self.tasks.pop(cid, None) is not None
        else:
            changed = self._set_task(task)
        w = self._written.get(cid)
        if w is not None:
            if w.pid == pid:
                w.entered = True
                if step < w.step:
                    return False  # a stale event: the write-through stays in front
            elif not w.entered:
                return False  # an event of the container's earlier task
            del self._written[cid]  # the stream has reached or passed the write-through
            changed = self.tasks.get(cid) != w.task
        if exit is not None:
            changed = self._set_exit(cid, *exit) or changed
        return changed

    def _set_exit(self, cid: str, status: int, at: datetime | None) -> bool:
        container = self.containers.get(cid)
        if container is None:
            return False
        self.containers[cid] = replace(container, exit_status=status, exited_at=at)
        return True

    def _set_container(self, state: ContainerState) -> bool:
        changed = self.containers.get(state.id) != state
        self.containers[state.id] = state
        return changed

    def _set_task(self, task: TaskState) -> bool:
        changed = self.tasks.get(task.container_id) != task
        self.tasks[task.container_id] = task
        return changed


#: the step a listed task is at (a listed running task may have been paused and resumed before)
_LISTED_STEP = {"created": CREATED, "running": STARTED, "paused": STARTED + 1, "pausing": STARTED + 1, "stopped": STOPPED}


def _reached(listed: TaskState, w: _Written) -> bool:
    """Whether a listed task of the same pid shows the write-through (pause steps compared by status:
    a list does not count them)."""
    if w.task is None:
        return False
    step = _LISTED_STEP.get(listed.status, STARTED)
    if STARTED <= w.step < STOPPED and STARTED <= step < STOPPED:
        return listed.status == w.task.status
    return step >= w.step


def _move(
    task: TaskState | None, pid: int, step: int, topic: str, p: Mapping[str, Any]
) -> tuple[TaskState | None, int, int, tuple[int, datetime | None] | None]:
    """One init-process event applied to ``task`` at position (``pid``, ``step``): the task after it
    (None once deleted), its new position, and the exit to record on the container (a delete's)."""
    cid = p["container_id"]
    if task is None:
        task = TaskState(container_id=cid, status="unknown", pid=pid)
    if topic == "/tasks/create":
        return TaskState(container_id=cid, status="created", pid=p["pid"]), p["pid"], CREATED, None
    if topic == "/tasks/start":
        return replace(task, status="running", pid=p["pid"]), p["pid"], STARTED, None
    if topic == "/tasks/paused":
        return replace(task, status="paused"), task.pid, _next(step, odd=True), None
    if topic == "/tasks/resumed":
        return replace(task, status="running"), task.pid, _next(step, odd=False), None
    if topic == "/tasks/exit":
        stopped = replace(task, status="stopped", exit_status=p["exit_status"], exited_at=p["exited_at"])
        return stopped, p["pid"] or task.pid, STOPPED, None
    # /tasks/delete
    return None, p["pid"] or task.pid, DELETED, (p["exit_status"], p["exited_at"])


def _next(step: int, *, odd: bool) -> int:
    """The next pause (odd) or resume (even) step after ``step``."""
    step = max(step, STARTED) + 1
    return step if (step % 2 == 1) == odd else step + 1


def _container_state(c: Container) -> ContainerState:
    return ContainerState(id=c.id, image=c.image, labels=dict(c.labels), created_at=c.created_at, spec=c.spec)


def _without(execs: Mapping[str, int], exec_id: str) -> dict[str, int]:
    return {k: v for k, v in execs.items() if k != exec_id}


class Watcher:
    """Keeps a ``StateCache`` of ``client``'s namespace current from a daemon thread.

    ``Watcher(client.with_namespace("web")).start()``; ``snapshot()`` any time; ``wait_synced(timeout)``
    or ``wait_for(predicate, timeout)`` to block until the cache shows what a caller expects; ``stop()``.
    """

    def __init__(self, client: Client, *, min_backoff: float = 0.05, max_backoff: float = 2.0) -> None:
        if not client.namespace:
            raise InvalidArgument("the watcher needs a client bound to a namespace")
        self.client = client
        self.namespace = client.namespace
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        #: the error that ended the last stream, if any (for diagnostics; the watcher retries regardless)
        self.last_error: PouchError | None = None
        #: how many times the stream has been (re)established and re-listed
        self.syncs = 0
        self._cache = StateCache()
        self._generation = 0
        self._synced = False
        self._snapshot: CacheSnapshot | None = None
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._subscription: Any = None
        # the last sync tokens seen in the stream (other processes publish markers too, so it is bounded)
        self._markers: deque[str] = deque(maxlen=256)
        self._thread = threading.Thread(target=self._run, name=f"ctrd-watch-{self.namespace}", daemon=True)

    # -- public ------------------------------------------------------------------------------------

    def start(self, *, shared: bool = True) -> Self:
        """Start watching. ``shared``: offered through ``watching`` to every caller on the connection (the
        prompt's cache answers its ``ps``); a private one (pouchd's health schedule) changes no other
        caller's answers."""
        self._thread.start()
        if shared:
            with _RUNNING_LOCK:
                _RUNNING[(id(self.client.connection), self.namespace)] = self
        return self

    def stop(self) -> None:
        """End the stream and the thread (waits for the thread)."""
        self._stopping.set()
        with _RUNNING_LOCK:
            if _RUNNING.get((id(self.client.connection), self.namespace)) is self:
                del _RUNNING[(id(self.client.connection), self.namespace)]
        with self._cond:
            subscription = self._subscription
        if subscription is not None:
            subscription.close()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the watching thread is alive (started and not stopped)."""
        return self._thread.is_alive()

    @property
    def generation(self) -> int:
        return self._generation

    def snapshot(self) -> CacheSnapshot:
        with self._cond:
            return self._current()

    def wait_for(self, predicate: Callable[[CacheSnapshot], bool], timeout: float) -> CacheSnapshot:
        """Block until ``predicate(snapshot)`` holds for a synced snapshot; Timeout after ``timeout`` s."""
        with self._cond:
            if self._cond.wait_for(lambda: self._synced and predicate(self._current()), timeout):
                return self._current()
            state = "synced" if self._synced else f"not synced (last error: {self.last_error})"
            raise Timeout(
                f"containerd state of namespace {self.namespace} not as expected within {timeout:g}s ({state})"
            )

    def sync(self, timeout: float) -> CacheSnapshot:
        """A synced snapshot that holds everything containerd published before this call: a marker is
        published and waited for in the stream. Timeout if the cache is not synced or the marker does
        not come back in time (the stream broke; the caller should ask containerd instead)."""
        if not self._synced:
            raise Timeout(f"the cache of namespace {self.namespace} is not synced (last error: {self.last_error})")
        token = self.client.events.publish_marker()
        with self._cond:
            if self._cond.wait_for(lambda: token in self._markers and self._synced, timeout):
                return self._current()
        raise Timeout(f"the cache of namespace {self.namespace} did not catch up within {timeout:g}s")

    def wait_synced(self, timeout: float) -> CacheSnapshot:
        """Block until the stream is live and the lists are applied."""
        return self.wait_for(lambda _s: True, timeout)

    def write(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Show at once what a task RPC of this process did, as the ``/tasks/*`` event it will cause
        (``StateCache.write``); ctrd.tasks calls it for the watcher of its connection and namespace."""
        with self._cond:
            if self._cache.write(topic, payload):
                self._bump()

    def task_pid(self, container_id: str) -> int:
        """The pid of the container's task as the cache shows it (0 if none)."""
        with self._cond:
            return self._cache.pid_of(container_id)

    # -- the loop ----------------------------------------------------------------------------------

    def _current(self) -> CacheSnapshot:
        if self._snapshot is None or self._snapshot.generation != self._generation:
            self._snapshot = CacheSnapshot(
                namespace=self.namespace,
                generation=self._generation,
                synced=self._synced,
                containers=MappingProxyType(dict(self._cache.containers)),
                tasks=MappingProxyType(self._cache.view_tasks()),
            )
        return self._snapshot

    def _bump(self) -> None:
        self._generation += 1
        self._cond.notify_all()

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopping.is_set():
            try:
                if self._session():
                    backoff = self.min_backoff
            except PouchError as err:
                self.last_error = err
            with self._cond:
                self._subscription = None
                if self._synced:
                    self._synced = False
                    self._bump()
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff)

    def _session(self) -> bool:
        """One subscribe-list-apply run; returns whether it got as far as a sync."""
        subscription = self.client.events.subscribe()
        with self._cond:
            self._subscription = subscription
        try:
            if self._stopping.is_set():
                return False
            self.client.events.wait_live(subscription)  # what came before is in the lists below
            with self._cond:
                mark = self._cache.writes
            listed_at = datetime.now(UTC)
            containers = self.client.containers.list()
            tasks = self.client.tasks.list()
            with self._cond:
                self._cache.reset(containers, tasks, keep_after=mark)
                self._synced = True
                self.syncs += 1
                self.last_error = None
                self._bump()
            for event in subscription:
                if event.topic == SYNC_TOPIC:
                    token = event.payload.get("labels", {}).get("pouchsh/sync")
                    with self._cond:
                        self._markers.append(token)
                        self._cond.notify_all()
                    continue
                if event.timestamp is not None and event.timestamp < listed_at:
                    continue  # already reflected in the lists
                record = (
                    self._fetch(event.payload.get("id", "")) if event.topic == "/containers/create" else None
                )
                with self._cond:
                    try:
                        changed = self._cache.apply(event, record)
                    except KeyError:
                        changed = False  # a foreign publisher's payload under a containerd topic: not ours
                    if changed:
                        self._bump()
            return True
        finally:
            subscription.close()

    def _fetch(self, container_id: str) -> Container | None:
        try:
            return self.client.containers.get(container_id)
        except NotFound:
            return None
