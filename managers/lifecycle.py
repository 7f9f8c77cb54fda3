"""The container life cycle: create (and its undo), task start and reap, stop, destroy, and the
reconciliation of a create or rm killed half-way.

What undoes what when a step fails is in managers.containers' docstring; every step that takes or leaves
a task runs under the container's lock (managers.containerpaths.container_lock)."""

from __future__ import annotations

import builtins
import concurrent.futures
import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PouchError, Timeout
from ctrd.owner import OWNER_LABEL
from managers import deferred, faults, ipcshm
from managers import records as rec
from managers.containerpaths import ContainerPaths, container_lock
from managers.health import HealthConfig
from managers.imagecache import Image, ImageCache
from managers.intents import Intent, Journal
from managers.labels import LABEL
from managers.launch import exec_failures
from managers.names import generate_name, new_id, validate_name
from managers.options import OPTIONS_FILE, CreateOptions, parse_signal
from managers.resolver import ContainerResolver, name_of
from managers.transactions import tag

if TYPE_CHECKING:
    from managers import Managers

# What only a create or start uses (the spec builder, the rootfs reader, the log writer, the OCI hooks, the
# --rm waiter, runc's options) is imported where it is used: `ps -a`, `inspect` and `logs` import this
# module too, and made module-level they were 15 more imports on every `ps -a`
# (`python -X importtime`: docs/PERFORMANCE.md, managers/containers.py under "Done after, and left").

__all__ = ["DEFAULT_STOP_TIMEOUT", "Lifecycle", "log_opts", "quiet", "stop_timeout"]

DEFAULT_STOP_TIMEOUT = 10
#: how long a create waits for containerd to clean up after a shim whose creator was killed: its
#: cleanup waits up to 5 s for the shim's Delete and 5 s more for its Shutdown
STALE_BUNDLE_WAIT = 15.0


