"""The container manager: docker's container verbs on containerd 1.6.

containerd is the source of truth: a container is a containerd container record whose labels under
``pouchsh/`` hold what pouchsh adds (name, restart policy, log path, network and volume choices), and its
task is the running part. ``list`` is one Containers.List plus one Tasks.List.

``ContainerManager`` is a facade: each verb is a few lines over the collaborators it builds and hands
to each other (managers.containerpaths: where a container's files are; managers.resolver: references,
tasks and records; managers.imagecache: the image a create uses; managers.lifecycle: create, start,
reap, stop, destroy; managers.foreground: attached runs and execs). None inherits from another.

Life cycle, and what undoes what when a step fails (nothing half-made is left behind):

    create:  name reserved → network planned (files) → volumes made → [lease] snapshot prepared
             → container record created → [lease released] → name committed
    start:   [bridged: netns pinned → CNI ADD in a thread, meanwhile] output FIFOs held by the log
             collector → task created (IO: FIFOs tee-ing to the JSON log, or the collector's FIFOs)
             → [ADD awaited, or done now on /proc/<pid>/ns/net] → Wait issued → Start
    reap:    netns unpinned → CNI DEL → task deleted → exit code and time saved in labels
    remove:  (kill) → reap → snapshot removed → record deleted → volumes released → name released
             (a foreground --rm run: its netns unpinned and CNI DEL last, in a thread, while its exit
             is reported)
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ctrd.errors import (
    Conflict,
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchError,
    PouchRuntimeError,
    Timeout,
)
from managers import records as rec
from managers.console import Stdio
from managers.containerpaths import ContainerPaths
from managers.filters import parse_filters
from managers.labels import LABEL
from managers.names import resolve, validate_name
from managers.resolver import ContainerResolver, name_of

if TYPE_CHECKING:
    from managers import Managers
    from managers.cplimits import CopyLimits
    from managers.foreground import Foreground
    from managers.imagecache import ImageCache
    from managers.lifecycle import Lifecycle
    from managers.options import CreateOptions

__all__ = ["ContainerManager", "Stdio"]

#: how long ``ps`` waits for the watch cache to catch up before it lists instead
_SYNC_TIMEOUT = 1.0
#: ``ps``/``container prune`` ``--filter`` keys (before/since/until order containers by creation time)
FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "volume", "network", "before", "since", "until",
           "health")


class ContainerManager:
    """``ctx.managers.containers``. Every method takes container references as a name, an id or a
    unique id prefix, and returns records (dicts) with the fields documented in managers.records.

    The collaborators are built here and given to each other explicitly: ``paths``, ``resolver``,
    ``images`` (the image cache), ``lifecycle`` (given the three before it) and ``foreground`` (given
    the life cycle). cp's and top's host side is managers.hostside. The last three are built on first
    use, and the modules behind them (option parsing, the name generator, the spec's pieces) imported
    then: ``ps``, ``inspect`` of a running container and ``logs`` need none of them, and a fresh
    ``ps -a`` saved ≈ 15 ms of imports (docs/PERFORMANCE.md)."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade
        self.paths = ContainerPaths(facade)
        self.resolver = ContainerResolver(facade, self.paths)

    @cached_property
    def images(self) -> ImageCache:
        from managers.imagecache import ImageCache

        return ImageCache(self.facade)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        from managers.lifecycle import Lifecycle

        return Lifecycle(self.facade, self.paths, self.resolver, self.images)

    @cached_property
    def foreground(self) -> Foreground:
        from managers.foreground import Foreground

        return Foreground(self.facade, self.paths, self.lifecycle)

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    def resolve(self, ref: Any) -> str:
        """The id of the container ``ref`` names (an id, a name, a unique id prefix or a record)."""
        return self.resolver.resolve(ref)

    def reconcile_intent(self, record: dict[str, Any]) -> None:
        """A create or rm killed half-way (managers.intents): see Lifecycle.reconcile_intent; a commit
        killed while its container was paused: see managers.commit.reconcile_intent."""
        if record.get("kind") == "container.commit":
            from managers import commit

            commit.reconcile_intent(self, record)
            return
        self.lifecycle.reconcile_intent(record)

    # -- queries ----------------------------------------------------------------------------------

    def list(
        self,
        *,
        all: bool = False,
        last: int | None = None,
        latest: bool = False,
        filters: Iterable[str] = (),
        no_trunc: bool = False,
        quiet: bool = False,
    ) -> builtins.list[Any]:
        """``ps``: running and paused containers (``all`` for every one), newest first.

        In a long-lived process that keeps ctrd's watch cache of this namespace (the REPL does), the
        containers and their tasks come from the cache, brought up to the moment of the call
        (``Watcher.sync``; this process's own task calls are written through to it at once, other
        processes' task changes arrive with their shims' events); otherwise Containers.List, whose reply
        carries every OCI spec, and Tasks.List, which asks every shim for its task's state."""
        parsed = _parse_filters(filters)
        cached = self._cached_state()
        if cached is None:
            listed_tasks = self.client.tasks.list_later()  # containerd answers it while we decode below
            containers: builtins.list[Any] = self.client.containers.list()
            # Tasks.List names each init process by ``id`` and leaves ``container_id`` empty.
            tasks: Mapping[str, Any] = {t.container_id or t.id: t for t in listed_tasks()}
        else:
            containers, tasks = builtins.list(cached.containers.values()), cached.tasks
        now = time.time()
        if latest:
            last = 1
        rows: builtins.list[tuple[Any, dict[str, Any]]] = []
        for c in containers:
            record = rec.build_record(c, tasks.get(c.id), now=now, trunc=not no_trunc)
            rows.append((c, record))
        rows.sort(key=lambda r: r[1]["created"] or "", reverse=True)
        if last is not None:
            if last < 0:
                raise InvalidArgument("--last must not be negative")
            rows = rows[:last]
        elif not all and "status" not in parsed:
            rows = [r for r in rows if r[1]["status"] in ("running", "paused")]
        rows = [r for r in rows if rec.matches_filters(r[1], r[0], parsed)]
        rows = _before_since(rows, parsed, containers)
        if quiet:
            return [record["id"] for _, record in rows]
        return [record for _, record in rows]

    def _cached_state(self) -> Any | None:
        """The running watch cache's snapshot (``ctrd.watch.CacheSnapshot``), current as of now; None
        without one (or when it cannot catch up: the caller lists instead)."""
        watcher = self.client.watcher()
        if watcher is None:
            return None
        try:
            return watcher.sync(_SYNC_TIMEOUT)
        except PouchError:
            return None

    def inspect(self, ref: str) -> dict[str, Any]:
        """Everything about one container (the ``ps`` record plus times, process, log path and spec)."""
        c = self.resolver.get(ref)
        task = self.resolver.task(c.id)
        created = self.lifecycle.runc_created(c.id) if task is not None and task.status == "stopped" else None
        record = rec.inspect_record(c, task, task_created=created)
        if record["status"] in ("running", "paused"):
            record["network_settings"] = self.facade.networks.networks_of(c.id)
        # What was asked at create that the spec and labels do not say as docker does (sysctls, devices,
        # security options, tunables): in the record, so that managers.dockershapes finds them there for
        # the shell's --format and pouchd's answer alike (a fanned-out record brings its own context's).
        options = self.create_options(c.id)
        record["create_options"] = dataclasses.asdict(options) if options is not None else None
        return record

    def create_options(self, container_id: str) -> CreateOptions | None:
        """The options a container was created with (its state directory keeps them); None for one an
        older pouchsh made, or whose file cannot be read."""
        from managers.options import OPTIONS_FILE, CreateOptions

        try:
            return CreateOptions.from_json((self.paths.state_dir(container_id) / OPTIONS_FILE).read_text())
        except (OSError, ValueError, TypeError, KeyError):
            return None

    # -- create -----------------------------------------------------------------------------------

    def create(self, opts: CreateOptions) -> dict[str, Any]:
        """``create``: make the container (nothing runs). Returns its record."""
        c, _plan, _rootfs = self.lifecycle.create(opts)
        return rec.build_record(c, None)

    # -- run / start ------------------------------------------------------------------------------

    def run(
        self, opts: CreateOptions, *, detach: bool, stdio: Stdio | None = None, remove_later: bool = False
    ) -> dict[str, Any] | int:
        """``run``: create and start. Detached: the record. In the foreground: the exit status, after
        streaming the output to ``stdio`` (and removing the container with ``--rm``; after returning,
        with ``remove_later``: the caller settles first whatever reads containers, managers.deferred).

        If the container cannot be started (a command missing from the image, a port taken), it is
        removed again with everything made for it.
        """
        from managers.foreground import Stopped
        from managers.lifecycle import quiet

        if detach and opts.rm and opts.restart != "no":
            raise InvalidArgument("--rm and --restart cannot be combined")
        # The start holds the task's FIFOs through the log collector (ctrd.logd): one that must be started
        # comes up while the container is made (one datagram when it runs).
        self.lifecycle.notify_collector(None)
        c, plan, rootfs = self.lifecycle.create(opts)
        started: builtins.list[bool] = []
        removal = None
        try:
            if detach:
                self.lifecycle.start_detached(c, plan, rootfs)
                try:
                    return self.resolver.record(c.id)
                except NotFound:
                    raise NotFound(f"container {name_of(c)} was removed while starting") from None
            if stdio is None:
                raise InvalidArgument("run without -d needs standard streams")
            removal = self.lifecycle.auto_removal(c) if opts.rm else None
            try:
                code = self.foreground.run(c, plan, stdio, interactive=opts.interactive, started=started, rootfs=rootfs)
            except Stopped as stopped:
                self.lifecycle.finish(c, opts.rm, removal=removal)
                raise Interrupted(f"container {name_of(c)} stopped (exit status {stopped.status})") from None
            self.lifecycle.finish(c, opts.rm, removal=removal, later=remove_later)
            return code
        except BaseException:
            if not started or detach:
                quiet(self.lifecycle.destroy, c, True, intent=removal)
            elif removal is not None:
                self.lifecycle.leave_to_waiter(c, removal)
            raise

    def start(self, refs: builtins.list[str], *, attach: bool = False, interactive: bool = False, stdio: Stdio | None = None) -> Any:
        """``start``: start created or exited containers. With ``attach`` (one container) runs it in the
        foreground like ``run`` and returns its exit status; otherwise the records."""
        if attach or interactive:
            if len(refs) != 1:
                raise InvalidArgument("start -a/-i takes exactly one container")
            if stdio is None:
                raise InvalidArgument("start -a needs standard streams")
            return self.start_attached(refs[0], stdio, interactive=interactive, on_started=lambda: None)
        out = []
        for found in self.resolver.get_all(refs):
            c = self.lifecycle.prepare_start(found)
            if c is not None:
                self.lifecycle.start_detached(c, self.lifecycle.plan_for(c))
            out.append(self.resolver.record(found.id))
        return out

    def start_attached(
        self, ref: str, stdio: Stdio, *, interactive: bool, on_started: Callable[[], None]
    ) -> int:
        """``start -a`` for a caller that answers the start before the exit (pouchd: an API client
        attached first, then asks to start): ``on_started`` runs once the task is running, the exit
        status is returned when it ends. An auto-remove container is removed after it, or when it
        cannot be started at all."""
        from managers.foreground import Stopped
        from managers.lifecycle import quiet

        c = self.lifecycle.prepare_start(self.resolver.get(ref))
        if c is None:
            raise Conflict(f"container {ref} is already running")
        auto_remove = c.labels.get(LABEL.AUTO_REMOVE) == "true"
        removal = self.lifecycle.auto_removal(c) if auto_remove else None
        started = _Started(on_started)
        try:
            code = self.foreground.run(c, self.lifecycle.plan_for(c), stdio, interactive=interactive, started=started)
        except Stopped as stopped:
            self.lifecycle.finish(c, auto_remove, removal=removal)
            raise Interrupted(f"container {name_of(c)} stopped (exit status {stopped.status})") from None
        except BaseException:
            if removal is not None and not started:
                quiet(self.lifecycle.destroy, c, True, intent=removal)
            elif removal is not None:
                self.lifecycle.leave_to_waiter(c, removal)
            raise
        self.lifecycle.finish(c, auto_remove, removal=removal)
        return code

    def hand_off_auto_remove(self, ref: str) -> None:
        """Leave the removal of an auto-remove container to the background waiter (managers.autoremove),
        for a foreground owner that goes away before the container ends (pouchd stopping)."""
        self.lifecycle.remove_when_done(self.resolver.get(ref))

    def resize(self, ref: str, width: int, height: int, *, exec_id: str | None = None) -> None:
        """Set the terminal size of a running container's (or one of its execs') pty."""
        if width <= 0 or height <= 0 or width > 65535 or height > 65535:
            raise InvalidArgument(f"resize: bad terminal size {width}x{height}")
        c = self.resolver.get(ref)
        task = self.resolver.task(c.id)
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"container {name_of(c)} is not running")
        self.client.tasks.resize_pty(c.id, width, height, exec_id=exec_id)

    # -- stop, kill, pause ------------------------------------------------------------------------

    def stop(self, refs: builtins.list[str], *, timeout: int | None = None, signal: str | None = None) -> builtins.list[dict[str, Any]]:
        """``stop``: the stop signal, then SIGKILL after ``timeout`` seconds (the container's
        --stop-timeout, default 10). Stopped containers release their network and task."""
        out = []
        for c in self.resolver.get_all(refs):
            self.lifecycle.stop(c, timeout=timeout, signal=signal)
            out.append(self.resolver.record(c.id))
        return out

    def restart(self, refs: builtins.list[str], *, timeout: int | None = None) -> builtins.list[dict[str, Any]]:
        out = []
        for c in self.resolver.get_all(refs):
            self.lifecycle.stop(c, timeout=timeout)
            c = self.client.containers.get(c.id)
            self.lifecycle.start_detached(c, self.lifecycle.plan_for(c))
            out.append(self.resolver.record(c.id))
        return out

    def kill(self, refs: builtins.list[str], *, signal: str = "SIGKILL") -> builtins.list[dict[str, Any]]:
        """``kill``: send ``signal`` to each running container's main process."""
        from managers.options import parse_signal

        name, _ = parse_signal(signal, "--signal")
        out = []
        for c in self.resolver.get_all(refs):
            task = self.resolver.task(c.id)
            if task is None or task.status not in ("running", "paused"):
                raise Conflict(f"container {name_of(c)} is not running")
            if name in ("SIGKILL", "SIGTERM"):
                self.lifecycle.set_restart_status(c, "stopped")
            self.client.tasks.kill(c.id, name)
            out.append(self.resolver.record(c.id))
        return out

    def pause(self, refs: builtins.list[str]) -> builtins.list[dict[str, Any]]:
        return [self._pause(c, True) for c in self.resolver.get_all(refs)]

    def unpause(self, refs: builtins.list[str]) -> builtins.list[dict[str, Any]]:
        return [self._pause(c, False) for c in self.resolver.get_all(refs)]

    def _pause(self, c: Any, pause: bool) -> dict[str, Any]:
        task = self.resolver.task(c.id)
        status = task.status if task is not None else None
        if pause and status != "running":
            raise Conflict(f"container {name_of(c)} is not running")
        if not pause and status not in ("paused", "pausing"):
            raise Conflict(f"container {name_of(c)} is not paused")
        (self.client.tasks.pause if pause else self.client.tasks.resume)(c.id)
        return self.resolver.record(c.id)

    # -- remove -----------------------------------------------------------------------------------

    def remove(self, refs: builtins.list[str], *, force: bool = False, volumes: bool = False) -> builtins.list[str]:
        """``rm``: remove containers (running ones only with ``force``); returns their ids."""
        removed = []
        for c in self.resolver.get_all(refs):
            task = self.resolver.task(c.id)
            status = task.status if task is not None and task.pid else "stopped"
            if status in ("running", "paused", "pausing", "created") and not force:
                raise Conflict(f"container {name_of(c)} is {status}: stop it first or use rm -f")
            self.lifecycle.destroy(c, volumes)
            removed.append(c.id)
        return removed

    def prune(self, *, filters: Iterable[str] = ()) -> dict[str, Any]:
        """``container prune``: remove every stopped container (created or exited)."""
        parsed = _parse_filters(filters)
        until = parsed.pop("until", None)
        rows = self.list(all=True, no_trunc=True)
        containers = {c.id: c for c in self.client.containers.list()}
        deleted = []
        reclaimed = 0
        for record in rows:
            c = containers.get(record["id"])
            if c is None or record["status"] not in ("exited", "created"):
                continue
            if not rec.matches_filters(record, c, {k: v for k, v in parsed.items() if k == "label"}):
                continue
            if until and not _created_before(record, until[0]):
                continue
            try:
                reclaimed += self.client.snapshots.usage(c.snapshot_key or c.id).size
            except PouchError:
                pass
            self.lifecycle.destroy(c, False)
            deleted.append(c.id)
        return {"deleted": deleted, "count": len(deleted), "space_reclaimed": reclaimed}

    # -- wait, rename, update ---------------------------------------------------------------------

    def wait(self, refs: builtins.list[str], *, cancel: threading.Event | None = None) -> builtins.list[int]:
        """``wait``: block until each container exits; their exit statuses."""
        from managers.foreground import POLL

        cancel = cancel or threading.Event()
        codes = []
        for c in self.resolver.get_all(refs):
            task = self.resolver.task(c.id)
            if task is None:
                code = c.labels.get(LABEL.EXIT_CODE)
                if code is None:
                    raise Conflict(f"container {name_of(c)} has not been started")
                codes.append(int(code))
                continue
            future = self.client.tasks.wait(c.id)
            while True:
                if cancel.is_set():
                    future.cancel()
                    raise Interrupted("wait interrupted")
                try:
                    codes.append(future.result(timeout=POLL).exit_status)
                    break
                except Timeout:
                    continue
        return codes

    def rename(self, ref: str, new_name: str) -> dict[str, Any]:
        """``rename``: give a container a new name (the old one is free again)."""
        validate_name(new_name)
        c = self.resolver.get(ref)
        old = c.labels.get(LABEL.NAME)
        if old == new_name:
            raise Conflict(f"container is already named {new_name}")
        store = self.resolver.names()
        reservation = store.reserve(new_name, c.id)
        try:
            # the peers' /etc/hosts on user networks follow the new name (managers.networks)
            self.facade.networks.rename(
                c.id, new_name, lambda: self.client.containers.update(c.id, labels={LABEL.NAME: new_name}))
        except BaseException:
            reservation.release()
            raise
        reservation.commit()
        if old:
            store.release(old, c.id)
        return self.resolver.record(c.id)

    def update(
        self,
        refs: builtins.list[str],
        *,
        memory: int | None = None,
        cpus: float | None = None,
        pids_limit: int | None = None,
        restart: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """``update``: change resource limits (applied to a running task at once) or the restart policy."""
        from managers.options import CreateOptions

        probe = CreateOptions.parse("-", memory=memory, cpus=cpus, pids_limit=pids_limit, restart=restart)
        if memory is None and cpus is None and pids_limit is None and restart is None:
            raise InvalidArgument("update: nothing to change (give --memory, --cpus, --pids-limit or --restart)")
        out = []
        for c in self.resolver.get_all(refs):
            spec = dict(c.spec)
            resources = dict((spec.get("linux") or {}).get("resources") or {})
            if probe.memory is not None:
                resources["memory"] = {**resources.get("memory", {}), "limit": probe.memory}
            if probe.cpus is not None:
                resources["cpu"] = {**resources.get("cpu", {}), "quota": int(probe.cpus * 100_000), "period": 100_000}
            if probe.pids_limit is not None:
                resources["pids"] = {"limit": probe.pids_limit}
            spec["linux"] = {**(spec.get("linux") or {}), "resources": resources}
            labels: dict[str, str | None] = {}
            if restart is not None:
                labels[LABEL.RESTART] = probe.restart
                if probe.restart == "no":
                    labels[LABEL.RESTART_STATUS] = None
            task = self.resolver.task(c.id)
            if task is not None and task.status in ("running", "paused") and (memory, cpus, pids_limit) != (None, None, None):
                _update_task(self.client, c.id, resources)
            self.client.containers.update(c.id, spec=spec, labels=labels or None)
            if restart is not None and probe.restart != "no" and task is not None and task.status == "running":
                uri = self.lifecycle.restart_log_uri(c, c.labels.get(LABEL.TTY) == "true")
                self.client.containers.update(c.id, labels={LABEL.RESTART_STATUS: "running", LABEL.RESTART_LOGURI: uri})
            out.append(self.resolver.record(c.id))
        return out

    # -- logs, top, port --------------------------------------------------------------------------

    def logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: Any = None,
        until: Any = None,
        timestamps: bool = False,
        cancel: threading.Event | None = None,
    ) -> Any:
        """``logs``: the container's output as text (``follow``: an iterator of lines as they come)."""

        def show(entry: Any) -> str:
            return f"{entry.stamp} {entry.text}" if timestamps else entry.text

        entries = self.log_entries(ref, follow=follow, tail=tail, since=since, until=until, cancel=cancel)
        if not follow:
            return "".join(show(e) for e in entries)
        return (show(entry).removesuffix("\n") for entry in entries)

    def log_entries(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: Any = None,
        until: Any = None,
        cancel: threading.Event | None = None,
        from_now: bool = False,
    ) -> Iterable[Any]:
        """The container's log as ``managers.logs.LogEntry`` (stream, text, time, stamp), oldest first:
        a list, or with ``follow`` an iterator that goes on until the container stops or ``cancel``.
        ``from_now`` (with ``follow``): only what is written from this call on, including what waits
        in its FIFOs now (the log's end is taken before the collector drains them)."""
        from managers.logs import follow_entries, read_entries  # off the `ps` path
        from managers.times import parse_time

        c = self.resolver.get(ref)
        path = c.labels.get(LABEL.LOG_PATH) or str(self.paths.log_path(c.id))
        if from_now and follow:
            entries = follow_entries(path, tail=0, running=self._running_or_synced(c), cancel=cancel)
            self.lifecycle.sync_log(c)
            return entries
        self.lifecycle.sync_log(c)  # what waits in its FIFOs (a collector killed or slow) first
        since_ns = parse_time(since, "--since")
        until_ns = parse_time(until, "--until")
        if tail is not None and tail < 0:
            tail = None
        if not follow:
            return read_entries(path, tail=tail, since=since_ns, until=until_ns)
        return follow_entries(path, tail=tail, since=since_ns, until=until_ns, running=self._running_or_synced(c),
                              cancel=cancel)

    def _running_or_synced(self, c: Any) -> Callable[[], bool]:
        """A log follower's ``running``: whether ``c``'s task still runs; once not, its last output is
        in the log before the follower's last look at the file."""

        def running() -> bool:
            task = self.resolver.task(c.id)
            alive = task is not None and task.status in ("running", "paused", "pausing", "created")
            if not alive:
                self.lifecycle.sync_log(c)
            return alive

        return running

    def stats(self, refs: builtins.list[str], *, all: bool = False) -> builtins.list[dict[str, Any]]:
        """One resource-use sample per container (managers.stats.sample: cgroup figures from one
        Tasks.Metrics call, network counters from the host's /proc); the running ones without ``refs``."""
        from managers import stats

        return stats.sample(self, refs, all=all)

    def top(self, ref: str, ps_args: builtins.list[str] | None = None) -> builtins.list[dict[str, Any]]:
        """``top``: the container's processes as docker's (the host's ``ps -ef`` columns, hostside.TOP_COLUMNS)
        read from the host's /proc, or the table of the host's ``ps ARGS`` when given."""
        from managers.hostside import _proc_row, _ps_table

        c = self.resolver.get(ref)
        task = self.resolver.task(c.id)
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"container {name_of(c)} is not running")
        pids = self.client.tasks.pids(c.id)
        if ps_args:
            return _ps_table(ps_args, pids)
        return [row for row in map(_proc_row, pids) if row is not None]

    def port(self, ref: str, private_port: str | None = None) -> builtins.list[dict[str, Any]]:
        """``port``: the published ports ({container_port, protocol, host_ip, host_port})."""
        c = self.resolver.get(ref)
        ports = rec.ports_of(c)
        if private_port:
            number, _, proto = str(private_port).partition("/")
            if not number.isdigit():
                raise InvalidArgument(f"port {private_port!r}: expected PORT[/PROTO]")
            ports = [p for p in ports if int(p["container_port"]) == int(number) and (not proto or p["protocol"] == proto)]
            if not ports:
                raise NotFound(f"no public port {private_port} published for {name_of(c)}")
        return ports

    # -- exec -------------------------------------------------------------------------------------

    def exec(
        self,
        ref: str,
        args: builtins.list[str],
        *,
        detach: bool = False,
        interactive: bool = False,
        tty: bool = False,
        env: builtins.list[str] = (),  # type: ignore[assignment]
        workdir: str | None = None,
        user: str | None = None,
        privileged: bool = False,
        stdio: Stdio | None = None,
        exec_suffix: str | None = None,
    ) -> Any:
        """``exec``: run a process in a running container, based on its own process spec (user,
        capabilities, rlimits carry over). Foreground: the exit status; ``detach``: {exec_id, pid}.
        ``exec_suffix`` (hex) names the process instead of a random one, so a caller can resize it
        (``exec_process_id``)."""
        import secrets

        from ctrd.stdio import NullIO
        from managers.launch import exec_failures
        from managers.lifecycle import quiet
        from managers.spec import current_caps, merge_env, resolve_user  # off the `ps` path

        if not args:
            raise InvalidArgument("exec: a command is required")
        c = self.resolver.get(ref)
        task = self.resolver.task(c.id)
        if task is None or task.status != "running":
            raise Conflict(f"container {name_of(c)} is not running")
        process = dict(c.spec.get("process") or {})
        process["args"] = [str(a) for a in args]
        process["terminal"] = bool(tty) and not detach
        base_env = list(process.get("env") or [])
        if process["terminal"] and not any(e.startswith("TERM=") for e in base_env):
            base_env.append("TERM=xterm")  # as docker exec -t
        process["env"] = merge_env(base_env, list(env))
        if workdir:
            if not workdir.startswith("/"):
                raise InvalidArgument(f"--workdir {workdir}: must be an absolute path")
            process["cwd"] = workdir
        if user:
            from managers import rootfs

            with rootfs.process_root(task.pid) as root:
                process["user"] = resolve_user(user, lambda p: rootfs.read_in_root(root, p))
        if privileged:
            process["capabilities"] = {k: current_caps() for k in ("bounding", "effective", "permitted")}
            process["noNewPrivileges"] = False
        exec_id = exec_process_id(c.id, exec_suffix or secrets.token_hex(6))
        tasks = self.client.tasks
        if detach:
            tasks.exec(c.id, exec_id, process, io=NullIO())
            future = tasks.wait(c.id, exec_id)
            try:
                with exec_failures(f"exec in {name_of(c)}"):
                    pid = tasks.start(c.id, exec_id)
            except PouchError:
                quiet(tasks.delete_process, c.id, exec_id)
                raise
            future.add_done_callback(lambda _f: quiet(tasks.delete_process, c.id, exec_id))
            return {"id": c.id, "exec_id": exec_id, "pid": pid}
        if stdio is None:
            raise InvalidArgument("exec without -d needs standard streams")
        return self.foreground.exec(c, exec_id, process, stdio, interactive=interactive)

    # -- cp ---------------------------------------------------------------------------------------

    def copy(
        self, source: str, destination: str, *, cwd: str = ".", stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None, follow_link: bool = False,
    ) -> dict[str, Any]:
        """``cp``: copy between the host and a container; one side is ``CONTAINER:PATH``. ``-`` as the
        host side is a tar stream: written to ``stdout``, or read from ``stdin`` and extracted into a
        directory of the container. The container's side is read and written by this process through
        descriptors resolved inside its root (managers.cpout, managers.cpin); out of it, links stay
        links (``follow_link``: the one at the source path is followed, inside the root) and the host
        side is written into a temporary sibling renamed at the end (managers.cphost)."""
        import tempfile

        # The tar side (tarfile with it, ~4.5 ms of imports by -X importtime) loads only for a copy.
        from managers import cphost, cpin, cpout
        from managers.cplimits import CopyLimits
        from managers.hostside import _split_cp, _tar_host

        limits = CopyLimits.from_env()
        src_ref, src_path = _split_cp(source)
        dst_ref, dst_path = _split_cp(destination)
        if (src_ref is None) == (dst_ref is None):
            raise InvalidArgument("cp: exactly one of source and destination must be CONTAINER:PATH")
        if src_ref is not None:
            c = self.resolver.get(src_ref)
            if destination == "-" and stdout is None:
                raise InvalidArgument("cp: no standard output to write the tar stream to")
            # To standard output the stream goes as it is made, while the container's root is held; to a
            # host path it is spooled first (in memory while small), so the root is held only while read.
            with tempfile.SpooledTemporaryFile(max_size=8 << 20) as buffer:
                sink: BinaryIO = stdout if destination == "-" and stdout is not None else buffer  # type: ignore[assignment]
                with self._container_root(c) as root, _cp_errors(src_path):
                    size = cpout.tar_from(root, src_path, sink, limits, follow_link=follow_link)
                    sink.flush()
                if destination == "-":
                    target = "-"
                else:
                    buffer.seek(0)
                    with _cp_host_errors(destination):
                        target = str(cphost.extract_on_host(buffer, Path(cwd, destination), self.facade.root))  # type: ignore[arg-type]
            return {"container": c.id, "source": src_path, "destination": target, "size": size}
        c = self.resolver.get(dst_ref or "")
        if source == "-":
            if stdin is None:
                raise InvalidArgument("cp: no standard input to read the tar stream from")
            data, origin = _spool(stdin, limits), "-"
        else:
            host = Path(cwd, source)
            if not os.path.lexists(host):
                raise NotFound(f"cp: no such file or directory: {source}")
            data, origin = io.BytesIO(_tar_host(host)), str(host)
        with data, self._container_root(c, writable=True) as root, _cp_errors(dst_path):
            size = cpin.untar_into(root, dst_path, data, limits, rename=source != "-")
        return {"container": c.id, "source": origin, "destination": dst_path, "size": size}

    def export(self, ref: str, out: BinaryIO) -> dict[str, Any]:
        """``export``: the container's own filesystem as a tar stream written to ``out`` as it is made,
        running or not. Its snapshot only (no volumes, binds, /proc or /sys, as docker's export), read
        through a read-only view of its layers mounted detached (managers.rootfs), every entry opened
        inside it without following links (managers.cpout)."""
        from managers import cpout, rootfs  # tarfile and ctypes, only for an export
        from managers.cplimits import CopyLimits

        c = self.resolver.get(ref)
        limits = CopyLimits.from_env()
        mounts = self.client.snapshots.mounts(c.snapshot_key or c.id)
        with rootfs.snapshot_root(mounts, view=True) as root, _cp_errors("/"):
            size = cpout.tar_tree(root, out, limits)
            out.flush()
        return {"container": c.id, "size": size}

    def diff(self, ref: str) -> builtins.list[dict[str, str]]:
        """``diff``: what the container changed in its filesystem, {kind: A|C|D, path} (managers.fsdiff,
        which reads its overlay's directories without following anything in them)."""
        from managers import fsdiff

        c = self.resolver.get(ref)
        upper, lowers = fsdiff.overlay_dirs(self.client.snapshots.mounts(c.snapshot_key or c.id))
        try:
            mountpoints = [m.get("destination", "") for m in (c.spec or {}).get("mounts") or [] if isinstance(m, dict)]
            return fsdiff.changes(upper, lowers, mountpoints=mountpoints)
        except OSError as e:
            raise PouchRuntimeError(f"diff {name_of(c)}: {os.strerror(e.errno or 0)}") from None

    def commit(
        self, ref: str, repository: str | None = None, *, changes: builtins.list[str] = (),  # type: ignore[assignment]
        message: str = "", author: str = "", pause: bool = True,
    ) -> dict[str, Any]:
        """``commit``: a new image of the container's changes over its image (managers.commit)."""
        from managers import commit

        return commit.commit(self, ref, repository, changes=list(changes), message=message, author=author, pause=pause)

    def attach(
        self, ref: str, stdio: Stdio, *, no_stdin: bool = False, sig_proxy: bool = True,
        detach_keys: str = "ctrl-p,ctrl-q",
    ) -> int:
        """``attach``: the running container's output from now on, and input into a ``-i -t`` one,
        until it exits or the detach keys (managers.attach)."""
        from managers import attach

        return attach.attach(self, ref, stdio, no_stdin=no_stdin, sig_proxy=sig_proxy, detach_keys=detach_keys)

    def _container_root(self, c: Any, *, writable: bool = False) -> Any:
        from managers import rootfs  # with ctypes, off the `ps` path

        task = self.resolver.task(c.id)
        if task is not None and task.status in ("running", "paused") and task.pid:
            return rootfs.process_root(task.pid)
        mounts = self.client.snapshots.mounts(c.snapshot_key or c.id)
        return rootfs.snapshot_root(mounts, readonly=not writable)


