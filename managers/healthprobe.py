"""Running healthchecks (managers.health holds what a check is and how its state is read): one probe
is one exec of the check in the container, with the container's own process spec (never a host
binary), its output bounded, killed at the timeout; the result is written whole into the container's
``pouchsh/health`` label. ``wait_healthy`` is the one loop that decides when a probe is due, shared by
``wait --condition healthy``, compose's ``service_healthy`` and ``upgrade``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ctrd.errors import Conflict, Interrupted, InvalidArgument, NotFound, PouchError, PouchRuntimeError, Timeout
from managers.containers import exec_process_id
from managers.health import SECOND, HealthConfig, state_of
from managers.labels import LABEL, MAX_LABEL_BYTES
from managers.launch import exec_failures
from managers.lifecycle import quiet

if TYPE_CHECKING:
    from ctrd.watch import CacheSnapshot
    from managers import Managers

__all__ = ["HealthMonitor", "due_probes", "probe"]

#: docker keeps 4 KiB of a probe's output; a label holds 4 KiB in all, so less is kept here
OUTPUT_LIMIT = 1024
LOG_ENTRIES = 3
#: how long a probe waits for the schedule's watch cache to show the state it recorded
_CATCH_UP = 5.0


class _Bounded:
    """A probe's output (stdout and stderr together), keeping the first OUTPUT_LIMIT bytes."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self.lock:
            room = OUTPUT_LIMIT - len(self.data)
            if room > 0:
                self.data += data[:room]
        return len(data)

    def flush(self) -> None:
        pass


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _run_probe(facade: Managers, c: Any, pid: int, config: HealthConfig) -> dict[str, Any]:
    """One exec of the check in ``c``: {start, end, exit_code, output}. Exit 0 passes; a timeout is -1."""
    from ctrd.stdio import FifoIO

    manager = facade.containers
    tasks = manager.client.tasks
    process = dict(c.spec.get("process") or {})
    process["args"] = config.args()
    process["terminal"] = False
    exec_id = exec_process_id(c.id, "health" + secrets.token_hex(4))
    start = time.time()
    output = _Bounded()
    io = FifoIO.open(manager.paths.fifo_root, exec_id)
    created = False
    future = None
    try:
        try:
            with manager.lifecycle.fifos_held(io):
                tasks.exec(c.id, exec_id, process, io=io)
                created = True
                io.attach_output(stdout=output, stderr=output)  # type: ignore[arg-type]
                future = tasks.wait(c.id, exec_id)
                with exec_failures(f"healthcheck in {c.labels.get(LABEL.NAME, c.id)}"):
                    tasks.start(c.id, exec_id)
        except PouchError as err:
            if future is None:
                raise  # only the start's failure is the check's result
            future.cancel()
            return {"start": _iso(start), "end": _iso(time.time()), "exit_code": err.exit_status or -1,
                    "output": err.message[:OUTPUT_LIMIT]}
        try:
            code = future.result(config.timeout / SECOND).exit_status
        except Timeout:
            quiet(tasks.kill, c.id, "SIGKILL", exec_id=exec_id)
            quiet(future.result, 10)
            seconds = config.timeout / SECOND
            return {"start": _iso(start), "end": _iso(time.time()), "exit_code": -1,
                    "output": f"Health check exceeded timeout ({seconds:g}s)"}
        try:
            io.wait(5)
        except Timeout:
            pass
        return {"start": _iso(start), "end": _iso(time.time()), "exit_code": code,
                "output": output.data.decode(errors="replace")}
    finally:
        io.close()
        if created:
            quiet(tasks.delete_process, c.id, exec_id)


def _started(pid: int) -> float:
    from managers.records import started_at

    return started_at(pid) or time.time()


def _running_pid(facade: Managers, c: Any) -> int | None:
    task = facade.containers.resolver.task(c.id)
    return task.pid if task is not None and task.status == "running" and task.pid else None


