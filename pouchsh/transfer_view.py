"""How a pull or push shows its progress (the managers only report ``managers.progress.Progress`` events).

- On a terminal: one line a blob with bytes, speed and time left (rich's progress), drawn on stderr and
  collapsed, when the transfer ends, into one summary line.
- Elsewhere (a script, a pipe, ``--json``): one JSON object a line on stderr, ``{"event": "progress",
  "id", "kind", "status", "current", "total"}``, a line at each change of status and at most every half
  second of bytes for each blob, so a log shows the transfer without drowning in it. The command's record
  still goes to stdout.
- ``--quiet``: nothing.

Events come from several threads at once (layers move in parallel): each view takes a lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["transfer_view"]

_BYTES_EVERY = 0.5  # seconds between two byte-count lines of one blob in the JSON view
_MOVING = ("downloading", "uploading")


@contextmanager
def transfer_view(ctx: Any, quiet: bool, verb: str) -> Iterator[Callable[[Any], None] | None]:
    """The progress callback for one transfer (None with ``--quiet``), finished when the block ends."""
    if quiet:
        yield None
        return
    if ctx.is_terminal and not ctx.json_output:
        view: _Terminal | _Json = _Terminal(ctx.stderr, verb)
    else:
        view = _Json(ctx.stderr)
    try:
        yield view.event
    finally:
        view.close()


class _Json:
    def __init__(self, err: IO[bytes]) -> None:
        self._err = err
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}

    def event(self, e: Any) -> None:
        now = time.monotonic()
        with self._lock:
            status, when = self._last.get(e.id, ("", 0.0))
            if e.status == status and e.status in _MOVING and now - when < _BYTES_EVERY:
                return
            self._last[e.id] = (e.status, now)
            line = {"event": "progress", "id": e.id, "kind": e.kind, "status": e.status,
                    "current": e.current, "total": e.total}
            self._err.write(json.dumps(line).encode() + b"\n")
            self._err.flush()

    def close(self) -> None:
        pass


class _Terminal:
    def __init__(self, err: IO[bytes], verb: str) -> None:
        from rich.console import Console  # only a terminal draws bars: rich is not on a script's path
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._console = Console(file=_Text(err), force_terminal=True, stderr=True)
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._verb = verb
        self._tasks: dict[str, Any] = {}
        self._sizes: dict[str, int] = {}
        self._moved: set[str] = set()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._bars.start()

    def event(self, e: Any) -> None:
        with self._lock:
            self._sizes[e.id] = e.total
            if e.status in _MOVING:
                self._moved.add(e.id)
            task = self._tasks.get(e.id)
            if task is None:
                label = f"{e.id.removeprefix('sha256:')[:12]} {e.kind}"
                task = self._tasks[e.id] = self._bars.add_task(label, total=e.total or None)
            self._bars.update(task, completed=e.current, total=e.total or None)

    def close(self) -> None:
        self._bars.stop()
        moved = sum(self._sizes[i] for i in self._moved)
        took = max(time.monotonic() - self._started, 1e-3)
        kept = len(self._sizes) - len(self._moved)
        self._console.print(
            f"{self._verb}: {len(self._moved)} blobs, {_human(moved)} in {took:.1f}s "
            f"({_human(int(moved / took))}/s)" + (f", {kept} already there" if kept else ""),
            highlight=False,
        )


class _Text:
    """The command's binary stderr as the text file rich writes to (the REPL's is no io object)."""

    def __init__(self, err: IO[bytes]) -> None:
        self._err = err

    def write(self, text: str) -> int:
        self._err.write(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        self._err.flush()

    def isatty(self) -> bool:
        return True


def _human(n: int) -> str:
    size, unit = float(n), "B"
    for bigger in ("kB", "MB", "GB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
