"""Attached runs and execs: the task's stdio on the caller's streams (a pty when asked), output also into
the JSON log, and Ctrl-C turned into the stop signal (then SIGKILL), as docker does."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ctrd.errors import Interrupted, Timeout
from ctrd.stdio import FifoIO
from managers.console import Stdio, terminal_session
from managers.containerpaths import ContainerPaths
from managers.labels import LABEL
from managers.launch import exec_failures
from managers.lifecycle import Lifecycle, log_opts, quiet, stop_timeout
from managers.resolver import name_of

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["POLL", "Foreground", "Stopped"]

#: how often a foreground wait wakes to notice Ctrl-C or a cancel
POLL = 0.2


class Foreground:
    """Running a container's task, or an exec, attached to the caller's standard streams. Starts the
    task through the life cycle it is given (the same locking, network attach and undo as a detached
    start)."""

    def __init__(self, facade: Managers, paths: ContainerPaths, lifecycle: Lifecycle) -> None:
        self.facade = facade
        self.paths = paths
        self.lifecycle = lifecycle

    @property
    def client(self) -> Any:
        return self.facade.ctrd

    def run(
        self, c: Any, plan: Any | None, stdio: Stdio, *, interactive: bool, started: builtins.list[bool],
        rootfs: builtins.list[Any] | None = None,
    ) -> int:
        """Run the task attached to ``stdio`` (output also into the JSON log) until it exits; appends to
        ``started`` once the task runs. Raises Stopped when Ctrl-C stopped it."""
        from ctrd.logger import JsonLogWriter  # off the `ps` path (managers.lifecycle)

        cid = c.id
        tty = c.labels.get(LABEL.TTY) == "true"
        size, files = log_opts(c.labels)
        writer = JsonLogWriter(c.labels.get(LABEL.LOG_PATH) or self.paths.log_path(cid), max_size=size, max_file=files)
        tasks = self.client.tasks
        io = FifoIO.open(self.paths.fifo_root, cid, stdin=interactive, terminal=tty)
        try:

            def attach_output() -> None:
                io.attach_output(stdout=stdio.stdout, stderr=None if tty else stdio.stderr, sink=writer.write)
                if tty:
                    # runc made the pty at task create: sized now, before the process runs and reads it
                    stdio.size.bind(lambda w, h: tasks.resize_pty(cid, w, h))

            with terminal_session(stdio.terminal if tty else None, stdio.size):
                # Output is read from before Start (a pty drops what nobody read when the process exits);
                # stdin only after it: its EOF (CloseIO) reaching a terminal task before Start hangs the
                # task up for good, and an empty stdin gets there at once.
                with self.lifecycle.fifos_held(io):
                    exit_future = self.lifecycle.start_task(c, io, plan, on_created=attach_output, rootfs=rootfs)
                started.append(True)
                io.attach_input(stdio.stdin if interactive else None, close_stdin=lambda: tasks.close_io(cid))
                code = self._wait(c, exit_future, stdio)
            try:
                io.wait(10)
            except Timeout:
                pass  # a process that forked a child holding the pty open; the log keeps what came
        finally:
            stdio.size.unbind()
            io.close()
            writer.close()
        return code

    def _wait(self, c: Any, exit_future: Any, stdio: Stdio) -> int:
        """Wait for the exit; on Ctrl-C send the stop signal, then SIGKILL after the stop timeout, like
        docker. Raises Stopped after the process has ended if that happened."""

        def stop() -> None:
            self.lifecycle.set_restart_status(c, "stopped")
            quiet(self.client.tasks.kill, c.id, c.labels.get(LABEL.STOP_SIGNAL, "SIGTERM"))

        def kill() -> None:
            quiet(self.client.tasks.kill, c.id, "SIGKILL", all=True)

        status, cancelled = wait_cancellable(exit_future, stdio, [(0.0, stop), (stop_timeout(c.labels), kill)])
        if cancelled:
            raise Stopped(status)
        return status

    def exec(self, c: Any, exec_id: str, process: dict[str, Any], stdio: Stdio, *, interactive: bool) -> int:
        """Run ``process`` in ``c``'s running task attached to ``stdio``; its exit status. Ctrl-C kills it."""
        tasks = self.client.tasks
        terminal = bool(process.get("terminal"))
        io = FifoIO.open(self.paths.fifo_root, exec_id, stdin=interactive, terminal=terminal)
        created = False
        try:
            with terminal_session(stdio.terminal if terminal else None, stdio.size):
                size = stdio.size.get()
                if terminal and size:
                    # an exec's pty is made only at start, where runc sizes it from the spec before the
                    # process runs; a resize sent before the start would be dropped by the shim
                    process = dict(process, consoleSize={"width": size[0], "height": size[1]})
                with self.lifecycle.fifos_held(io):
                    tasks.exec(c.id, exec_id, process, io=io)
                    created = True
                    io.attach_output(stdout=stdio.stdout, stderr=None if terminal else stdio.stderr)
                    future = tasks.wait(c.id, exec_id)
                    with exec_failures(f"exec in {name_of(c)}"):
                        tasks.start(c.id, exec_id)
                if terminal:  # a size that came while it started (a client's resize call) and every later one
                    stdio.size.bind(lambda w, h: tasks.resize_pty(c.id, w, h, exec_id=exec_id))
                # stdin (and its EOF) only once the process runs, as for run -i -t (see run)
                io.attach_input(stdio.stdin if interactive else None, close_stdin=lambda: tasks.close_io(c.id, exec_id))
                status = self._wait_exec(c, exec_id, future, stdio)
            try:
                io.wait(10)
            except Timeout:
                pass
            return status
        finally:
            stdio.size.unbind()
            io.close()
            if created:
                quiet(tasks.delete_process, c.id, exec_id)

    def _wait_exec(self, c: Any, exec_id: str, future: Any, stdio: Stdio) -> int:
        def kill() -> None:
            quiet(self.client.tasks.kill, c.id, "SIGKILL", exec_id=exec_id)

        status, cancelled = wait_cancellable(future, stdio, [(0.0, kill)])
        if cancelled:
            raise Interrupted(f"exec in {name_of(c)} interrupted")
        return status


def wait_cancellable(
    future: Any, stdio: Stdio, steps: builtins.list[tuple[float, Callable[[], None]]]
) -> tuple[int, bool]:
    """Wait for an exit future, polling so that Ctrl-C reaches us; once cancelled (Ctrl-C or
    ``stdio.cancel``), run each step when its delay after the cancel has passed. Returns the exit status
    and whether the wait was cancelled."""
    cancelled_at: float | None = None
    pending = builtins.list(steps)
    while True:
        try:
            return future.result(timeout=POLL).exit_status, cancelled_at is not None
        except Timeout:
            pass
        except KeyboardInterrupt:
            stdio.cancel.set()
        if stdio.cancel.is_set() and cancelled_at is None:
            cancelled_at = time.monotonic()
        while cancelled_at is not None and pending and time.monotonic() >= cancelled_at + pending[0][0]:
            pending.pop(0)[1]()


class Stopped(Exception):
    """The foreground process ended after Ctrl-C made us stop it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
