"""What the REPL's tests share: ``pipe``, a prompt_toolkit session fed from a pipe with no terminal, and
`interrupt_once_running`, a Ctrl-C sent as soon as the command typed runs."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        yield inp


def interrupt_once_running() -> None:
    """In a thread of its own: SIGINT this process once the REPL's worker runs a command (within 10 s)."""

    def interrupt() -> None:
        deadline = time.monotonic() + 10
        while not any(t.name == "pouchsh-eval" for t in threading.enumerate()):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
