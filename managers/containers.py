"""The container manager: docker's container verbs on containerd 1.6.

containerd is the source of truth: a container is a containerd container record whose labels under
``pouchsh/`` hold what pouchsh adds (name, restart policy, log path, network and volume choices), and its
task is the running part. ``list`` is one Containers.List plus one Tasks.List.

Life cycle, and what undoes what when a step fails (nothing half-made is left behind):

    create:  name reserved → network planned (files) → volumes made → [lease] snapshot prepared
             → container record created → [lease released] → name committed
    start:   task created (IO: FIFOs tee-ing to the JSON log, or the shim's binary:// logger)
             → CNI ADD on /proc/<pid>/ns/net → Wait issued → Start
    reap:    CNI DEL → task deleted → exit code and time saved in labels
    remove:  (kill) → reap → snapshot removed → record deleted → volumes released → name released
"""

from __future__ import annotations

import builtins
import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ctrd.errors import (
    AlreadyExists,
    Conflict,
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchError,
    PouchRuntimeError,
    Timeout,
)
from ctrd.private import private_dir
from managers import records as rec
from managers.console import Stdio, terminal_session
from managers.filters import parse_filters
from managers.names import NameStore, generate_name, new_id, resolve, validate_name
from managers.options import CreateOptions, parse_signal
from managers.records import LABEL

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["ContainerManager", "Stdio"]

DEFAULT_STOP_TIMEOUT = 10
#: how long ``ps`` waits for the watch cache to catch up before it lists instead
_SYNC_TIMEOUT = 1.0
_POLL = 0.2
#: ``ps``/``container prune`` ``--filter`` keys (before/since/until order containers by creation time)
FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "volume", "network", "before", "since", "until")


@dataclass(frozen=True)
class _Image:
    name: str
    target: str  # the digest the image record pointed at when resolved
    config: dict[str, Any]  # the OCI image config's "config" section (Env, Cmd, Entrypoint, ...)
    chain_id: str


#: Images resolved in this process, by (address, namespace, snapshotter, name, target digest): a run
#: of the same image again skips reading its manifest and config and checking its unpacked snapshot.
_IMAGES: dict[tuple[str, str, str, str, str | None], _Image] = {}
_IMAGES_MAX = 64
_IMAGES_LOCK = threading.Lock()  # par-each runs creates in threads


