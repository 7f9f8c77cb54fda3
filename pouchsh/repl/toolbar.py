"""The bottom toolbar: containerd's address and whether it answers, the namespace, the last exit status.

Whether containerd answers is found out by a daemon thread that probes it every few seconds; the
toolbar only reads the last answer, so drawing it never waits on the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from prompt_toolkit.formatted_text import StyleAndTextTuples

__all__ = ["ContainerdStatus", "Probe", "toolbar_text"]

#: Dials containerd (or not) and returns its address; raises when it does not answer.
Probe = Callable[[], str]


@dataclass
class _Answer:
    address: str = ""
    up: bool | None = None  # None: not probed yet
    detail: str = ""


class ContainerdStatus:
    """containerd's reachability, kept fresh by a background thread."""

    def __init__(self, probe: Probe, *, address_hint: str = "", interval: float = 5.0) -> None:
        self._probe = probe
        self._interval = interval
        self._answer = _Answer(address=address_hint)
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_change: Callable[[], None] | None = None

    @property
    def address(self) -> str:
        return self._answer.address

    @property
    def up(self) -> bool | None:
        return self._answer.up

    @property
    def detail(self) -> str:
        return self._answer.detail

    def start(self) -> None:
        """Probe every interval from now on (call `check_now` first for an answer straight away)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pouchsh-status", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check_now(self) -> None:
        """Probe once, in the caller's thread (the background loop does the same every interval)."""
        try:
            answer = _Answer(address=self._probe(), up=True)
        except Exception as err:  # noqa: BLE001 - any failure to answer means "down", shown, not raised
            answer = _Answer(address=self._answer.address, up=False, detail=str(err).splitlines()[0][:80])
        changed = answer.up != self._answer.up or answer.address != self._answer.address
        self._answer = answer
        self._changed.set()
        if changed and self.on_change is not None:
            self.on_change()

    def wait_checked(self, timeout: float) -> bool:
        """Wait until the first probe has answered; False on timeout."""
        return self._changed.wait(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check_now()


def toolbar_text(
    status: ContainerdStatus, namespace: str, last_status: int | None, running: int | None = None
) -> StyleAndTextTuples:
    """The toolbar as prompt_toolkit formatted text."""
    state: tuple[str, str]
    if status.up is None:
        state = ("class:toolbar.pending", " connecting… ")
    elif status.up:
        state = ("class:toolbar.up", " up ")
    else:
        state = ("class:toolbar.down", " down ")
    parts: StyleAndTextTuples = [
        ("class:toolbar", " containerd "),
        ("class:toolbar.address", status.address or "(default)"),
        ("class:toolbar", " "),
        state,
        ("class:toolbar", f"  namespace {namespace}"),
    ]
    if running is not None:
        parts.append(("class:toolbar", f"  {running} running"))
    if status.up is False and status.detail:
        parts.append(("class:toolbar.detail", f"  {status.detail}"))
    if last_status:
        parts.append(("class:toolbar.down", f"  exit {last_status} "))
    return parts
