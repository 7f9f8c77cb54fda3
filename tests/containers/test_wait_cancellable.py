"""The foreground wait: Ctrl-C (or ``stdio.cancel``) runs each escalation step once its delay after the
cancel has passed, and the exit status is returned with whether the wait was cancelled."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace
from typing import Any

from ctrd.errors import Timeout
from managers.console import Stdio
from managers.foreground import wait_cancellable


class _Exit:
    """An exit future that ends once ``done`` is set, with ``status``."""

    def __init__(self, status: int) -> None:
        self.done = threading.Event()
        self.status = status

    def result(self, timeout: float) -> Any:
        if not self.done.wait(timeout):
            raise Timeout("not yet")
        return SimpleNamespace(exit_status=self.status)


def _stdio() -> Stdio:
    return Stdio(stdin=None, stdout=io.BytesIO(), stderr=io.BytesIO())


def test_an_exit_without_cancel_runs_no_step() -> None:
    future, ran = _Exit(3), []
    future.done.set()
    assert wait_cancellable(future, _stdio(), [(0.0, lambda: ran.append("stop"))]) == (3, False)
    assert ran == []


def test_a_cancel_runs_the_first_step_at_once_and_the_next_after_its_delay() -> None:
    future, stdio, ran = _Exit(137), _stdio(), []

    def kill() -> None:
        ran.append(("kill", time.monotonic()))
        future.done.set()

    stdio.cancel.set()
    started = time.monotonic()
    status = wait_cancellable(future, stdio, [(0.0, lambda: ran.append(("stop", time.monotonic()))), (0.3, kill)])
    assert status == (137, True)
    assert [name for name, _ in ran] == ["stop", "kill"]
    assert ran[1][1] - started >= 0.3


def test_an_exit_before_the_delay_skips_the_later_step() -> None:
    future, stdio, ran = _Exit(4), _stdio(), []

    def stop() -> None:
        ran.append("stop")
        future.done.set()

    stdio.cancel.set()
    assert wait_cancellable(future, stdio, [(0.0, stop), (60.0, lambda: ran.append("kill"))]) == (4, True)
    assert ran == ["stop"]