class ContainerManager:
    """``ctx.managers.containers``. Every method takes container references as a name, an id or a
    unique id prefix, and returns records (dicts) with the fields documented in managers.records."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    def _state_dir(self, cid: str) -> Path:
        return Path(self.facade.root) / "containers" / self.namespace / cid

    def _log_path(self, cid: str) -> Path:
        return self._state_dir(cid) / f"{cid}-json.log"

    @property
    def _runc_root(self) -> Path:
        """runc's state root for containers pouchsh creates (the shim adds ``/<namespace>``)."""
        return Path(self.facade.run_root) / "runc"

    def _lock_path(self, cid: str) -> Path:
        return Path(self.facade.run_root) / "locks" / self.namespace / cid

    @property
    def _fifo_root(self) -> Path:
        return Path(self.facade.run_root) / "fifo" / self.namespace

    def _names(self) -> NameStore:
        containers = self.client.containers

        def exists(cid: str) -> bool:
            try:
                containers.get(cid)
            except NotFound:
                return False
            return True

        return NameStore(Path(self.facade.root) / "names" / self.namespace, exists=exists)

    def _optional(self, attr: str) -> Any | None:
        """The volume or network manager, or None while that part of pouchsh is not built."""
        try:
            return getattr(self.facade, attr)
        except ImportError:
            return None

    def _task(self, cid: str) -> Any | None:
        try:
            return self.client.tasks.get(cid)
        except NotFound:
            return None

    def resolve(self, ref: str) -> str:
        """The id of the container ``ref`` names (an id, a name or a unique id prefix)."""
        ref = _ref_text(ref)
        if len(ref) == 64:
            try:
                return self.client.containers.get(ref).id
            except (NotFound, InvalidArgument):
                pass
        entries = [(c.id, c.labels.get(LABEL.NAME, "")) for c in self.client.containers.list()]
        return resolve(ref, entries)

    def _get(self, ref: str) -> Any:
        return self.client.containers.get(self.resolve(ref))

    def _get_all(self, refs: Iterable[Any]) -> builtins.list[Any]:
        """The containers ``refs`` name, all resolved before any is acted on, from at most one
        Containers.List (a pipeline of a hundred short ids is one call, not a hundred)."""
        texts = [_ref_text(r) for r in refs]
        if all(len(t) == 64 for t in texts):
            try:
                return [self.client.containers.get(t) for t in texts]
            except (NotFound, InvalidArgument):
                pass
        containers = self.client.containers.list()
        by_id = {c.id: c for c in containers}
        entries = [(c.id, c.labels.get(LABEL.NAME, "")) for c in containers]
        return [by_id[resolve(t, entries)] for t in texts]

    def _record(self, cid: str) -> dict[str, Any]:
        return rec.build_record(self.client.containers.get(cid), self._task(cid))

    # -- images -----------------------------------------------------------------------------------

    def _image(self, ref: str, pull: str) -> _Image:
        """The image to create from. A name already resolved in this process costs one Images.Get: the
        record must still exist and point at the same target, else it is resolved afresh (pulled,
        unpacked) as the first time."""
        key = self._image_key(ref) if pull != "always" else None
        if key is not None:
            try:
                target = self.client.images.get(key[-1]).target.digest
            except NotFound:
                target = None
            with _IMAGES_LOCK:
                cached = _IMAGES.get((*key, target))
            if cached is not None:
                return cached
        image = self._resolve_image(ref, pull)
        if key is not None and image.name == key[-1]:
            with _IMAGES_LOCK:
                if len(_IMAGES) >= _IMAGES_MAX:
                    del _IMAGES[next(iter(_IMAGES))]
                _IMAGES[(*key, image.target)] = image
        return image

    def _image_key(self, ref: str) -> tuple[str, str, str, str] | None:
        from managers.reference import normalize

        try:
            name = normalize(ref)
        except InvalidArgument:
            return None  # an image id or id prefix: resolved by the image manager each time
        return (self.client.address, self.namespace, self.facade.images.snapshotter, name)

    def _forget_image(self, image: _Image) -> None:
        with _IMAGES_LOCK:
            for key in [k for k, v in _IMAGES.items() if v is image]:
                del _IMAGES[key]

    def _resolve_image(self, ref: str, pull: str) -> _Image:
        info = self.facade.images.ensure(ref, pull=pull)
        cfg = info.config
        # The OCI image-spec spelling, which the spec builder reads (as containerd's WithImageConfig does).
        config: dict[str, Any] = {
            "Env": list(cfg.env),
            "Cmd": list(cfg.cmd) if cfg.cmd is not None else None,
            "Entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
            "WorkingDir": cfg.working_dir,
            "User": cfg.user,
            "StopSignal": cfg.stop_signal,
            "ExposedPorts": {p: {} for p in cfg.exposed_ports},
            "Volumes": {v: {} for v in cfg.volumes},
        }
        return _Image(name=info.name, target=info.target, config=config, chain_id=info.chain_id)

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
        containers come from the cache, brought up to the moment of the call (``Watcher.sync``), and
        only the tasks are listed; otherwise Containers.List, whose reply carries every OCI spec."""
        parsed = _parse_filters(filters)
        containers = self._cached_containers()
        if containers is None:
            containers = self.client.containers.list()
        # Tasks.List names each init process by ``id`` and leaves ``container_id`` empty.
        tasks = {t.container_id or t.id: t for t in self.client.tasks.list()}
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

    def _cached_containers(self) -> builtins.list[Any] | None:
        """The containers of the running watch cache, current as of now; None without one (or when it
        cannot catch up: the caller lists instead)."""
        watch = sys.modules.get("ctrd.watch")  # not imported: no watcher can be running
        if watch is None:
            return None
        watcher = watch.watching(self.client)
        if watcher is None:
            return None
        try:
            return list(watcher.sync(_SYNC_TIMEOUT).containers.values())
        except PouchError:
            return None

    def inspect(self, ref: str) -> dict[str, Any]:
        """Everything about one container (the ``ps`` record plus times, process, log path and spec)."""
        c = self._get(ref)
        record = rec.inspect_record(c, self._task(c.id))
        networks = self._optional("networks")
        if networks is not None and record["status"] in ("running", "paused"):
            record["network_settings"] = networks.networks_of(c.id)
        return record

    # -- create -----------------------------------------------------------------------------------

    def create(self, opts: CreateOptions) -> dict[str, Any]:
        """``create``: make the container (nothing runs). Returns its record."""
        c, _plan, _rootfs = self._create(opts)
        return rec.build_record(c, None)

    def _create(self, opts: CreateOptions) -> tuple[Any, Any, builtins.list[Any]]:
        """The container record, its network plan, and the rootfs mounts Snapshots.Prepare returned
        (a start right after needs no Snapshots.Mounts)."""
        image = self._image(opts.image, opts.pull)
        cid = new_id()
        undo: builtins.list[Callable[[], None]] = []
        try:
            reservation = self._reserve(opts.name, cid)
            undo.append(reservation.release)
            mode = opts.network or "bridge"
            hostname = opts.hostname or (socket.gethostname() if mode == "host" else cid[:12])
            plan = self._plan(cid, opts, image, hostname)
            if plan is not None:
                networks = self.facade.networks
                undo.append(lambda: networks.detach(cid))
            mounts, volume_names = self._volumes(cid, opts, image)
            if volume_names:
                volumes = self.facade.volumes
                undo.append(lambda: volumes.release(cid, volume_names, remove_anonymous=True))
            labels = self._labels(opts, image, cid, reservation.name, hostname, plan, volume_names)
            state_dir = self._state_dir(cid)
            undo.append(lambda: shutil.rmtree(state_dir, ignore_errors=True))
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.client.lease() as leased:
                try:
                    rootfs = leased.snapshots.prepare(cid, image.chain_id)
                except NotFound:
                    # The unpacked layers went away since this process cached the image: unpack again.
                    self._forget_image(image)
                    self._resolve_image(opts.image, opts.pull)
                    rootfs = leased.snapshots.prepare(cid, image.chain_id)
                undo.append(lambda: _quiet(self.client.snapshots.remove, cid))
                from managers.rootfs import read_layered
                from managers.spec import build_spec

                spec = build_spec(
                    opts,
                    namespace=self.namespace,
                    container_id=cid,
                    image_config=image.config,
                    read_file=lambda path: read_layered(rootfs, path),
                    hostname=hostname,
                    mounts=[*mounts, *(plan.spec_mounts if plan is not None else [])],
                    network_mode=plan.mode if plan is not None else "none",
                )
                if plan is not None and plan.mode == "container":
                    self._join_network(spec, plan.join)
                if plan is not None and plan.mode == "cni" and opts.restart != "no":
                    from managers.nethook import hooks

                    spec["hooks"] = hooks(self.client.address, self.namespace, Path(self.facade.root),
                                          Path(self.facade.run_root))
                    labels[LABEL.NET_HOOKS] = "true"
                labels.update(rec.summary_labels(spec, labels))
                container = leased.containers.create(
                    cid,
                    spec=spec,
                    image=image.name,
                    snapshot_key=cid,
                    labels=labels,
                    runtime=opts.runtime,
                    runtime_options=_runtime_options(opts.runtime, opts.runtime_binary, self._runc_root),
                )
                undo.append(lambda: _quiet(self.client.containers.delete, cid))
            reservation.commit()
            return container, plan, rootfs
        except BaseException:
            for step in reversed(undo):
                _quiet(step)
            raise

    def _reserve(self, name: str | None, cid: str) -> Any:
        store = self._names()
        if name is not None:
            return store.reserve(validate_name(name), cid)
        for _ in range(5):
            try:
                return store.reserve(generate_name(store.taken), cid)
            except AlreadyExists:
                continue  # another process took the generated name a moment ago
        raise Conflict("could not reserve a generated container name; give one with --name")

    def _plan(self, cid: str, opts: CreateOptions, image: _Image, hostname: str) -> Any | None:
        wanted = bool(opts.publish or opts.publish_all or opts.ip or opts.dns or opts.add_host)
        wanted = wanted or opts.network not in ("bridge", "", None)
        networks = self._optional("networks")
        if networks is None:
            if wanted:
                raise InvalidArgument("networking (--network, -p, -P, --ip, --dns, --add-host) is not available yet")
            return None
        return networks.plan(
            cid,
            network=opts.network or "bridge",
            ports=list(opts.publish),
            publish_all=opts.publish_all,
            exposed_ports=list((image.config.get("ExposedPorts") or {}).keys()),
            ip=opts.ip,
            hostname=hostname,
            dns=list(opts.dns),
            add_hosts=list(opts.add_host),
        )

    def _join_network(self, spec: dict[str, Any], other: str | None) -> None:
        task = self._task(other or "")
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"--network container:{other}: that container is not running")
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = f"/proc/{task.pid}/ns/net"
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] not in ("/etc/hosts", "/etc/resolv.conf")]

    def _volumes(self, cid: str, opts: CreateOptions, image: _Image) -> tuple[builtins.list[dict[str, Any]], builtins.list[str]]:
        image_volumes = list((image.config.get("Volumes") or {}).keys())
        wanted = opts.volumes or opts.mounts or opts.tmpfs or opts.volumes_from or image_volumes
        if not wanted:
            return [], []
        volumes = self._optional("volumes")
        if volumes is None:
            raise InvalidArgument("volumes (-v, --mount, --tmpfs, --volumes-from) are not available yet")
        mounts, names = volumes.container_mounts(
            cid,
            volumes=list(opts.volumes),
            mounts=list(opts.mounts),
            tmpfs=list(opts.tmpfs),
            image_volumes=image_volumes,
            volumes_from=list(opts.volumes_from),
        )
        return list(mounts), list(names)

    def _labels(
        self, opts: CreateOptions, image: _Image, cid: str, name: str, hostname: str, plan: Any | None,
        volumes: builtins.list[str],
    ) -> dict[str, str]:
        stop_signal = opts.stop_signal or image.config.get("StopSignal") or "SIGTERM"
        stop_signal = parse_signal(stop_signal, "--stop-signal")[0]
        labels = dict(opts.labels)
        labels.update({
            LABEL.NAME: name,
            LABEL.RESTART: opts.restart,
            LABEL.STOP_SIGNAL: stop_signal,
            LABEL.CONTAINERD_STOP_SIGNAL: stop_signal,
            LABEL.LOG_PATH: str(self._log_path(cid)),
            LABEL.HOSTNAME: hostname,
            LABEL.TTY: str(opts.tty).lower(),
            LABEL.INTERACTIVE: str(opts.interactive).lower(),
        })
        from ctrd.logger import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE

        size = opts.log_max_size or DEFAULT_MAX_SIZE
        files = opts.log_max_file if opts.log_max_size else DEFAULT_MAX_FILE
        labels[LABEL.LOG_OPTS] = f"max-size={size},max-file={files}"
        if opts.stop_timeout is not None:
            labels[LABEL.STOP_TIMEOUT] = str(opts.stop_timeout)
        if opts.rm:
            labels[LABEL.AUTO_REMOVE] = "true"
        if volumes:
            labels[LABEL.VOLUMES] = ",".join(volumes)
        if plan is not None:
            labels.update(plan.labels)
        else:
            labels[LABEL.NETWORK] = "none"
        return labels

    def _name_of(self, c: Any) -> str:
        return c.labels.get(LABEL.NAME) or c.id[:12]

    # -- starting and reaping tasks ----------------------------------------------------------------

    def _plan_for(self, c: Any) -> Any | None:
        """The network plan to start ``c`` with again (its hosts, resolv.conf and hostname files are
        written anew); None for a container created while networking was not available."""
        networks = self._optional("networks")
        if networks is None or LABEL.NETCONFIG not in c.labels:
            return None
        return networks.plan_from_labels(c.id, dict(c.labels))

    def _log_io(self, c: Any, tty: bool) -> Any:
        from ctrd.logger import binary_log_uri, logger_launcher
        from ctrd.stdio import LogIO

        size, files = _log_opts(c.labels)
        # The launcher lives in the data root, not the run root: containerd's restart monitor keeps this
        # URI in a label and uses it again after a reboot, which empties the run root.
        uri = binary_log_uri(
            c.labels.get(LABEL.LOG_PATH) or self._log_path(c.id), max_size=size, max_file=files,
            executable=logger_launcher(Path(self.facade.root) / "bin"),
        )
        return LogIO(uri, terminal=tty), uri

    def _start_task(
        self, c: Any, io: Any, plan: Any | None, on_created: Callable[[], None] | None = None,
        rootfs: builtins.list[Any] | None = None,
    ) -> Any:
        """Create the task, attach its network, issue Wait, start it. Undoes all of it on failure.

        Runs under the container's lock, which ``_destroy`` takes too: a removal by another process
        waits until the task is fully started (then kills and deletes it), or happens first (then
        Tasks.Create finds no container). Without it, a record deleted while its task was being created
        left a task containerd can no longer delete (Tasks.Delete needs the record): shim, runc init
        and logger kept running."""
        with _container_lock(self._lock_path(c.id)):
            try:
                return self._start_task_locked(c, io, plan, on_created, rootfs)
            except PouchError as err:
                if self._removed(c):
                    raise NotFound(f"container {self._name_of(c)} was removed while starting") from err
                raise

    def _removed(self, c: Any) -> bool:
        """Whether ``c``'s record is gone (another process removed it); False when containerd cannot say."""
        try:
            self.client.containers.get(c.id)
        except NotFound:
            return True
        except PouchError:
            return False
        return False

    def _start_task_locked(
        self, c: Any, io: Any, plan: Any | None, on_created: Callable[[], None] | None,
        rootfs: builtins.list[Any] | None,
    ) -> Any:
        cid = c.id
        tasks = self.client.tasks
        mounts = rootfs if rootfs is not None else self.client.snapshots.mounts(c.snapshot_key)
        networks = self._optional("networks") if plan is not None else None
        try:
            pid = tasks.create(cid, rootfs=mounts, io=io)
        except AlreadyExists:
            # A task half-made when containerd died during an earlier Tasks.Create: Tasks.Get calls it
            # not-found, but Tasks.Delete clears it (and says not-found too), so the create can go on.
            _quiet(tasks.delete, cid)
            pid = tasks.create(cid, rootfs=mounts, io=io)
        try:
            # With hooks (restartable containers) runc's createRuntime hook has attached it already.
            hooked = c.labels.get(LABEL.NET_HOOKS) == "true"
            if networks is not None and plan is not None and plan.mode == "cni" and not hooked:
                networks.attach(cid, f"/proc/{pid}/ns/net", plan)
            if on_created is not None:
                on_created()
            exit_future = tasks.wait(cid)
            tasks.start(cid)
        except BaseException:
            if networks is not None:
                _quiet(networks.detach, cid)
            _quiet(tasks.kill, cid, "SIGKILL")
            _quiet(tasks.delete, cid)
            raise
        return exit_future

    def _reap(self, c: Any) -> int | None:
        """Release a finished task: network detached, task deleted, its exit kept in labels."""
        networks = self._optional("networks")
        if networks is not None:
            _quiet(networks.detach, c.id)
        try:
            exit = self.client.tasks.delete(c.id)
        except NotFound:
            return None
        finished = exit.exited_at if exit.exited_at and exit.exited_at.year > 1970 else datetime.now(UTC)
        self.client.containers.update(
            c.id,
            labels={
                LABEL.STARTED: "true",
                LABEL.EXIT_CODE: str(exit.exit_status),
                LABEL.FINISHED_AT: finished.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            },
        )
        return exit.exit_status

    def _set_restart_status(self, c: Any, status: str | None, log_uri: str | None = None) -> None:
        if c.labels.get(LABEL.RESTART, "no") == "no":
            return
        labels: dict[str, str | None] = {LABEL.RESTART_STATUS: status}
        if log_uri is not None:
            labels[LABEL.RESTART_LOGURI] = log_uri
        self.client.containers.update(c.id, labels=labels)

    def _start_detached(self, c: Any, plan: Any | None, rootfs: builtins.list[Any] | None = None) -> None:
        tty = c.labels.get(LABEL.TTY) == "true"
        io, uri = self._log_io(c, tty)
        self._start_task(c, io, plan, rootfs=rootfs)
        self._set_restart_status(c, "running", uri)
        if c.labels.get(LABEL.AUTO_REMOVE) == "true":
            from managers.autoremove import spawn

            spawn(self.client.address, self.namespace, Path(self.facade.root), Path(self.facade.run_root), c.id)

    def _foreground(
        self, c: Any, plan: Any | None, stdio: Stdio, *, interactive: bool, started: builtins.list[bool],
        rootfs: builtins.list[Any] | None = None,
    ) -> int:
        """Run the task attached to ``stdio`` (output also into the JSON log) until it exits."""
        from ctrd.logger import JsonLogWriter
        from ctrd.stdio import FifoIO

        cid = c.id
        tty = c.labels.get(LABEL.TTY) == "true"
        size, files = _log_opts(c.labels)
        writer = JsonLogWriter(c.labels.get(LABEL.LOG_PATH) or self._log_path(cid), max_size=size, max_file=files)
        tasks = self.client.tasks
        io = FifoIO.open(self._fifo_root, cid, stdin=interactive, terminal=tty)
        try:

            def attach_output() -> None:
                io.attach_output(stdout=stdio.stdout, stderr=None if tty else stdio.stderr, sink=writer.write)

            with terminal_session(stdio.terminal if tty else None, lambda w, h: tasks.resize_pty(cid, w, h)):
                # Output is read from before Start (a pty drops what nobody read when the process exits);
                # stdin only after it: its EOF (CloseIO) reaching a terminal task before Start hangs the
                # task up for good, and an empty stdin gets there at once.
                exit_future = self._start_task(c, io, plan, on_created=attach_output, rootfs=rootfs)
                started.append(True)
                io.attach_input(stdio.stdin if interactive else None, close_stdin=lambda: tasks.close_io(cid))
                self._set_restart_status(c, "running")
                code = self._wait_foreground(c, exit_future, stdio)
            try:
                io.wait(10)
            except Timeout:
                pass  # a process that forked a child holding the pty open; the log keeps what came
        finally:
            io.close()
            writer.close()
        return code

    def _wait_foreground(self, c: Any, exit_future: Any, stdio: Stdio) -> int:
        """Wait for the exit; on Ctrl-C send the stop signal, then SIGKILL after the stop timeout, like
        docker. Raises Interrupted after the process has ended if that happened."""
        deadline: float | None = None
        killed = False
        while True:
            try:
                status = exit_future.result(timeout=_POLL).exit_status
                break
            except Timeout:
                pass
            except KeyboardInterrupt:
                stdio.cancel.set()
            if stdio.cancel.is_set() and deadline is None:
                self._set_restart_status(c, "stopped")
                _quiet(self.client.tasks.kill, c.id, c.labels.get(LABEL.STOP_SIGNAL, "SIGTERM"))
                deadline = time.monotonic() + _stop_timeout(c.labels)
            if deadline is not None and not killed and time.monotonic() > deadline:
                _quiet(self.client.tasks.kill, c.id, "SIGKILL", all=True)
                killed = True
        if deadline is not None:
            raise _Stopped(status)
        return status

    # -- run / start ------------------------------------------------------------------------------

    def run(self, opts: CreateOptions, *, detach: bool, stdio: Stdio | None = None) -> dict[str, Any] | int:
        """``run``: create and start. Detached: the record. In the foreground: the exit status, after
        streaming the output to ``stdio`` (and removing the container with ``--rm``).

        If the container cannot be started (a command missing from the image, a port taken), it is
        removed again with everything made for it.
        """
        if detach and opts.rm and opts.restart != "no":
            raise InvalidArgument("--rm and --restart cannot be combined")
        c, plan, rootfs = self._create(opts)
        started: builtins.list[bool] = []
        try:
            if detach:
                self._start_detached(c, plan, rootfs)
                try:
                    return self._record(c.id)
                except NotFound:
                    raise NotFound(f"container {self._name_of(c)} was removed while starting") from None
            if stdio is None:
                raise InvalidArgument("run without -d needs standard streams")
            try:
                code = self._foreground(c, plan, stdio, interactive=opts.interactive, started=started, rootfs=rootfs)
            except _Stopped as stopped:
                self._finish(c, opts.rm)
                raise Interrupted(f"container {self._name_of(c)} stopped (exit status {stopped.status})") from None
            self._finish(c, opts.rm)
            return code
        except BaseException:
            if not started or detach:
                _quiet(self._destroy, c, True)
            raise

    def _finish(self, c: Any, auto_remove: bool) -> None:
        """After the foreground task exited: keep its exit in labels, or (``--rm``) remove it all; the
        labels would be deleted with the record, so they are not written then."""
        if auto_remove:
            self._destroy(c, True, exited=True)
        else:
            self._reap(c)

    def start(self, refs: builtins.list[str], *, attach: bool = False, interactive: bool = False, stdio: Stdio | None = None) -> Any:
        """``start``: start created or exited containers. With ``attach`` (one container) runs it in the
        foreground like ``run`` and returns its exit status; otherwise the records."""
        if attach or interactive:
            if len(refs) != 1:
                raise InvalidArgument("start -a/-i takes exactly one container")
            c = self._prepare_start(self._get(refs[0]))
            if c is None:
                raise Conflict(f"container {refs[0]} is already running")
            if stdio is None:
                raise InvalidArgument("start -a needs standard streams")
            try:
                code = self._foreground(c, self._plan_for(c), stdio, interactive=interactive, started=[])
            except _Stopped as stopped:
                self._finish(c, c.labels.get(LABEL.AUTO_REMOVE) == "true")
                raise Interrupted(f"container {self._name_of(c)} stopped (exit status {stopped.status})") from None
            self._finish(c, c.labels.get(LABEL.AUTO_REMOVE) == "true")
            return code
        out = []
        for found in self._get_all(refs):
            c = self._prepare_start(found)
            if c is not None:
                self._start_detached(c, self._plan_for(c))
            out.append(self._record(found.id))
        return out

    def _prepare_start(self, c: Any) -> Any | None:
        """The container, its old task reaped; None when it is running already."""
        task = self._task(c.id)
        if task is not None:
            if task.status == "running":
                return None
            if task.status in ("paused", "pausing"):
                raise Conflict(f"container {self._name_of(c)} is paused: unpause it instead")
            self._reap(c)
            c = self.client.containers.get(c.id)
        return c

    # -- stop, kill, pause ------------------------------------------------------------------------

    def stop(self, refs: builtins.list[str], *, timeout: int | None = None, signal: str | None = None) -> builtins.list[dict[str, Any]]:
        """``stop``: the stop signal, then SIGKILL after ``timeout`` seconds (the container's
        --stop-timeout, default 10). Stopped containers release their network and task."""
        out = []
        for c in self._get_all(refs):
            self._stop(c, timeout=timeout, signal=signal)
            out.append(self._record(c.id))
        return out

    def _stop(self, c: Any, *, timeout: int | None = None, signal: str | None = None) -> None:
        tasks = self.client.tasks
        self._set_restart_status(c, "stopped")
        task = self._task(c.id)
        if task is None:
            return
        if task.status in ("running", "paused", "pausing"):
            if task.status != "running":
                _quiet(tasks.resume, c.id)
            wait = tasks.wait(c.id)
            sig = parse_signal(signal, "--signal")[0] if signal else c.labels.get(LABEL.STOP_SIGNAL, "SIGTERM")
            limit = _stop_timeout(c.labels) if timeout is None else timeout
            _quiet(tasks.kill, c.id, sig)
            try:
                wait.result(timeout=max(limit, 0) if limit >= 0 else None)
            except Timeout:
                _quiet(tasks.kill, c.id, "SIGKILL", all=True)
                wait.result(timeout=30)
        self._reap(c)

    def restart(self, refs: builtins.list[str], *, timeout: int | None = None) -> builtins.list[dict[str, Any]]:
        out = []
        for c in self._get_all(refs):
            self._stop(c, timeout=timeout)
            c = self.client.containers.get(c.id)
            self._start_detached(c, self._plan_for(c))
            out.append(self._record(c.id))
        return out

    def kill(self, refs: builtins.list[str], *, signal: str = "SIGKILL") -> builtins.list[dict[str, Any]]:
        """``kill``: send ``signal`` to each running container's main process."""
        name, _ = parse_signal(signal, "--signal")
        out = []
        for c in self._get_all(refs):
            task = self._task(c.id)
            if task is None or task.status not in ("running", "paused"):
                raise Conflict(f"container {self._name_of(c)} is not running")
            if name in ("SIGKILL", "SIGTERM"):
                self._set_restart_status(c, "stopped")
            self.client.tasks.kill(c.id, name)
            out.append(self._record(c.id))
        return out

    def pause(self, refs: builtins.list[str]) -> builtins.list[dict[str, Any]]:
        return [self._pause(c, True) for c in self._get_all(refs)]

    def unpause(self, refs: builtins.list[str]) -> builtins.list[dict[str, Any]]:
        return [self._pause(c, False) for c in self._get_all(refs)]

    def _pause(self, c: Any, pause: bool) -> dict[str, Any]:
        task = self._task(c.id)
        status = task.status if task is not None else None
        if pause and status != "running":
            raise Conflict(f"container {self._name_of(c)} is not running")
        if not pause and status not in ("paused", "pausing"):
            raise Conflict(f"container {self._name_of(c)} is not paused")
        (self.client.tasks.pause if pause else self.client.tasks.resume)(c.id)
        return self._record(c.id)

    # -- remove -----------------------------------------------------------------------------------

    def remove(self, refs: builtins.list[str], *, force: bool = False, volumes: bool = False) -> builtins.list[str]:
        """``rm``: remove containers (running ones only with ``force``); returns their ids."""
        removed = []
        for c in self._get_all(refs):
            task = self._task(c.id)
            status = task.status if task is not None and task.pid else "stopped"
            if status in ("running", "paused", "pausing", "created") and not force:
                raise Conflict(f"container {self._name_of(c)} is {status}: stop it first or use rm -f")
            self._destroy(c, volumes)
            removed.append(c.id)
        return removed

    def _destroy(self, c: Any, remove_volumes: bool, *, exited: bool = False) -> None:
        """Remove a container and everything it owns, whatever state it is in. ``exited``: the caller
        saw its task exit (a foreground ``--rm`` run), so there is nothing to look up or kill."""
        with _container_lock(self._lock_path(c.id), remove=True):
            self._destroy_locked(c, remove_volumes, exited)

    def _destroy_locked(self, c: Any, remove_volumes: bool, exited: bool) -> None:
        cid = c.id
        tasks = self.client.tasks
        if c.labels.get(LABEL.RESTART_STATUS):
            _quiet(self.client.containers.update, cid, labels={LABEL.RESTART_STATUS: None})
        task = None if exited else self._task(cid)
        if task is not None and task.status != "stopped":
            if task.status in ("paused", "pausing"):
                _quiet(tasks.resume, cid)
            wait = tasks.wait(cid)
            _quiet(tasks.kill, cid, "SIGKILL", all=True)
            try:
                wait.result(timeout=30)
            except PouchError:
                pass
        networks = self._optional("networks")
        if networks is not None:
            _quiet(networks.detach, cid)
        if exited or task is not None:
            try:
                tasks.delete(cid)
            except NotFound:
                pass
        try:
            self.client.snapshots.remove(c.snapshot_key or cid)
        except NotFound:
            pass
        self.client.containers.delete(cid)
        names = [n for n in c.labels.get(LABEL.VOLUMES, "").split(",") if n]
        if names:
            _quiet(self.facade.volumes.release, cid, names, remove_anonymous=remove_volumes)
        name = c.labels.get(LABEL.NAME)
        if name:
            _quiet(self._names().release, name, cid)
        shutil.rmtree(self._state_dir(cid), ignore_errors=True)
        self._remove_fifo_dirs(cid)

    def _remove_fifo_dirs(self, cid: str) -> None:
        """FIFO directories of foreground runs and execs whose pouchsh died before closing them (they are
        named after the process id, which starts with the container id)."""
        root = self._fifo_root
        for pattern in (f"{cid[:32]}-*", f"{cid[:20]}-exec-*"):
            for stale in root.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)

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
            self._destroy(c, False)
            deleted.append(c.id)
        return {"deleted": deleted, "count": len(deleted), "space_reclaimed": reclaimed}

    # -- wait, rename, update ---------------------------------------------------------------------

    def wait(self, refs: builtins.list[str], *, cancel: threading.Event | None = None) -> builtins.list[int]:
        """``wait``: block until each container exits; their exit statuses."""
        cancel = cancel or threading.Event()
        codes = []
        for c in self._get_all(refs):
            task = self._task(c.id)
            if task is None:
                code = c.labels.get(LABEL.EXIT_CODE)
                if code is None:
                    raise Conflict(f"container {self._name_of(c)} has not been started")
                codes.append(int(code))
                continue
            future = self.client.tasks.wait(c.id)
            while True:
                if cancel.is_set():
                    future.cancel()
                    raise Interrupted("wait interrupted")
                try:
                    codes.append(future.result(timeout=_POLL).exit_status)
                    break
                except Timeout:
                    continue
        return codes

    def rename(self, ref: str, new_name: str) -> dict[str, Any]:
        """``rename``: give a container a new name (the old one is free again)."""
        validate_name(new_name)
        c = self._get(ref)
        old = c.labels.get(LABEL.NAME)
        if old == new_name:
            raise Conflict(f"container is already named {new_name}")
        store = self._names()
        reservation = store.reserve(new_name, c.id)
        try:
            self.client.containers.update(c.id, labels={LABEL.NAME: new_name})
        except BaseException:
            reservation.release()
            raise
        reservation.commit()
        if old:
            store.release(old, c.id)
        return self._record(c.id)

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
        probe = CreateOptions.parse("-", memory=memory, cpus=cpus, pids_limit=pids_limit, restart=restart)
        if memory is None and cpus is None and pids_limit is None and restart is None:
            raise InvalidArgument("update: nothing to change (give --memory, --cpus, --pids-limit or --restart)")
        out = []
        for c in self._get_all(refs):
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
            task = self._task(c.id)
            if task is not None and task.status in ("running", "paused") and (memory, cpus, pids_limit) != (None, None, None):
                _update_task(self.client, c.id, resources)
            self.client.containers.update(c.id, spec=spec, labels=labels or None)
            if restart is not None and probe.restart != "no" and task is not None and task.status == "running":
                _, uri = self._log_io(c, c.labels.get(LABEL.TTY) == "true")
                self.client.containers.update(c.id, labels={LABEL.RESTART_STATUS: "running", LABEL.RESTART_LOGURI: uri})
            out.append(self._record(c.id))
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
        from managers.logs import follow_entries, parse_time, read_entries

        c = self._get(ref)
        path = c.labels.get(LABEL.LOG_PATH) or str(self._log_path(c.id))
        since_ns = parse_time(since, "--since")
        until_ns = parse_time(until, "--until")
        if tail is not None and tail < 0:
            tail = None

        def show(entry: Any) -> str:
            return f"{entry.stamp} {entry.text}" if timestamps else entry.text

        if not follow:
            return "".join(show(e) for e in read_entries(path, tail=tail, since=since_ns, until=until_ns))

        def running() -> bool:
            task = self._task(c.id)
            return task is not None and task.status in ("running", "paused", "pausing", "created")

        def lines() -> Iterator[str]:
            for entry in follow_entries(path, tail=tail, since=since_ns, until=until_ns, running=running, cancel=cancel):
                yield show(entry).removesuffix("\n")

        return lines()

    def top(self, ref: str, ps_args: builtins.list[str] | None = None) -> builtins.list[dict[str, Any]]:
        """``top``: the container's processes, from the host's /proc (or ``ps ARGS`` when given)."""
        c = self._get(ref)
        task = self._task(c.id)
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"container {self._name_of(c)} is not running")
        pids = self.client.tasks.pids(c.id)
        if ps_args:
            return _ps_table(ps_args, pids)
        return [_proc_row(pid) for pid in pids if os.path.exists(f"/proc/{pid}")]

    def port(self, ref: str, private_port: str | None = None) -> builtins.list[dict[str, Any]]:
        """``port``: the published ports ({container_port, protocol, host_ip, host_port})."""
        c = self._get(ref)
        ports = rec.build_record(c, None)["ports"]
        if private_port:
            number, _, proto = str(private_port).partition("/")
            if not number.isdigit():
                raise InvalidArgument(f"port {private_port!r}: expected PORT[/PROTO]")
            ports = [p for p in ports if int(p["container_port"]) == int(number) and (not proto or p["protocol"] == proto)]
            if not ports:
                raise NotFound(f"no public port {private_port} published for {self._name_of(c)}")
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
    ) -> Any:
        """``exec``: run a process in a running container, based on its own process spec (user,
        capabilities, rlimits carry over). Foreground: the exit status; ``detach``: {exec_id, pid}."""
        from managers.spec import current_caps, merge_env, resolve_user

        if not args:
            raise InvalidArgument("exec: a command is required")
        c = self._get(ref)
        task = self._task(c.id)
        if task is None or task.status != "running":
            raise Conflict(f"container {self._name_of(c)} is not running")
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
            root = Path(f"/proc/{task.pid}/root")
            process["user"] = resolve_user(user, lambda p: _read_under(root, p))
        if privileged:
            process["capabilities"] = {k: current_caps() for k in ("bounding", "effective", "permitted")}
            process["noNewPrivileges"] = False
        exec_id = f"{c.id[:20]}-exec-{secrets.token_hex(6)}"  # the container in it: see _remove_fifo_dirs
        tasks = self.client.tasks
        if detach:
            from ctrd.stdio import NullIO

            tasks.exec(c.id, exec_id, process, io=NullIO())
            future = tasks.wait(c.id, exec_id)
            pid = tasks.start(c.id, exec_id)
            future.add_done_callback(lambda _f: _quiet(tasks.delete_process, c.id, exec_id))
            return {"id": c.id, "exec_id": exec_id, "pid": pid}
        if stdio is None:
            raise InvalidArgument("exec without -d needs standard streams")
        from ctrd.stdio import FifoIO

        io = FifoIO.open(self._fifo_root, exec_id, stdin=interactive, terminal=process["terminal"])
        created = False
        try:
            tasks.exec(c.id, exec_id, process, io=io)
            created = True
            io.attach_output(stdout=stdio.stdout, stderr=None if process["terminal"] else stdio.stderr)
            resize = lambda w, h: tasks.resize_pty(c.id, w, h, exec_id=exec_id)
            with terminal_session(stdio.terminal if process["terminal"] else None, resize):
                future = tasks.wait(c.id, exec_id)
                tasks.start(c.id, exec_id)
                # stdin (and its EOF) only once the process runs, as for run -i -t (see _foreground)
                io.attach_input(stdio.stdin if interactive else None, close_stdin=lambda: tasks.close_io(c.id, exec_id))
                status = self._wait_exec(c, exec_id, future, stdio)
            try:
                io.wait(10)
            except Timeout:
                pass
            return status
        finally:
            io.close()
            if created:
                _quiet(tasks.delete_process, c.id, exec_id)

    def _wait_exec(self, c: Any, exec_id: str, future: Any, stdio: Stdio) -> int:
        interrupted = False
        while True:
            try:
                status = future.result(timeout=_POLL).exit_status
                break
            except Timeout:
                pass
            except KeyboardInterrupt:
                stdio.cancel.set()
            if stdio.cancel.is_set() and not interrupted:
                interrupted = True
                _quiet(self.client.tasks.kill, c.id, "SIGKILL", exec_id=exec_id)
        if interrupted:
            raise Interrupted(f"exec in {self._name_of(c)} interrupted")
        return status

    # -- cp ---------------------------------------------------------------------------------------

    def copy(
        self, source: str, destination: str, *, cwd: str = ".", stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
    ) -> dict[str, Any]:
        """``cp``: copy between the host and a container; one side is ``CONTAINER:PATH``. ``-`` as the
        host side is a tar stream: written to ``stdout``, or read from ``stdin`` and extracted into a
        directory of the container."""
        from managers import rootfs

        src_ref, src_path = _split_cp(source)
        dst_ref, dst_path = _split_cp(destination)
        if (src_ref is None) == (dst_ref is None):
            raise InvalidArgument("cp: exactly one of source and destination must be CONTAINER:PATH")
        if src_ref is not None:
            c = self._get(src_ref)
            with self._container_root(c) as root:
                data = rootfs.tar_from(root, src_path)
            if destination == "-":
                if stdout is None:
                    raise InvalidArgument("cp: no standard output to write the tar stream to")
                stdout.write(data)
                stdout.flush()
                target = "-"
            else:
                target = str(Path(cwd, destination))
                _extract_on_host(data, Path(target))
            return {"container": c.id, "source": src_path, "destination": target, "size": len(data)}
        c = self._get(dst_ref or "")
        if source == "-":
            if stdin is None:
                raise InvalidArgument("cp: no standard input to read the tar stream from")
            data, origin = stdin.read(), "-"
        else:
            host = Path(cwd, source)
            if not os.path.lexists(host):
                raise NotFound(f"cp: no such file or directory: {source}")
            data, origin = _tar_host(host), str(host)
        with self._container_root(c, writable=True) as root:
            rootfs.untar_into(root, dst_path, data, rename=source != "-")
        return {"container": c.id, "source": origin, "destination": dst_path, "size": len(data)}

    def _container_root(self, c: Any, *, writable: bool = False) -> Any:
        from contextlib import nullcontext

        from managers import rootfs

        task = self._task(c.id)
        if task is not None and task.status in ("running", "paused") and task.pid:
            return nullcontext(Path(f"/proc/{task.pid}/root"))
        mounts = self.client.snapshots.mounts(c.snapshot_key or c.id)
        return rootfs.mounted(mounts, readonly=not writable)


