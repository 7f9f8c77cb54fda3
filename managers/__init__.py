"""The managers: container, image, volume, network and system, over one containerd connection.

``Managers`` is the facade the language holds (``ctx.managers``). Each manager is built on first use, so
a script that only parses, or only touches volumes, never dials containerd. Managers read the namespace
from the facade on every call, so ``namespace use`` takes effect for all of them at once.

The first manager built also reconciles the intent journal (managers.intents): what a SIGKILLed pouchsh
left half-done on the host is finished or undone before this one touches the same stores. With nothing
in flight that is one ``listdir`` of ``<root>/intents``; the journal module is imported only when there
is something to do.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import ctrd
    import ctrd.watch
    from managers.contexts import ContextStore

__all__ = ["Managers", "cancel_calls_on"]


def cancel_calls_on(cancel: threading.Event) -> None:
    """From now on, setting ``cancel`` (the command line's first Ctrl-C) also cancels the containerd call
    in flight at that moment, so a command waiting on a stopped containerd ends at once."""
    from ctrd.interrupt import cancel_calls_on as arm

    arm(cancel)


class Managers:
    def __init__(
        self,
        *,
        address: str | None = None,
        namespace: str = "default",
        root: Path | None = None,
        run_root: Path | None = None,
        reconcile: bool = True,
        insecure_registries: tuple[str, ...] = (),
        contexts_dir: str | os.PathLike[str] | None = None,
        context: str | None = None,
        use: str | None = None,
    ) -> None:
        """``use``: start on this stored context (``--context NAME``), its namespace unless ``namespace``
        was given as other than the default; ``context``: the name of the context ``address`` already is."""
        self.address = address
        # ``pouchsh --insecure-registry HOST``: added to the settings file's insecure-registries
        self.insecure_registries = insecure_registries
        self.namespace = namespace
        #: the context this facade is on (managers.contexts); None for the session's own endpoint
        self.context = context
        self._contexts_dir = contexts_dir
        self._for_context: dict[str, Managers] = {}
        # Kept as given until a manager asks for a Path: pathlib (with urllib.parse and ipaddress, ~3% of
        # a `pouchsh -c version`) is not needed to reach a containerd that already runs.
        self._root: str | Path = root or os.environ.get("POUCHSH_ROOT") or "/var/lib/pouchsh"
        self._run_root: str | Path = run_root or os.environ.get("POUCHSH_RUN") or "/run/pouchsh"
        # The open transactions (managers.transactions): what is made meanwhile carries the id of the one
        # open on the main thread (worker threads it starts see it too), or of a worker's own.
        self._tx_shared: Any = None
        self._tx_local = threading.local()
        # False for the OCI hooks runc runs mid Tasks.Create: they must be quick, and the pouchsh that
        # started the task reconciles anyway.
        self._reconcile_pending = self._reconcile_wanted = reconcile
        # Where the roots of contexts hang (``<root>/contexts/<name>``), and the endpoint ``default`` means.
        self._home = (self._root, self._run_root)
        self._start = (address, namespace)
        if use is not None and use != "default":
            chosen = namespace
            self.switch_context(use)
            if chosen != "default":
                self.namespace = chosen

    def _reconcile(self) -> None:
        if not self._reconcile_pending:
            return
        self._reconcile_pending = False
        from ctrd.logd import revive

        revive(self._root, self._run_root)  # a log collector killed: its containers' output waits for it
        try:
            pending = os.listdir(os.path.join(self._root, "intents"))
        except OSError:
            return
        if pending:
            from managers.intents import reconcile

            reconcile(self)

    @property
    def transaction(self) -> Any:
        """The transaction open on this thread: its own (a worker that began one, e.g. a parallel
        upgrade), else the main thread's."""
        return getattr(self._tx_local, "tx", None) or self._tx_shared

    def set_transaction(self, tx: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            self._tx_shared = tx
        else:
            self._tx_local.tx = tx

    @cached_property
    def root(self) -> Path:
        """The data root: the one given, else ``$POUCHSH_ROOT`` or /var/lib/pouchsh."""
        from pathlib import Path

        return Path(self._root)

    @cached_property
    def run_root(self) -> Path:
        """Runtime state (sockets, FIFOs, locks that need not survive a reboot): the one given, else
        ``$POUCHSH_RUN`` or /run/pouchsh."""
        from pathlib import Path

        return Path(self._run_root)

    @cached_property
    def client(self) -> ctrd.Client:
        """The containerd client, dialled (and an embedded containerd started) on first use."""
        import ctrd

        return ctrd.connect(self.address, data_root=self._root, run_root=self._run_root)

    @property
    def ctrd(self) -> ctrd.Client:
        """The client bound to the current namespace."""
        return self.client.with_namespace(self.namespace)

    @cached_property
    def containers(self) -> Any:
        self._reconcile()
        from managers.containers import ContainerManager
        from managers.restartlogs import marker

        manager = self.__dict__["containers"] = ContainerManager(self)  # the migration below uses it
        # Containers of the first release (managers.restartlogs): here, not in _reconcile, so a script
        # that only touches volumes still never dials containerd; once migrated, one stat.
        if self._reconcile_wanted and not os.path.exists(marker(self._root, self.namespace)):
            from managers.restartlogs import migrate

            migrate(self)
        return manager

    @cached_property
    def images(self) -> Any:
        self._reconcile()
        from managers.images import ImageManager

        return ImageManager(self)

    @cached_property
    def volumes(self) -> Any:
        self._reconcile()
        from managers.volumes import VolumeManager

        return VolumeManager(self)

    @cached_property
    def networks(self) -> Any:
        self._reconcile()
        from managers.networks import NetworkManager

        return NetworkManager(self)

    @cached_property
    def transactions(self) -> Any:
        self._reconcile()
        from managers.transactions import TransactionManager

        return TransactionManager(self)

    @cached_property
    def upgrades(self) -> Any:
        """``upgrade``: a container replaced from another image, or the old one back (managers.upgrade)."""
        self._reconcile()
        from managers.upgrade import Upgrader

        return Upgrader(self)

    @cached_property
    def health(self) -> Any:
        """Healthcheck probes and waits (managers.healthprobe); no daemon runs them (managers.health)."""
        from managers.healthprobe import HealthMonitor

        return HealthMonitor(self)

    @cached_property
    def pods(self) -> Any:
        """Pods through containerd's CRI (managers.pods)."""
        self._reconcile()
        from managers.pods import PodManager

        return PodManager(self)

    @cached_property
    def checkpoints(self) -> Any:
        """CRIU checkpoints of containers (managers.checkpoints)."""
        from managers.checkpoints import CheckpointManager

        return CheckpointManager(self)

    @cached_property
    def lxcfs(self) -> Any:
        """The lxcfs that ``--enable-lxcfs`` containers use (managers.lxcfs)."""
        from managers.lxcfs import LxcfsManager

        return LxcfsManager(self)

    @cached_property
    def system(self) -> Any:
        self._reconcile()
        from managers.system import SystemManager

        return SystemManager(self)

    @cached_property
    def contexts(self) -> ContextStore:
        """The stored contexts: ``<config dir>/contexts`` unless the facade was given another directory."""
        from managers.contexts import ContextStore

        if self._contexts_dir is None:
            from managers.config import config_dir

            return ContextStore(config_dir() / "contexts")
        return ContextStore(self._contexts_dir)

    def for_context(self, name: str) -> Managers:
        """A facade on the stored context ``name`` (``default``: this one), built once and kept.

        Its data and run roots are this facade's under ``contexts/<name>``: two containerds on one machine
        must not share name reservations, logs or FIFOs, which are keyed by namespace only."""
        from managers.contexts import DEFAULT

        if name == (self.context or DEFAULT):
            return self
        import threading

        with self.__dict__.setdefault("_for_context_lock", threading.Lock()):
            found = self._for_context.get(name)
            if found is None:
                found = self._on(None if name == DEFAULT else self.contexts.get(name))
                self._for_context[name] = found
            return found

    def for_namespace(self, namespace: str) -> Managers:
        """A facade on another namespace of this one's containerd (``ps --all-namespaces`` and records
        routed back to their namespace), sharing its client; built once and kept."""
        if namespace == self.namespace:
            return self
        import threading

        with self.__dict__.setdefault("_for_context_lock", threading.Lock()):
            key = f"namespace:{namespace}"
            found = self._for_context.get(key)
            if found is None:
                found = Managers(address=self.address, namespace=namespace, root=self._root, run_root=self._run_root,
                                 contexts_dir=self._contexts_dir, context=self.context,
                                 insecure_registries=self.insecure_registries)
                found._home, found._start = self._home, self._start
                found.__dict__["client"] = self.client
                found._shares_client = True
                self._for_context[key] = found
            return found

    def _on(self, context: Any) -> Managers:
        """A facade on ``context`` (None: the endpoint this session started on)."""
        from pathlib import Path

        home_root, home_run = self._home
        if context is None:
            other = Managers(address=self._start[0], namespace=self._start[1], root=Path(home_root),
                             run_root=Path(home_run), contexts_dir=self.contexts.directory)
            other._home, other._start = self._home, self._start
            return other
        from managers.contexts import POUCHD

        if context.kind == POUCHD:
            from managers.pouchdclient import TLSFiles
            from managers.remote import RemoteManagers

            tls = TLSFiles(*context.tls) if context.tls is not None else None
            return RemoteManagers(context.name, context.address, context.namespace, tls)  # type: ignore[return-value]
        other = Managers(
            address=context.address, namespace=context.namespace,
            root=Path(home_root) / "contexts" / context.name, run_root=Path(home_run) / "contexts" / context.name,
            contexts_dir=self.contexts.directory, context=context.name,
        )
        other._home, other._start = self._home, self._start
        return other

    def use_context(self, name: str) -> dict[str, Any]:
        """``context use``: switch to context ``name`` and store it as the current one."""
        self._session_context(name)
        self.contexts.use(name)
        return self.switch_context(name)

    def switch_context(self, name: str) -> dict[str, Any]:
        """Point this facade, and with it the rest of the session, at context ``name`` (``default``: back to
        the endpoint it started on); its record."""
        from managers.contexts import DEFAULT

        if name == DEFAULT:
            self.address, self.namespace = self._start
            self._root, self._run_root = self._home
            self.context = None
            record = {"name": DEFAULT, "current": True, "address": self.address or "", "namespace": self.namespace,
                      "description": "the session's own endpoint"}
        else:
            context = self._session_context(name)
            other = self._on(context)
            self.address, self.namespace = context.address, context.namespace
            self._root, self._run_root = other._root, other._run_root
            self.context = name
            record = context.record(name)
        self._drop_built()
        return record

    def _session_context(self, name: str) -> Any:
        """Context ``name``, which a whole session may talk to: a containerd's. A pouchd context serves a
        few commands through its API (managers.remote), so it is reached per command (``--context``)."""
        from managers.contexts import DEFAULT, POUCHD

        if name == DEFAULT:
            return None
        context = self.contexts.get(name)
        if context.kind == POUCHD:
            from ctrd.errors import InvalidArgument

            raise InvalidArgument(
                f"context {name} is a pouchd ({context.address}): a session cannot run on it",
                hint=f"give --context {name} to ps, inspect, rm, logs, run -d, images or pull")
        return context

    def _drop_built(self) -> None:
        """Forget the client and every manager built on the old endpoint; the next use builds them anew."""
        for other in list(self._for_context.values()):
            other.close()
        self._for_context.clear()
        client = self.__dict__.pop("client", None)
        for attr in ("root", "run_root", "containers", "images", "volumes", "networks", "system", "pods", "lxcfs", "checkpoints"):
            self.__dict__.pop(attr, None)
        self._reconcile_pending = self._reconcile_wanted
        if client is not None:
            client.close()

    def watch(self) -> ctrd.watch.Watcher:
        """A started watch cache of the current namespace (containers and tasks kept live from events),
        for the prompt's completion and status; the caller stops it."""
        from ctrd.watch import Watcher

        return Watcher(self.client.with_namespace(self.namespace)).start()

    def close(self) -> None:
        from managers import deferred

        deferred.settle()  # what --rm runs left behind their exits
        for other in list(self._for_context.values()):
            other.close()
        self._for_context.clear()
        client = self.__dict__.get("client")
        if client is not None and not getattr(self, "_shares_client", False):
            client.close()
