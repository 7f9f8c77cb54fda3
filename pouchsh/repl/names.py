"""Where the REPL's live names come from: containerd's watch cache and the managers' cheap lists.

`ContainerNames` reads the names of the current namespace's containers from a `ctrd.watch.Watcher`
(an event-driven cache), rebuilt per cache generation, and follows ``namespace use`` by starting a
watcher for the new namespace in the background. `list_loaders` gives the loaders for the other kinds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from managers.labels import LABEL

__all__ = ["ContainerNames", "list_loaders"]


class ContainerNames:
    """Container names (or short ids, for containers pouchsh did not name) from the watch cache."""

    def __init__(self, managers: Callable[[], Any], namespace: Callable[[], str]) -> None:
        self._managers = managers
        self._namespace = namespace
        self._watcher: Any = None
        self._starting = False
        self._lock = threading.Lock()
        self._cached: tuple[str, int, tuple[str, ...]] = ("", -1, ())

    def __call__(self) -> Sequence[str]:
        watcher = self._watcher
        namespace = self._namespace()
        if watcher is None or watcher.namespace != namespace:
            self._start_soon()
            return ()
        ns, generation, names = self._cached
        if ns == namespace and generation == watcher.generation:
            return names
        snapshot = watcher.snapshot()
        names = tuple(sorted(
            c.labels.get(LABEL.NAME) or c.id[:12] for c in snapshot.containers.values()
        ))
        self._cached = (namespace, snapshot.generation, names)
        return names

    def running(self) -> int | None:
        """How many containers of the current namespace run now; None while the cache is not live."""
        watcher = self._watcher
        if watcher is None or watcher.namespace != self._namespace():
            return None
        snapshot = watcher.snapshot()
        if not snapshot.synced:
            return None
        return sum(1 for task in snapshot.tasks.values() if task.status == "running")

    def start(self) -> None:
        """Start the watcher for the current namespace, in the caller's thread (it dials containerd)."""
        self.attach(self._managers().watch())

    def attach(self, watcher: Any) -> None:
        """Read names from ``watcher`` (a started ``ctrd.watch.Watcher``) from now on; the previous
        one, if any, is stopped in the background."""
        with self._lock:
            old, self._watcher = self._watcher, watcher
            self._starting = False
        if old is not None:
            threading.Thread(target=old.stop, name="pouchsh-watch-stop", daemon=True).start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def _start_soon(self) -> None:
        with self._lock:
            if self._starting:
                return
            self._starting = True
        threading.Thread(target=self._start_quietly, name="pouchsh-watch-start", daemon=True).start()

    def _start_quietly(self) -> None:
        try:
            self.start()
        except Exception:  # noqa: BLE001 - containerd not reachable: complete no names, try again later
            with self._lock:
                self._starting = False


def list_loaders(managers: Callable[[], Any]) -> dict[str, Callable[[], Iterable[str]]]:
    """Loaders for the kinds that have no event cache: one list call each."""

    def images() -> Iterable[str]:
        return (r["name"] for r in managers().images.list())

    def volumes() -> Iterable[str]:
        return (r["name"] for r in managers().volumes.list())

    def networks() -> Iterable[str]:
        return (r["name"] for r in managers().networks.list())

    def namespaces() -> Iterable[str]:
        return (n.name for n in managers().client.namespaces.list())

    return {"image": images, "volume": volumes, "network": networks, "namespace": namespaces}