def _still_running(facade: Managers, c: Any) -> bool:
    try:
        return _running_pid(facade, c) is not None
    except NotFound:
        return False  # removed meanwhile


def _probe_once(facade: Managers, c: Any) -> dict[str, Any]:
    name = c.labels.get(LABEL.NAME, c.id)
    config = HealthConfig.from_labels(c.labels)
    if config is None:
        raise InvalidArgument(f"container {name} has no healthcheck", hint="create it with --health-cmd")
    pid = _running_pid(facade, c)
    if pid is None:
        raise Conflict(f"container {name} is not running")
    result = _run_probe(facade, c, pid, config)
    # Read again: another waiter may have recorded a probe meanwhile; the streak continues from it.
    fresh = facade.containers.client.containers.get(c.id)
    state = state_of(fresh.labels)
    if state is None or state.get("pid") != pid:
        state = {"status": "starting", "failing_streak": 0, "log": [], "pid": pid}
    in_start_period = time.time() - _started(pid) < config.start_period / SECOND
    if result["exit_code"] == 0:
        state["status"], state["failing_streak"] = "healthy", 0
    elif not in_start_period or state["status"] != "starting":
        # docker: failures during the start period do not count, until a first success ends it
        state["failing_streak"] = int(state.get("failing_streak") or 0) + 1
        if state["failing_streak"] >= config.retries:
            state["status"] = "unhealthy"
    state["log"] = [*list(state.get("log") or [])[-(LOG_ENTRIES - 1):], result]
    state["pid"] = pid
    facade.containers.client.containers.update(c.id, labels={LABEL.HEALTH: _fit(state)})
    return {k: state[k] for k in ("status", "failing_streak", "log")}