# -- helpers ------------------------------------------------------------------------------------------


@contextmanager
def _cp_errors(path: str) -> Iterator[None]:
    """An OSError of a copy as the error kind it is, naming the container's path (never a traceback)."""
    try:
        yield
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else "input/output error"
        if e.errno == errno.ENOENT:
            raise NotFound(f"cp: no such file or directory in the container: {path}") from None
        if e.errno in (errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST, errno.EINVAL, errno.ENOTEMPTY):
            raise InvalidArgument(f"cp: {path}: {reason}") from None
        raise PouchRuntimeError(f"cp: {path}: {reason}") from None


@contextmanager
def _cp_host_errors(path: str) -> Iterator[None]:
    """An OSError writing the host side of a copy, naming the host path."""
    try:
        yield
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        if e.errno == errno.ENOENT:
            raise NotFound(f"cp: {path}: {reason}") from None
        raise PouchRuntimeError(f"cp: {path}: {reason}") from None


def _spool(stdin: BinaryIO, limits: CopyLimits) -> BinaryIO:
    """``cp -``'s tar stream in a temporary file (it is read twice: checked whole, then extracted), at
    most the content bound plus room for the headers of as many members."""
    import tempfile

    cap = limits.bytes + limits.members * 2048
    out = tempfile.TemporaryFile()
    total = 0
    while chunk := stdin.read(1 << 20):
        total += len(chunk)
        if total > cap:
            out.close()
            raise InvalidArgument(f"cp: the tar stream is larger than {cap} bytes (POUCHSH_CP_MAX_BYTES)")
        out.write(chunk)
    out.seek(0)
    return out


