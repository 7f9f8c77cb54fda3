"""Live object names for completion, answered from memory.

Each kind has a loader (a cheap list call: ``images``, ``volume ls`` ...) that a daemon thread runs
after start-up, after every command the user runs (it may have created or removed something) and
every ``interval`` seconds. A kind can also have a direct source that is itself a live cache (the
containers come from ctrd's event-driven watch cache), which is read as is. Completion reads only
the last lists; it never waits on a loader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["LiveNames"]

Loader = Callable[[], Iterable[str]]


class LiveNames:
    """A `pouchsh.completion.NameSource` over background-refreshed lists and live caches."""

    def __init__(
        self,
        loaders: Mapping[str, Loader],
        *,
        live: Mapping[str, Callable[[], Sequence[str]]] | None = None,
        interval: float = 10.0,
    ) -> None:
        self._loaders = dict(loaders)
        self._live = dict(live or {})
        self._interval = interval
        self._lists: dict[str, tuple[str, ...]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: set after each full refresh (tests wait on it instead of sleeping)
        self.refreshed = threading.Event()

    def names(self, kind: str) -> Sequence[str]:
        source = self._live.get(kind)
        if source is not None:
            try:
                return source()
            except Exception:  # noqa: BLE001 - a cache not ready yet completes nothing
                return ()
        return self._lists.get(kind, ())

    def set_live(self, kind: str, source: Callable[[], Sequence[str]]) -> None:
        """Read ``kind`` from a live cache from now on (set once the cache has started)."""
        self._live[kind] = source

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pouchsh-names", daemon=True)
            self._thread.start()

    def refresh(self) -> None:
        """Ask the background thread to reload every list soon."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def load_all(self) -> None:
        """Reload every list now, in the caller's thread."""
        for kind, loader in self._loaders.items():
            if kind in self._live:
                continue
            try:
                names = tuple(sorted({n for n in loader() if n}))
            except Exception:  # noqa: BLE001, S112 - containerd down or a manager missing: keep the old list
                continue
            self._lists[kind] = names
        self.refreshed.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.load_all()
            self._wake.wait(self._interval)