class _Stopped(Exception):
    """The foreground process ended after Ctrl-C made us stop it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# -- helpers ------------------------------------------------------------------------------------------


def _ref_text(ref: Any) -> str:
    """A container reference as text: a string, or a record's ``id`` (or ``name``)."""
    if isinstance(ref, dict):
        ref = ref.get("id") or ref.get("name") or ""
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument(f"not a container reference: {ref!r}")
    return ref


@contextmanager
def _container_lock(path: Path, *, remove: bool = False) -> Iterator[None]:
    """An exclusive flock on ``path`` (one file per container, under the run root) between processes.
    ``remove`` unlinks it before unlocking: only a removal does that, and whoever opened the old file
    meanwhile then finds the container gone in containerd, which is what it must learn anyway."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        if remove:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run a clean-up step whose failure must not hide the error being handled."""
    try:
        fn(*args, **kwargs)
    except (PouchError, OSError):
        pass


def _stop_timeout(labels: Any) -> int:
    text = labels.get(LABEL.STOP_TIMEOUT)
    try:
        return int(text) if text is not None else DEFAULT_STOP_TIMEOUT
    except ValueError:
        return DEFAULT_STOP_TIMEOUT


def _log_opts(labels: Any) -> tuple[int, int]:
    from ctrd.logger import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE

    opts = dict(item.partition("=")[::2] for item in labels.get(LABEL.LOG_OPTS, "").split(",") if item)
    try:
        return int(opts.get("max-size", DEFAULT_MAX_SIZE)), int(opts.get("max-file", DEFAULT_MAX_FILE))
    except ValueError:
        return DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE


