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
    ) -> None:
        self.address = address
        # ``pouchsh --insecure-registry HOST``: added to the settings file's insecure-registries
        self.insecure_registries = insecure_registries
        self.namespace = namespace
        # Kept as given until a manager asks for a Path: pathlib (with urllib.parse and ipaddress, ~3% of
        # a `pouchsh -c version`) is not needed to reach a containerd that already runs.
        self._root: str | Path = root or os.environ.get("POUCHSH_ROOT") or "/var/lib/pouchsh"
        self._run_root: str | Path = run_root or os.environ.get("POUCHSH_RUN") or "/run/pouchsh"
        # False for the OCI hooks runc runs mid Tasks.Create: they must be quick, and the pouchsh that
        # started the task reconciles anyway.
        self._reconcile_pending = reconcile
        # The open transactions (managers.transactions): what is made meanwhile carries the id of the one
        # open on the main thread (worker threads it starts see it too), or of a worker's own.
        self._tx_shared: Any = None
        self._tx_local = threading.local()

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

        return ContainerManager(self)

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
    def system(self) -> Any:
        self._reconcile()
        from managers.system import SystemManager

        return SystemManager(self)

    def watch(self) -> ctrd.watch.Watcher:
        """A started watch cache of the current namespace (containers and tasks kept live from events),
        for the prompt's completion and status; the caller stops it."""
        from ctrd.watch import Watcher

        return Watcher(self.client.with_namespace(self.namespace)).start()

    def close(self) -> None:
        client = self.__dict__.get("client")
        if client is not None:
            client.close()