class Lifecycle:
    """Making, starting, reaping, stopping and destroying containers and their tasks. Given the paths,
    the resolver and the image cache it works with; the volume and network managers come from the
    facade, which builds them on first use."""

    def __init__(self, facade: Managers, paths: ContainerPaths, resolver: ContainerResolver, images: ImageCache) -> None:
        self.facade = facade
        self.paths = paths
        self.resolver = resolver
        self.images = images

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    # -- create -----------------------------------------------------------------------------------

    def create(self, opts: CreateOptions) -> tuple[Any, Any, builtins.list[Any]]:
        """The container record, its network plan, and the rootfs mounts Snapshots.Prepare returned
        (a start right after needs no Snapshots.Mounts)."""
        image = self.images.get(opts.image, opts.pull)
        cid = new_id()
        undo: builtins.list[Callable[[], None]] = []
        try:
            reservation = self._reserve(opts.name, cid)
            undo.append(reservation.release)
            # Until the record exists, only this intent names what is made for it on the host: its files,
            # its new volumes, its name (see reconcile_intent). A name reserved by a process killed before
            # this line is reclaimed by the name store itself (its lock is gone, its container missing).
            intent = Journal(self.facade.root).begin("container.create", namespace=self.namespace, id=cid,
                                                      name=reservation.name)
            undo.append(intent.clear)
            mode = opts.network or "bridge"
            hostname = opts.hostname or (socket.gethostname() if mode == "host" else cid[:12])
            plan = self._plan(cid, opts, image, hostname)
            networks = self.facade.networks
            undo.append(lambda: networks.detach(cid))
            mounts, volume_names, seeds = self._volumes(cid, opts, image)
            if volume_names:
                intent.update(volumes=volume_names)
                volumes = self.facade.volumes
                volumes.ensure(volume_names)
                undo.append(lambda: volumes.release(cid, volume_names, remove_anonymous=True))
            labels = self._labels(opts, image, cid, reservation.name, hostname, plan, volume_names)
            if opts.enable_lxcfs:
                from managers import lxcfs

                mounts = [*mounts, *lxcfs.spec_mounts(self._lxcfs())]
                labels[LABEL.LXCFS] = lxcfs.LABEL_VALUE
            state_dir = self.paths.state_dir(cid)
            undo.append(lambda: shutil.rmtree(state_dir, ignore_errors=True))
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # what upgrade needs to make the same container from another image (managers.upgrade); it
            # may hold secrets in its environment, so it is the owner's alone
            fd = os.open(state_dir / OPTIONS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(opts.to_json())
            shm = None
            if opts.ipc_mode == "shareable":
                # docker's: a tmpfs of the host's that joiners bind as their /dev/shm too (managers.ipcshm);
                # it goes before the state directory does (undo runs backwards)
                shm = ipcshm.mount(state_dir, opts.shm_size)
                undo.append(lambda: ipcshm.unmount(state_dir))
            from managers.rootfs import read_layered
            from managers.spec import build_spec

            with self.client.lease() as leased:
                try:
                    rootfs = leased.snapshots.prepare(cid, image.chain_id)
                except NotFound:
                    # The unpacked layers went away since this process cached the image: unpack again.
                    self.images.forget(image)
                    self.images.resolve(opts.image, opts.pull)
                    rootfs = leased.snapshots.prepare(cid, image.chain_id)
                undo.append(lambda: quiet(self.client.snapshots.remove, cid))
                if seeds:
                    self.facade.volumes.seed(seeds, rootfs)
                spec = build_spec(
                    opts,
                    namespace=self.namespace,
                    container_id=cid,
                    image_config=image.config,
                    read_file=lambda path: read_layered(rootfs, path),
                    hostname=hostname,
                    mounts=[*mounts, *plan.spec_mounts],
                    network_mode=plan.mode,
                )
                if plan.mode == "container":
                    self._join_network(spec, plan.join)
                if opts.ipc_mode.startswith("container:"):
                    self._join_ipc(spec, opts.ipc_mode.partition(":")[2])
                elif shm is not None or opts.ipc_mode == "host":
                    ipcshm.bind(spec, shm or ipcshm.HOST_SHM)
                if plan.mode == "cni" and opts.restart != "no":
                    from managers import nethook

                    spec["hooks"] = nethook.hooks(self.client.address, self.namespace, Path(self.facade.root),
                                                  Path(self.facade.run_root))
                    labels[LABEL.NET_HOOKS] = "true"
                elif plan.mode == "cni":
                    # pinned by each start before its task, so the ADD runs while the task is made
                    # (managers.netns); containerd's restart monitor pins nothing, hence not with hooks
                    _set_netns(spec, str(networks.netns_path(cid)))
                labels.update(rec.summary_labels(spec, labels))
                faults.point("container.create.before")
                container = leased.containers.create(
                    cid,
                    spec=spec,
                    image=image.name,
                    snapshot_key=cid,
                    labels=labels,
                    runtime=opts.runtime,
                    runtime_options=_runtime_options(opts.runtime, opts.runtime_binary, self.paths.runc_root),
                )
                undo.append(lambda: quiet(self.client.containers.delete, cid))
                faults.point("container.create.after")
            reservation.commit()
            intent.clear()
            return container, plan, rootfs
        except BaseException:
            for step in reversed(undo):
                quiet(step)
            raise

    def _reserve(self, name: str | None, cid: str) -> Any:
        store = self.resolver.names()
        if name is not None:
            try:
                return store.reserve(validate_name(name), cid)
            except AlreadyExists:
                if not deferred.pending():
                    raise
            deferred.settle()  # an earlier --rm run of this script still giving the name back
            return store.reserve(name, cid)
        for _ in range(5):
            try:
                return store.reserve(generate_name(store.taken), cid)
            except AlreadyExists:
                continue  # another process took the generated name a moment ago
        raise Conflict("could not reserve a generated container name; give one with --name")

    def _plan(self, cid: str, opts: CreateOptions, image: Image, hostname: str) -> Any:
        return self.facade.networks.plan(
            cid,
            network=opts.network or "bridge",
            ports=list(opts.publish),
            publish_all=opts.publish_all,
            exposed_ports=list(image.config.exposed_ports),
            ip=opts.ip,
            hostname=hostname,
            dns=list(opts.dns),
            add_hosts=list(opts.add_host),
        )

    def _join_network(self, spec: dict[str, Any], other: str | None) -> None:
        task = self.resolver.task(other or "")
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"--network container:{other}: that container is not running")
        _set_netns(spec, f"/proc/{task.pid}/ns/net")
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] not in ("/etc/hosts", "/etc/resolv.conf")]

    def _join_ipc(self, spec: dict[str, Any], other: str) -> None:
        """``--ipc container:REF``: its IPC namespace, if it was made shareable (docker's rule: a
        container's private IPC is not for others to join)."""
        donor = self.resolver.get(other)
        if donor.labels.get(LABEL.IPC) not in ("shareable", "host"):
            raise Conflict(f"--ipc container:{other}: its IPC is private", hint="create it with --ipc shareable")
        task = self.resolver.task(donor.id)
        if task is None or task.status not in ("running", "paused"):
            raise Conflict(f"--ipc container:{other}: that container is not running")
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "ipc"]
        if donor.labels.get(LABEL.IPC) == "shareable":
            spec["linux"]["namespaces"].append({"type": "ipc", "path": f"/proc/{task.pid}/ns/ipc"})
            # the donor's /dev/shm too, as docker's: the tmpfs the donor's create made on the host (a donor
            # made before pouchsh shared it has none: the joiner keeps a /dev/shm of its own)
            shm = ipcshm.shm_dir(self.paths.state_dir(donor.id))
            if shm.is_dir():
                ipcshm.bind(spec, shm)
        else:
            ipcshm.bind(spec, ipcshm.HOST_SHM)

    def _volumes(
        self, cid: str, opts: CreateOptions, image: Image,
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[str], builtins.list[tuple[str, str]]]:
        image_volumes = list(image.config.volumes)
        wanted = opts.volumes or opts.mounts or opts.tmpfs or opts.volumes_from or image_volumes
        if not wanted:
            return [], [], []
        mounts, names, seeds = self.facade.volumes.container_mounts(
            cid,
            volumes=list(opts.volumes),
            mounts=list(opts.mounts),
            tmpfs=list(opts.tmpfs),
            image_volumes=image_volumes,
            volumes_from=list(opts.volumes_from),
        )
        return list(mounts), list(names), seeds

    def _labels(
        self, opts: CreateOptions, image: Image, cid: str, name: str, hostname: str, plan: Any,
        volumes: builtins.list[str],
    ) -> dict[str, str]:
        stop_signal = opts.stop_signal or image.config.stop_signal or "SIGTERM"
        stop_signal = parse_signal(stop_signal, "--stop-signal")[0]
        labels = dict(opts.labels)
        labels.update({
            LABEL.NAME: name,
            LABEL.IMAGE_CONTENT: image.target,
            LABEL.RESTART: opts.restart,
            LABEL.STOP_SIGNAL: stop_signal,
            LABEL.CONTAINERD_STOP_SIGNAL: stop_signal,
            LABEL.LOG_PATH: str(self.paths.log_path(cid)),
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
        if opts.ipc_mode in ("shareable", "host"):
            labels[LABEL.IPC] = opts.ipc_mode
        health = HealthConfig.effective(opts.health, image.config.healthcheck)
        if health is not None:
            labels[LABEL.HEALTHCHECK] = health.label()
        labels.update(plan.labels)
        return tag(self.facade, labels)

    # -- starting and reaping tasks ---------------------------------------------------------------

    def plan_for(self, c: Any) -> Any | None:
        """The network plan to start ``c`` with again (its hosts, resolv.conf and hostname files are
        written anew); None for a container without one (no ``pouchsh/netconfig`` label)."""
        if LABEL.NETCONFIG not in c.labels:
            return None
        return self.facade.networks.plan_from_labels(c.id, dict(c.labels))

    def log_fifos(self, c: Any, tty: bool, *, restart: bool | None = None) -> dict[str, str]:
        """The container's log FIFOs (made, with the collector's ``logio`` file, if need be: ctrd.logd);
        ``restart`` overrides whether it restarts by policy (``update --restart`` before the label is).
        An auto-remove container's remover (managers.autoremove) is the collector's to start once the
        task's output ends: no waiting process beside each ``run -d --rm``."""
        from ctrd import logd

        size, files = log_opts(c.labels)
        keep = c.labels.get(LABEL.RESTART, "no") != "no" if restart is None else restart
        state_dir = self.paths.state_dir(c.id)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        on_exit = None
        if c.labels.get(LABEL.AUTO_REMOVE) == "true":
            from managers import autoremove

            on_exit = autoremove.argv(self.client.address, self.namespace, Path(self.facade.root),
                                      Path(self.facade.run_root), c.id)
        return logd.prepare(state_dir, max_size=size, max_file=files, keep=keep, tty=tty, on_exit=on_exit)

    def log_io(self, c: Any, tty: bool) -> tuple[Any, str]:
        """The task's IO (its FIFOs, read by the host's log collector) and the log URI containerd's restart
        monitor uses for the tasks it creates itself: the stdout FIFO (a plain path is a FIFO to the shim;
        one URI serves both streams, so after such a restart stderr arrives as stdout)."""
        from ctrd.stdio import CollectedIO

        fifos = self.log_fifos(c, tty)
        return CollectedIO.open(fifos, terminal=tty), fifos["stdout"]

    def restart_log_uri(self, c: Any, tty: bool) -> str:
        """``update --restart`` on a running container: its FIFOs stay read when its task ends (the
        monitor's next task needs a reader), and the URI for the monitor's label."""
        fifos = self.log_fifos(c, tty, restart=True)
        self.notify_collector(c.id)
        return fifos["stdout"]

    def sync_log(self, c: Any) -> None:
        """Before reading ``c``'s log: the collector (started again if it was killed) has drained its
        FIFOs. Nothing for a container only ever run attached (its log is written as it runs)."""
        from ctrd import logd

        if os.path.exists(self.paths.state_dir(c.id) / logd.CONFIG):
            self.notify_collector(c.id, sync=True)

    def notify_collector(self, cid: str | None, *, sync: bool = False, start: bool = True,
                         arm: bool | None = None) -> bool:
        """Have the log collector look at ``cid`` now (ctrd.logd.notify): before its task is created
        (``arm``, then False if that failed), or (``sync``) before its log is read, so what waits in its
        FIFOs is in the log. ``start``: start a collector if none runs."""
        from ctrd import logd

        key = f"{self.namespace}/{cid}" if cid else None
        if not start and not os.path.exists(logd.socket_path(self.facade.run_root)):
            return False
        return logd.notify(self.facade.root, self.facade.run_root, key, sync=sync, arm=arm, timeout=5.0)

    @contextlib.contextmanager
    def fifos_held(self, io: Any) -> Iterator[None]:
        """While the shim opens a foreground task's output FIFOs (Tasks.Create, an exec's start), the log
        collector holds read ends of them too (ctrd.logd ``hold``): the shim's opens wait for a reader,
        and should we be killed meanwhile ours go with us."""
        from ctrd import logd

        fds = io.read_ends()
        try:
            holder = logd.hold(self.facade.root, self.facade.run_root, fds)
        finally:
            for fd in fds:
                os.close(fd)
        try:
            yield
        finally:
            if holder is not None:
                logd.release(holder)

    def start_task(
        self, c: Any, io: Any, plan: Any | None, on_created: Callable[[], None] | None = None,
        rootfs: builtins.list[Any] | None = None, *, wait: bool = True, log_uri: str | None = None,
        checkpoint: Any = None,
    ) -> Any:
        """Create the task, attach its network, issue Wait (unless ``wait`` is False: nobody waits for
        a detached task, and a Wait left pending costs containerd and the shim a call each until this
        process exits), start it, note it started (``_note_started``; ``log_uri`` is where a restart
        policy's restarts log); returns the exit future (None without ``wait``). Undoes all of it on
        failure.

        Runs under the container's lock, which ``destroy`` takes too: a removal by another process
        waits until the task is fully started (then kills and deletes it), or happens first (then
        Tasks.Create finds no container). Without it, a record deleted while its task was being created
        left a task containerd can no longer delete (Tasks.Delete needs the record): shim and runc
        init kept running."""
        if c.labels.get(LABEL.LXCFS):
            self._lxcfs()  # its binds name lxcfs's files: they must answer when runc mounts them
        if c.labels.get(LABEL.IPC) == "shareable":
            self._shareable_shm(c)
        with container_lock(self.paths.lock_path(c.id)):
            try:
                with exec_failures(f"container {name_of(c)}"):
                    return self._start_task_locked(c, io, plan, on_created, rootfs, wait, log_uri, checkpoint)
            except PouchError as err:
                if self._removed(c):
                    raise NotFound(f"container {name_of(c)} was removed while starting") from err
                raise

    def _shareable_shm(self, c: Any) -> None:
        """The tmpfs a ``--ipc shareable`` container binds as /dev/shm: a reboot took it away (its empty
        mount point stays), so a start makes it again, of the size the container was created with. A
        container made before pouchsh shared /dev/shm has no mount point and a tmpfs of its own."""
        state_dir = self.paths.state_dir(c.id)
        if not ipcshm.shm_dir(state_dir).is_dir():
            return
        try:
            size = CreateOptions.from_json((state_dir / OPTIONS_FILE).read_text()).shm_size
        except (OSError, ValueError, TypeError):
            size = None  # docker's default size
        ipcshm.mount(state_dir, size)

    def _lxcfs(self) -> Path:
        """A live lxcfs mount (managers.lxcfs), started if need be; after a (re)start the binds of the
        running lxcfs containers went dead with the old one, so they are re-attached."""
        from managers import lxcfs

        source, restarted = lxcfs.ensure(self.facade.run_root)
        if restarted:
            lxcfs.reattach_all(self.facade.client, source)
        return source

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
        rootfs: builtins.list[Any] | None, wait: bool, log_uri: str | None, checkpoint: Any = None,
    ) -> Any:
        cid = c.id
        tasks = self.client.tasks
        mounts = rootfs if rootfs is not None else self.client.snapshots.mounts(c.snapshot_key)
        # With hooks (restartable containers) runc's createRuntime hook attaches it.
        cni = plan is not None and plan.mode == "cni" and c.labels.get(LABEL.NET_HOOKS) != "true"
        networks = self.facade.networks if plan is not None else None
        # A spec naming the pinned namespace (containers made since pouchsh pinned them) is attached while
        # the task is made; older ones after Tasks.Create, on the namespace runc made.
        adding = networks.attach_pinned(cid, plan) if cni and networks is not None and \
            _netns(c.spec) == str(networks.netns_path(cid)) else None
        try:
            pid = self._create_task(cid, mounts, io, checkpoint)
            if adding is not None:
                adding.result()
            elif cni and networks is not None:
                networks.attach(cid, f"/proc/{pid}/ns/net", plan)
            if on_created is not None:
                on_created()
            exit_future = tasks.wait(cid) if wait else None
            faults.point("task.start.before")
            tasks.start(cid)
            faults.point("task.start.after")
            self._note_started(c, log_uri)
        except BaseException:
            if adding is not None:
                concurrent.futures.wait([adding])  # its ADD finishes (or fails) before anything is undone
            # The task goes before the network: detach removes a pinned namespace, whose DEL then runs as
            # for one that ended with its task.
            quiet(tasks.kill, cid, "SIGKILL")
            quiet(tasks.delete, cid)
            if networks is not None:
                quiet(networks.detach, cid)
            raise
        return exit_future

    def _create_task(self, cid: str, mounts: builtins.list[Any], io: Any, checkpoint: Any) -> int:
        tasks = self.client.tasks
        until = time.monotonic() + STALE_BUNDLE_WAIT
        while True:
            try:
                return tasks.create(cid, rootfs=mounts, io=io, checkpoint=checkpoint)
            except AlreadyExists:
                # A task half-made when containerd died during an earlier Tasks.Create: Tasks.Get calls
                # it not-found, but Tasks.Delete clears it (and says not-found too), so the create can go on.
                quiet(tasks.delete, cid)
                return tasks.create(cid, rootfs=mounts, io=io, checkpoint=checkpoint)
            except PouchError as err:
                # The caller of an earlier Tasks.Create was killed: containerd cleans up after that shim
                # (it waits for its create to end) and only then removes the task's bundle, which
                # until then makes every create of this container fail.
                if not _stale_bundle(err.message) or time.monotonic() >= until:
                    raise
            time.sleep(0.1)  # a poll with a deadline: containerd's cleanup gives up after 2 x 5 s

    def _note_started(self, c: Any, log_uri: str | None) -> None:
        """Under a restart policy, mark the container running for containerd's restart monitor
        (``log_uri``: where its restarts log)."""
        if c.labels.get(LABEL.RESTART, "no") == "no":
            return
        labels: dict[str, str | None] = {LABEL.RESTART_STATUS: "running"}
        if log_uri is not None:
            labels[LABEL.RESTART_LOGURI] = log_uri
        self.client.containers.update(c.id, labels=labels)

    def reap(self, c: Any) -> int | None:
        """Release a finished task: network detached, task deleted, its exit kept in labels."""
        quiet(self.facade.networks.detach, c.id)
        started = self.runc_created(c.id)  # runc's state goes with the task
        try:
            exit = self.client.tasks.delete(c.id)
        except NotFound:
            return None
        finished = exit.exited_at if exit.exited_at and exit.exited_at.year > 1970 else datetime.now(UTC)
        labels = {
            LABEL.STARTED: "true",
            LABEL.EXIT_CODE: str(exit.exit_status),
            LABEL.FINISHED_AT: finished.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        if started:
            labels[LABEL.STARTED_AT] = started
        self.client.containers.update(c.id, labels=labels)
        return exit.exit_status

    def runc_created(self, cid: str) -> str | None:
        """When the container's current task was made (RFC 3339), from the state runc keeps under
        pouchsh's run root until the task is deleted: the start time ``inspect`` shows once the process
        has exited (/proc knows only a running one), kept in a label when the task is reaped. None for
        another runtime, a task gone, or a state file that is not runc's."""
        path = self.paths.runc_root / self.namespace / cid / "state.json"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            data = os.read(fd, _RUNC_STATE_MAX)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            created = json.loads(data).get("created")
        except (ValueError, AttributeError):
            return None
        return created if isinstance(created, str) and len(created) <= 64 else None

    def set_restart_status(self, c: Any, status: str | None) -> None:
        """Tell containerd's restart monitor whether a container with a restart policy should run (a
        start marks it running in ``_note_started``)."""
        if c.labels.get(LABEL.RESTART, "no") == "no":
            return
        self.client.containers.update(c.id, labels={LABEL.RESTART_STATUS: status})

    def start_detached(self, c: Any, plan: Any | None, rootfs: builtins.list[Any] | None = None, *,
                       checkpoint: Any = None) -> None:
        """``checkpoint``: restore the task from this CRIU image (managers.checkpoints) instead."""
        tty = c.labels.get(LABEL.TTY) == "true"
        io, uri = self.log_io(c, tty)
        try:
            if c.labels.get(LABEL.INTERACTIVE) == "true":
                io.stdin_path = str(self.stdin_fifo(c.id))
            # The collector reads the FIFOs from before the task exists: the shim's Create waits for a
            # reader, and should we be killed during it, ours go with us (ctrd.logd's arm). For --rm it
            # also starts the remover once the task's output ends.
            armed = self.notify_collector(c.id, sync=True, arm=True)
            try:
                self.start_task(c, io, plan, rootfs=rootfs, wait=False, log_uri=uri, checkpoint=checkpoint)
            except BaseException:
                if armed:
                    self.notify_collector(c.id, arm=False)
                raise
            if not armed:
                # A collector older than arming: our read ends stay open until it has its own, or a
                # task that prints and exits at once would take its output with it.
                self.notify_collector(c.id, sync=True)
        finally:
            io.close()

    def stdin_fifo(self, cid: str) -> Path:
        """A fresh FIFO for a detached ``-i`` task's stdin in the container's private state directory:
        the shim holds it open (the process never sees EOF), and ``attach`` writes into it."""
        path = self.paths.state_dir(cid) / "stdin"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.unlink(missing_ok=True)
        os.mkfifo(path, 0o600)
        return path

    def remove_when_done(self, c: Any) -> None:
        """An auto-remove (``--rm``) container is removed by a background waiter when it ends
        (managers.autoremove), whoever started it and whether or not they are still there."""
        if c.labels.get(LABEL.AUTO_REMOVE) == "true":
            from managers import autoremove

            autoremove.spawn(self.client.address, self.namespace, Path(self.facade.root), Path(self.facade.run_root), c.id)

    def leave_to_waiter(self, c: Any, removal: Intent) -> None:
        """A ``--rm`` container whose foreground run, or removal, failed: a waiter of its own removes it
        once its task has ended (``remove_when_done``), and ``removal``, the intent, is its now."""
        self.remove_when_done(c)
        removal.clear()

    def auto_removal(self, c: Any) -> Intent:
        """The intent that a ``--rm`` container run in the foreground goes once its task ends, written
        before the task starts and cleared by its removal: if this process dies while the task runs, or
        before the removal is done, the next invocation removes the container (``reconcile_intent``)."""
        return self._removal_intent(c, True, auto_remove=True)

    def finish(self, c: Any, auto_remove: bool, *, removal: Intent | None = None, later: bool = False) -> None:
        """After the foreground task exited: keep its exit in labels, or (``--rm``) remove it all under
        ``removal`` (``auto_removal``'s), behind the caller's back with ``later`` (``destroy_later``); the
        labels would be deleted with the record, so they are not written then."""
        if not auto_remove:
            self.reap(c)
            return
        removal = removal or self.auto_removal(c)
        if later:
            self.destroy_later(c, removal)
        else:
            self.destroy(c, True, exited=True, intent=removal)

    def prepare_start(self, c: Any) -> Any | None:
        """The container, its old task reaped; None when it is running already."""
        task = self.resolver.task(c.id)
        if task is not None:
            if task.status == "running":
                return None
            if task.status in ("paused", "pausing"):
                raise Conflict(f"container {name_of(c)} is paused: unpause it instead")
            self.reap(c)
            c = self.client.containers.get(c.id)
        return c

    # -- stop and remove --------------------------------------------------------------------------

    def stop(self, c: Any, *, timeout: int | None = None, signal: str | None = None) -> None:
        tasks = self.client.tasks
        self.set_restart_status(c, "stopped")
        task = self.resolver.task(c.id)
        if task is None:
            return
        if task.status in ("running", "paused", "pausing"):
            if task.status != "running":
                quiet(tasks.resume, c.id)
            wait = tasks.wait(c.id)
            sig = parse_signal(signal, "--signal")[0] if signal else c.labels.get(LABEL.STOP_SIGNAL, "SIGTERM")
            limit = stop_timeout(c.labels) if timeout is None else timeout
            quiet(tasks.kill, c.id, sig)
            try:
                wait.result(timeout=max(limit, 0) if limit >= 0 else None)
            except Timeout:
                quiet(tasks.kill, c.id, "SIGKILL", all=True)
                wait.result(timeout=30)
        self.reap(c)

    def destroy(self, c: Any, remove_volumes: bool, *, exited: bool = False, intent: Intent | None = None) -> None:
        """Remove a container and everything it owns, whatever state it is in. ``exited``: the caller
        saw its task exit (a foreground ``--rm`` run), so there is nothing to look up or kill; ``intent``:
        the removal's, written already (``auto_removal``)."""
        intent = intent or self._removal_intent(c, remove_volumes)
        try:
            self._destroy_held(c, remove_volumes, exited)
        finally:
            intent.clear()

    def destroy_later(self, c: Any, intent: Intent) -> None:
        """``destroy`` of a foreground ``--rm`` run's container, whose task has exited, in a thread
        (managers.deferred): the exit is reported and the script goes on while containerd deletes the
        task. Under ``auto_removal``'s intent, so a kill -9 at any point leaves the container to the next
        invocation's reconcile; a removal that fails is retried by a waiter, as a synchronous one's is
        (``ContainerManager.run``)."""
        faults.point("container.rm.deferred")

        def work() -> None:
            try:
                self._destroy_held(c, True, True)
            except (PouchError, OSError):
                with contextlib.suppress(OSError):  # not spawned: the intent stays for the next invocation
                    self.leave_to_waiter(c, intent)
                return
            intent.clear()

        deferred.later(work, "pouchsh-rm")

    def _removal_intent(self, c: Any, remove_volumes: bool, *, auto_remove: bool = False) -> Intent:
        """Once the record is deleted, only this intent names the container's files, name and volumes."""
        return Journal(self.facade.root).begin(
            "container.rm", namespace=self.namespace, id=c.id, name=c.labels.get(LABEL.NAME),
            volumes=_volume_names(c) if remove_volumes else [], **({"auto_remove": True} if auto_remove else {}),
        )

    def _destroy_held(self, c: Any, remove_volumes: bool, exited: bool) -> None:
        with container_lock(self.paths.lock_path(c.id), remove=True):
            self._destroy_steps(c, remove_volumes, exited)

    def _destroy_steps(self, c: Any, remove_volumes: bool, exited: bool) -> None:
        cid = c.id
        names = _volume_names(c)
        tasks = self.client.tasks
        if c.labels.get(LABEL.RESTART_STATUS):
            quiet(self.client.containers.update, cid, labels={LABEL.RESTART_STATUS: None})
        task = None if exited else self.resolver.task(cid)
        if task is not None and task.status != "stopped":
            if task.status in ("paused", "pausing"):
                quiet(tasks.resume, cid)
            wait = tasks.wait(cid)
            quiet(tasks.kill, cid, "SIGKILL", all=True)
            try:
                wait.result(timeout=30)
            except PouchError:
                pass
        faults.point("container.rm.killed")
        if not exited:
            quiet(self.facade.networks.detach, cid, removing=True)
        faults.point("container.rm.detached")
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
        faults.point("container.rm.deleted")
        if names:
            quiet(self.facade.volumes.release, cid, names, remove_anonymous=remove_volumes)
        name = c.labels.get(LABEL.NAME)
        if name:
            quiet(self.resolver.names().release, name, cid)
        quiet(ipcshm.unmount, self.paths.state_dir(cid))  # before its mount point goes with the directory
        shutil.rmtree(self.paths.state_dir(cid), ignore_errors=True)
        self._remove_fifo_dirs(cid)
        self.notify_collector(cid, start=False)  # it closes the FIFOs it still held (a restart policy's)
        if exited:
            # A foreground --rm run's DELs run in a thread while its exit is reported and the next
            # statement begins; last, so that they overlap no step of this removal (this intent, still
            # open, names the container's network until the DEL's own intent is written).
            quiet(self.facade.networks.detach_later, cid)

    # -- crash safety ---------------------------------------------------------------------------

    def reconcile_intent(self, record: dict[str, Any]) -> None:
        """A ``create``/``run`` killed before its container existed, or an ``rm`` killed after it deleted
        the record (managers.intents): remove what was made for it on the host (files, FIFOs, name, the
        anonymous volumes it made or ``rm -v`` was removing), its snapshot, and the leases the dead
        process held (so what they hold is not kept for a lease's 24 hours). A container that exists
        needs nothing: it was made, or is still there to ``rm`` again; unless it is a foreground ``--rm``
        run's (``auto_remove``), which nobody else would remove: it is removed now if its task has ended,
        else by a waiter once it does, as ``run -d --rm``'s is."""
        if record["kind"] not in ("container.create", "container.rm"):
            raise InvalidArgument(f"unknown container intent {record['kind']!r}")
        cid = record["id"]
        try:
            c = self.client.containers.get(cid)
        except NotFound:
            pass
        else:
            if record.get("auto_remove"):
                task = self.resolver.task(cid)
                if task is None or task.status == "stopped":
                    self.destroy(c, True)
                else:
                    self.remove_when_done(c)
            return
        for lease in self.client.leases.list():
            if lease.labels.get(OWNER_LABEL) == record["owner"]:
                quiet(self.client.leases.delete, lease.id, sync=True)
        quiet(self.client.snapshots.remove, cid)
        self.facade.networks.detach(cid)
        ipcshm.unmount(self.paths.state_dir(cid))  # a --ipc shareable tmpfs, before its mount point goes
        shutil.rmtree(self.paths.state_dir(cid), ignore_errors=True)
        self._remove_fifo_dirs(cid)
        if record.get("name"):
            self.resolver.names().release(record["name"], cid)
        if record.get("volumes"):
            self.facade.volumes.release(cid, record["volumes"], remove_anonymous=True)

    def _remove_fifo_dirs(self, cid: str) -> None:
        """FIFO directories of foreground runs and execs whose pouchsh died before closing them (they are
        named after the process id, which starts with the container id)."""
        root = self.paths.fifo_root
        for pattern in (f"{cid[:32]}-*", f"{cid[:20]}-exec-*"):
            for stale in root.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)


def _volume_names(c: Any) -> builtins.list[str]:
    return [n for n in c.labels.get(LABEL.VOLUMES, "").split(",") if n]


def _netns(spec: dict[str, Any]) -> str | None:
    """The network namespace file a spec's task joins; None for one runc makes (or none at all)."""
    for ns in ((spec or {}).get("linux") or {}).get("namespaces") or []:
        if ns.get("type") == "network":
            return ns.get("path") or None
    return None


def _set_netns(spec: dict[str, Any], path: str) -> None:
    for ns in spec["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = path


def _stale_bundle(message: str) -> bool:
    """containerd 1.6's words when a task's bundle directory is still there (runtime/v2 NewBundle's
    mkdir), or was removed by that cleanup under the new shim starting in it (the shim's getwd)."""
    return "failed to start shim:" in message and (
        ("mkdir" in message and "file exists" in message) or "getwd: no such file or directory" in message
    )


def stop_timeout(labels: Any) -> int:
    text = labels.get(LABEL.STOP_TIMEOUT)
    try:
        return int(text) if text is not None else DEFAULT_STOP_TIMEOUT
    except ValueError:
        return DEFAULT_STOP_TIMEOUT


def log_opts(labels: Any) -> tuple[int, int]:
    """The JSON log's rotation (max size, files) a container was created with."""
    from ctrd.logger import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE

    opts = dict(item.partition("=")[::2] for item in labels.get(LABEL.LOG_OPTS, "").split(",") if item)
    try:
        return int(opts.get("max-size", DEFAULT_MAX_SIZE)), int(opts.get("max-file", DEFAULT_MAX_FILE))
    except ValueError:
        return DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE


_RUNC_SHIMS = ("io.containerd.runc.v1", "io.containerd.runc.v2")


#: runc's state.json is a few KiB; a larger read is not runc's file
_RUNC_STATE_MAX = 1 << 20


def _runtime_options(runtime: str, binary: str | None, runc_root: Path) -> bytes:
    """``containerd.runc.v1.Options`` for the runc shims: the OCI runtime binary, and runc's state
    directory under pouchsh's run root (runc's default, /run/containerd/runc, belongs to the system's
    containerd). Other runtimes get none, as ctr sends them."""
    if runtime not in _RUNC_SHIMS:
        return b""
    from ctrd.api.runc.options import oci_pb2

    return oci_pb2.Options(binary_name=binary or "", root=str(runc_root)).SerializeToString()


def quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run a clean-up step whose failure must not hide the error being handled."""
    try:
        fn(*args, **kwargs)
    except (PouchError, OSError):
        pass