_RUNC_SHIMS = ("io.containerd.runc.v1", "io.containerd.runc.v2")


def _runtime_options(runtime: str, binary: str | None, runc_root: Path) -> bytes:
    """``containerd.runc.v1.Options`` for the runc shims: the OCI runtime binary, and runc's state
    directory under pouchsh's run root (runc's default, /run/containerd/runc, belongs to the system's
    containerd). Other runtimes get none, as ctr sends them."""
    if runtime not in _RUNC_SHIMS:
        return b""
    from ctrd.api.runc.options import oci_pb2

    return oci_pb2.Options(binary_name=binary or "", root=str(runc_root)).SerializeToString()


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
    from managers.logs import parse_time

    limit = parse_time(until, "--filter until")
    created = rec._parse_iso(record["created"])
    return limit is not None and created is not None and created * 1e9 < limit


def _split_cp(arg: str) -> tuple[str | None, str]:
    """``web:/etc/x`` → ("web", "/etc/x"); a host path (``./a:b``, ``/x``) → (None, path)."""
    if arg == "-" or arg.startswith(("/", ".", "~")):
        return None, arg
    ref, sep, path = arg.partition(":")
    if not sep or not ref:
        return None, arg
    return ref, path or "/"


def _tar_host(path: Path) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(path), arcname=path.name or ".", recursive=True)
    return buf.getvalue()


