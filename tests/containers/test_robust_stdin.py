"""Stdin that ends at once must not keep a terminal task from starting.

The shim turns stdin EOF (Tasks.CloseIO) into a hang-up of a terminal task's pty; if that reaches the
task before Tasks.Start, the task can never start. A foreground ``run -i -t`` whose stdin is already
exhausted (``< /dev/null``, an empty pipe) is exactly that case: the order of attach, Start and CloseIO
is what these tests pin down.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest

from managers.console import Stdio
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd

#: a bound on a run that hangs; the runs themselves take well under a second
HANG = 60.0


def _run_bounded(mgr: Any, options: Any, stdio: Stdio) -> Any:
    """``mgr.containers.run`` in a thread: a task that never starts fails the test instead of hanging it."""
    result: list[Any] = []

    def body() -> None:
        try:
            result.append(mgr.containers.run(options, detach=False, stdio=stdio))
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            result.append(err)

    worker = threading.Thread(target=body, daemon=True)
    worker.start()
    worker.join(HANG)
    if worker.is_alive():
        stdio.cancel.set()  # let the foreground wait give up so the fixture can clean up
        worker.join(HANG)
        pytest.fail("run -i -t with an empty stdin never finished")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


# With a terminal, stdin EOF hangs the pty up (containerd's shim closes the console): what the process
# writes afterwards may be lost, and a process other than the container's init dies of SIGHUP. So the
# terminal variants run commands that neither write nor read; the plain variants show that EOF arrives.
COMMANDS = {True: "exit 3", False: "cat; echo after-eof; exit 3"}


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "no-tty"])
def test_run_interactive_with_empty_stdin(mgr: Any, tty: bool) -> None:
    out = io.BytesIO()
    stdio = Stdio(stdin=io.BytesIO(b""), stdout=out, stderr=out)
    code = _run_bounded(mgr, opts("sh", "-c", COMMANDS[tty], tty=tty, interactive=True, rm=True), stdio)
    assert code == 3
    if not tty:
        assert out.getvalue() == b"after-eof\n"
    assert mgr.ctrd.containers.list() == []


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "no-tty"])
def test_run_interactive_with_stdin_from_dev_null(mgr: Any, tty: bool) -> None:
    """A real descriptor at EOF (``< /dev/null``), not an in-memory buffer."""
    out = io.BytesIO()
    with open(os.devnull, "rb", buffering=0) as null:
        stdio = Stdio(stdin=null, stdout=out, stderr=out)
        code = _run_bounded(mgr, opts("sh", "-c", COMMANDS[tty], tty=tty, interactive=True, rm=True), stdio)
    assert code == 3
    if not tty:
        assert out.getvalue() == b"after-eof\n"
    assert mgr.ctrd.containers.list() == []


def test_start_attached_interactive_with_empty_stdin(mgr: Any) -> None:
    mgr.containers.create(opts("sh", "-c", COMMANDS[True], name="later", tty=True, interactive=True))
    stdio = Stdio(stdin=io.BytesIO(b""), stdout=io.BytesIO(), stderr=io.BytesIO())
    assert mgr.containers.start(["later"], attach=True, interactive=True, stdio=stdio) == 3


def test_exec_interactive_with_empty_stdin(mgr: Any) -> None:
    mgr.containers.run(opts("sleep", "300", name="host"), detach=True)
    out = io.BytesIO()
    stdio = Stdio(stdin=io.BytesIO(b""), stdout=out, stderr=io.BytesIO())
    assert mgr.containers.exec("host", ["sh", "-c", COMMANDS[False]], interactive=True, stdio=stdio) == 3
    assert out.getvalue() == b"after-eof\n"
    # An exec is not the container's init: the hang-up may kill it (SIGHUP, 129) before it exits itself.
    stdio = Stdio(stdin=io.BytesIO(b""), stdout=io.BytesIO(), stderr=io.BytesIO())
    assert mgr.containers.exec("host", ["sh", "-c", COMMANDS[True]], interactive=True, tty=True, stdio=stdio) in (3, 129)