def _fit(state: dict[str, Any]) -> str:
    """The state as a label value within containerd's bound: older log entries go first, then output."""
    room = MAX_LABEL_BYTES - len(LABEL.HEALTH)
    while True:
        text = json.dumps(state, separators=(",", ":"))
        if len(text.encode()) <= room:
            return text
        if len(state["log"]) > 1:
            state["log"] = state["log"][1:]
        else:
            state["log"][0]["output"] = state["log"][0]["output"][: len(state["log"][0]["output"]) // 2]


def _last_end(state: dict[str, Any] | None, pid: int) -> float | None:
    if not state or state.get("pid") != pid or not state.get("log"):
        return None
    try:
        return datetime.fromisoformat(str(state["log"][-1].get("end") or "")).timestamp()
    except ValueError:
        return None


def wait_healthy(
    facade: Managers, refs: list[Any], *, timeout: float | None = None, cancel: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Block until every container in ``refs`` is healthy, probing each when its check is due; their
    records. A container that is (or becomes) unhealthy, stops, or has no check is an error naming it;
    so is ``timeout`` (seconds) passing first. Ctrl-C (``cancel``) is Interrupted."""
    manager = facade.containers
    found = manager.resolver.get_all(refs)
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = {c.id: c for c in found}
    for c in found:
        if HealthConfig.from_labels(c.labels) is None:
            raise InvalidArgument(f"container {c.labels.get(LABEL.NAME, c.id)} has no healthcheck",
                                  hint="create it with --health-cmd, or wait for it without --condition healthy")
    while pending:
        next_due = time.monotonic() + 3600
        for cid in list(pending):
            c = manager.client.containers.get(cid)
            name = c.labels.get(LABEL.NAME, cid)
            config = HealthConfig.from_labels(c.labels)
            assert config is not None  # checked above; the label is fixed at create
            pid = _running_pid(facade, c)
            if pid is None:
                raise PouchRuntimeError(f"container {name} stopped while waiting for it to be healthy")
            state = state_of(c.labels)
            current = state if state is not None and state.get("pid") == pid else None
            if current is not None and current["status"] == "healthy":
                del pending[cid]
                continue
            if current is not None and current["status"] == "unhealthy":
                raise PouchRuntimeError(f"container {name} is unhealthy: {_last_output(current)}")
            last = _last_end(current, pid)
            # docker runs the first probe one interval after the start; a waiter need not wait that long
            # for the first one, which is what makes `run -d … ; wait --condition healthy` quick
            due_wall = time.time() if last is None else last + _interval(config, pid) / SECOND
            if due_wall <= time.time():
                try:
                    health = _probe_once(facade, c)
                except Interrupted:
                    raise
                except PouchError:
                    # the task ended between the look above and the probe (its look, or the exec that
                    # containerd refuses in whatever words): that is this stop
                    if _still_running(facade, c):
                        raise
                    raise PouchRuntimeError(f"container {name} stopped while waiting for it to be healthy") from None
                if health["status"] == "healthy":
                    del pending[cid]
                    continue
                if health["status"] == "unhealthy":
                    raise PouchRuntimeError(f"container {name} is unhealthy: {_last_output(health)}")
                due_wall = time.time() + _interval(config, pid) / SECOND
            next_due = min(next_due, time.monotonic() + max(0.0, due_wall - time.time()))
        if not pending:
            break
        if deadline is not None and time.monotonic() >= deadline:
            names = ", ".join(str(c.labels.get(LABEL.NAME, c.id)) for c in pending.values())
            raise Timeout(f"waiting for {names} to be healthy: timed out after {timeout:g}s")
        until = next_due if deadline is None else min(next_due, deadline)
        event = cancel or threading.Event()
        if event.wait(max(0.0, until - time.monotonic())):
            raise Interrupted("waiting for health interrupted")
    return [manager.resolver.record(c.id) for c in found]


def _interval(config: HealthConfig, pid: int) -> int:
    return config.next_interval(time.time() - _started(pid))


def due_probes(facade: Managers, probing: set[str], view: CacheSnapshot | None = None) -> tuple[list[str], float]:
    """For a daemon (pouchd) that keeps checks running as dockerd does: the ids of the running containers
    with a check whose probe is due, leaving out ``probing`` (ids whose probe is under way), and the
    seconds until the next one is due. The schedule is docker's (the first probe one interval after the
    start, the start interval within the start period) and is read from the recorded state, so it is
    shared with the shell's waiters: a probe one of them made is not made again. ``view``: a synced watch
    cache (ctrd.watch) to read the containers, their states and tasks from, so a pass costs no call;
    without one they are listed."""
    now = time.time()
    due: list[str] = []
    wait = 3600.0
    for cid, labels, pid in _running_checks(facade, probing, view):
        config = HealthConfig.from_labels(labels)
        if config is None:
            continue
        started = _started(pid)
        state = state_of(labels)
        last = _last_end(state, pid)
        if last is None:
            at = started + config.next_interval(0) / SECOND
        else:
            at = last + config.next_interval(last - started) / SECOND
        if at <= now:
            due.append(cid)
        else:
            wait = min(wait, at - now)
    return due, wait


def _running_checks(facade: Managers, probing: set[str],
                    view: CacheSnapshot | None) -> Iterator[tuple[str, Mapping[str, str], int]]:
    """(id, labels, pid) of each container with a check whose task runs, not in ``probing``."""
    if view is not None:
        for cid, c in view.containers.items():
            task = view.tasks.get(cid)
            if (cid not in probing and LABEL.HEALTHCHECK in c.labels and task is not None
                    and task.status == "running" and task.pid):
                yield cid, c.labels, task.pid
        return
    for c in facade.containers.client.containers.list([f'labels."{LABEL.HEALTHCHECK}"']):
        if c.id in probing:
            continue
        try:
            pid = _running_pid(facade, c)
        except PouchError:
            continue  # removed meanwhile
        if pid is not None:
            yield c.id, c.labels, pid


def probe(facade: Managers, cid: str) -> dict[str, Any] | None:
    """One probe of container ``cid`` for a daemon's schedule; None when it could not be made (the
    container stopped or went away meanwhile: its next start begins a new schedule)."""
    try:
        return _probe_once(facade, facade.containers.client.containers.get(cid))
    except PouchError:
        return None


def _last_output(health: Mapping[str, Any]) -> str:
    log = list(health.get("log") or [])
    if not log:
        return "no probe recorded"
    last = log[-1]
    output = str(last.get("output") or "").strip()
    return f"exit status {last.get('exit_code')}" + (f": {output[:200]}" if output else "")


class HealthMonitor:
    """``ctx.managers.health``: the probes, run by the caller that needs the answer (or, in pouchd,
    by ``keep_checking``)."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    def check(self, refs: list[Any]) -> list[dict[str, Any]]:
        """Probe each running container once now and record the result: {id, name, status,
        failing_streak, log}."""
        out = []
        for c in self.facade.containers.resolver.get_all(refs):
            out.append({"id": c.id, "name": c.labels.get(LABEL.NAME, ""), **_probe_once(self.facade, c)})
        return out

    def wait(self, refs: list[Any], *, timeout: float | None = None,
             cancel: threading.Event | None = None) -> list[dict[str, Any]]:
        """See ``wait_healthy``."""
        return wait_healthy(self.facade, refs, timeout=timeout, cancel=cancel)

    def keep_checking(self, stop: threading.Event, *, workers: int = 4) -> None:
        """A daemon's schedule (pouchd), until ``stop`` is set: every running container's check when it
        is due (``due_probes``), up to ``workers`` probes at a time, a slow one holding up no other.
        Containers start at any time, so what is due is worked out again each second at least, from a
        watch cache of the namespace (its events keep it current: a pass makes no call to containerd;
        while it is not synced, after containerd restarted, the containers are listed instead). A probe
        ends with the cache caught up with the state it recorded, so that state is what the next pass
        reads. The probes run in daemon threads: a stopping server does not wait for a probe's timeout
        (its exec'd process ends on its own, as with a killed waiter)."""
        from ctrd.watch import Watcher

        probing: set[str] = set()
        lock = threading.Lock()
        wake = threading.Event()
        slots = threading.Semaphore(workers)
        watcher = Watcher(self.facade.ctrd).start(shared=False)

        def one(cid: str, before: str | None) -> None:
            try:
                if probe(self.facade, cid) is not None and before is not None:
                    try:  # each probe's record differs (its times): wait for the event that brings it
                        watcher.wait_for(lambda s: cid not in s.containers
                                         or s.containers[cid].labels.get(LABEL.HEALTH, "") != before, _CATCH_UP)
                    except PouchError:
                        pass  # not synced, or slow: at worst the next pass probes once more
            finally:
                with lock:
                    probing.discard(cid)
                slots.release()
                wake.set()

        try:
            while not stop.is_set():
                wake.clear()
                with lock:
                    busy = set(probing)
                snapshot = watcher.snapshot()
                view = snapshot if snapshot.synced else None
                try:
                    due, wait = due_probes(self.facade, busy, view)
                except PouchError:
                    due, wait = [], 1.0  # containerd unreachable for a moment: try again
                for cid in due:
                    if not slots.acquire(blocking=False):
                        break  # all workers busy: the rest once one is free (``wake``)
                    with lock:
                        probing.add(cid)
                    # the state it has now ("" for none yet), which the probe's record replaces
                    before = None if view is None else view.containers[cid].labels.get(LABEL.HEALTH, "")
                    threading.Thread(target=one, args=(cid, before), name=f"health-{cid[:12]}", daemon=True).start()
                # until the next is due, a probe ends (its next may be due sooner than the others'), or stop
                deadline = time.monotonic() + min(wait, 1.0)
                while not stop.is_set() and not wake.is_set() and time.monotonic() < deadline:
                    stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        finally:
            watcher.stop()