def _update_task(client: Any, cid: str, resources: dict[str, Any]) -> None:
    """Tasks.Update with new LinuxResources (ctrd.tasks has no wrapper for it)."""
    from ctrd.api.services.tasks.v1 import tasks_pb2
    from ctrd.containers import spec_any

    request = tasks_pb2.UpdateTaskRequest(
        container_id=cid,
        resources=spec_any(resources, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"),
    )
    client.call(client.tasks.stub.Update, request, f"task update {cid}")


def _parse_filters(items: Iterable[str]) -> dict[str, list[str]]:
    out = parse_filters(items, FILTERS, "containers")
    for value in out.get("status", []):
        if value not in ("created", "running", "paused", "exited"):
            raise InvalidArgument(f"--filter status={value}: expected created, running, paused or exited")
    return out


def _before_since(rows: list[tuple[Any, dict[str, Any]]], filters: dict[str, list[str]], containers: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    for key in ("before", "since"):
        for ref in filters.get(key, []):
            entries = [(c.id, c.labels.get(LABEL.NAME, "")) for c in containers]
            pivot = next(c for c in containers if c.id == resolve(ref, entries))
            if key == "before":
                rows = [r for r in rows if r[0].created_at < pivot.created_at]
            else:
                rows = [r for r in rows if r[0].created_at > pivot.created_at]
    return rows


def _created_before(record: dict[str, Any], until: str) -> bool:
    from managers.times import parse_time

    limit = parse_time(until, "--filter until")
    created = rec._parse_iso(record["created"])
    return limit is not None and created is not None and created * 1e9 < limit


def exec_process_id(container_id: str, suffix: str) -> str:
    """The containerd process id of an exec (the container in it: see Lifecycle._remove_fifo_dirs)."""
    if not suffix.isalnum() or len(suffix) > 32:
        raise InvalidArgument(f"exec id suffix {suffix!r}: expected up to 32 letters and digits")
    return f"{container_id[:20]}-exec-{suffix}"


class _Started(builtins.list):  # type: ignore[type-arg]
    """The ``started`` flag list ``Foreground.run`` appends to once the task runs, calling back then."""

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self._callback = callback

    def append(self, item: Any) -> None:
        super().append(item)
        self._callback()
