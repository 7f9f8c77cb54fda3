"""``$status`` at the prompt: Ctrl-C makes it 130, as bash's ``$?``; a container command that failed
before its command ran leaves docker's 125, 126 or 127 in it."""

from __future__ import annotations

import signal
import threading

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input.base import PipeInput

from pouchsh.repl import Shell
from tests.reliability.conftest import Shell as EngineShell
from tests.reliability.conftest import roots, shell
from tests.repl.conftest import interrupt_once_running

__all__ = ["roots", "shell"]

CTRL_C, CTRL_D = "\x03", "\x04"


@pytest.fixture
def prompt() -> Shell:
    return Shell(address="unix:///nonexistent/containerd.sock", history=InMemoryHistory())


def test_ctrl_c_at_the_prompt_sets_status_130(pipe: PipeInput, prompt: Shell,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    pipe.send_text('echo "before $status"\r')
    pipe.send_text("half a line" + CTRL_C)
    pipe.send_text('echo "after $status"\r' + CTRL_D)
    assert prompt.repl.loop() == 0  # the echo's status: Ctrl-D leaves with the last command's
    out = capfd.readouterr().out
    assert "before 0" in out and "after 130" in out


def test_ctrl_c_during_a_command_sets_status_130(pipe: PipeInput, prompt: Shell,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    pipe.send_text("sleep 1m\r")
    pipe.send_text('echo "status $status"\r' + CTRL_D)
    interrupt_once_running()
    try:
        prompt.repl.loop()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "status 130" in capfd.readouterr().out


@pytest.mark.containerd
def test_a_command_that_cannot_run_leaves_127_in_status(shell: EngineShell) -> None:
    session, cancel = shell.session, threading.Event()
    assert session.run("run --rm busybox nosuchcmd", cancel) == 127
    assert session.run("echo $status", cancel) == 0
    assert shell.out.getvalue().decode().endswith("127\n")
    assert session.run("run --rm busybox sh -c 'exit 5'", cancel) == 5
    assert session.run("rm nosuch", cancel) == 1  # no container command ran: $status stays
    shell.out.seek(0)
    shell.out.truncate()
    session.run("echo $status", cancel)
    assert shell.out.getvalue() == b"5\n"