def _extract_on_host(data: bytes, destination: Path) -> None:
    """docker cp's rule: into an existing directory, or as ``destination`` itself."""
    import io
    import tarfile

    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            if destination.is_dir():
                tar.extractall(str(destination), filter="data")
                return
            if not destination.parent.is_dir():
                raise NotFound(f"cp: no such directory: {destination.parent}")
            members = tar.getmembers()
            top = members[0].name.split("/")[0] if members else ""
            for m in members:
                rest = m.name[len(top):]
                m.name = destination.name + rest
            tar.extractall(str(destination.parent), members=members, filter="data")
    except tarfile.TarError as e:
        raise PouchRuntimeError(f"cp: {e}") from None


def _read_under(root: Path, path: str) -> bytes | None:
    try:
        with open(root / path.lstrip("/"), "rb") as f:
            return f.read(1 << 20)
    except OSError:
        return None


def _proc_row(pid: int) -> dict[str, Any]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat.rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return {"pid": pid, "ppid": None, "uid": None, "cmd": "", "time": None, "state": "gone"}
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) // ticks
    return {
        "uid": uid,
        "pid": pid,
        "ppid": int(fields[1]),
        "state": fields[0],
        "time": time.strftime("%H:%M:%S", time.gmtime(cpu)),
        "cmd": cmd or stat[stat.index("(") + 1 : stat.rindex(")")],
    }


def _ps_table(args: list[str], pids: list[int]) -> list[dict[str, Any]]:
    try:
        proc = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InvalidArgument("top with ps options needs ps on the host") from None
    if proc.returncode != 0:
        raise InvalidArgument(f"top: ps {' '.join(args)}: {proc.stderr.strip()}")
    lines = proc.stdout.splitlines()
    if not lines:
        return []
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument("top: the ps options must include the PID column")
    at = header.index("PID")
    wanted = {str(p) for p in pids}
    rows = []
    for line in lines[1:]:
        cells = line.split(None, len(header) - 1)
        if len(cells) > at and cells[at] in wanted:
            rows.append({h.lower(): v for h, v in zip(header, cells)})
    return rows
