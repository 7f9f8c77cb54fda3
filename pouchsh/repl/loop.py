"""The read-eval-print loop: read with the session, run in a worker thread, stay interruptible.

A command runs in a worker thread while the main thread waits for it, so that Ctrl-C (SIGINT, which
Python delivers to the main thread) always reaches us: we set the engine's cancel event, which the
evaluator and the managers poll (a foreground container is sent its stop signal), and give the worker
up to `CANCEL_GRACE` seconds to unwind before the prompt comes back regardless.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.patch_stdout import patch_stdout

from pouchsh.eval import ExitRequest

__all__ = ["CANCEL_GRACE", "Engine", "Repl"]

#: How long a cancelled command may take to unwind before the prompt returns without it.
CANCEL_GRACE = 0.9
#: the status of an input that Ctrl-C ended (bash's 128 + SIGINT)
INTERRUPTED = 130


class Engine(Protocol):
    """What the loop needs of the language: run one input and report its status."""

    @property
    def namespace(self) -> str: ...

    def run(self, source: str, cancel: threading.Event) -> int:
        """Parse, check and evaluate ``source`` in the session's scope; print values and errors;
        return the exit status. Raises `pouchsh.eval.ExitRequest` for ``exit N``."""

    def variables(self) -> Mapping[str, Any]: ...

    def interrupted(self) -> None:
        """Ctrl-C cleared the line, or the input it cancelled was given up on: ``$status`` becomes 130."""


@dataclass
class Repl:
    session: PromptSession[str]
    engine: Engine
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    #: called after each command (the live-name lists may have changed)
    after_command: Callable[[], None] | None = None
    last_status: int = 0

    def read(self) -> str:
        """One input from the prompt. KeyboardInterrupt: the line was cleared; EOFError: Ctrl-D."""
        with patch_stdout(raw=True):
            return self.session.prompt()

    def loop(self) -> int:
        """Read and run until Ctrl-D or ``exit``; returns the status to exit with."""
        while True:
            try:
                text = self.read()
            except KeyboardInterrupt:
                self._interrupted()
                continue
            except EOFError:
                return self.last_status
            if not text.strip():
                continue
            try:
                self.last_status = self.execute(text)
            except ExitRequest as leave:
                return leave.code
            except KeyboardInterrupt:  # Ctrl-C in the instant between reading and running
                self._interrupted()

    def _interrupted(self) -> None:
        self.last_status = INTERRUPTED
        self.engine.interrupted()

    def execute(self, text: str) -> int:
        """Run one input in a worker thread; Ctrl-C cancels it and returns within about a second."""
        cancel = threading.Event()
        done = threading.Event()  # not Thread.join: a join that Ctrl-C interrupts can report a live thread dead
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["status"] = self.engine.run(text, cancel)
            except BaseException as err:  # noqa: BLE001 - handed to the main thread, re-raised there
                outcome["error"] = err
            finally:
                done.set()

        try:
            threading.Thread(target=work, name="pouchsh-eval", daemon=True).start()
            while not done.wait(0.1):
                pass
        except KeyboardInterrupt:
            cancel.set()
            try:
                done.wait(CANCEL_GRACE)
            except KeyboardInterrupt:
                pass  # a second Ctrl-C only means "faster": the prompt comes back now
            if "status" in outcome:
                return int(outcome["status"])
            print("interrupted (still stopping in the background)", file=self.err)
            self.engine.interrupted()
            return INTERRUPTED
        finally:
            if self.after_command is not None:
                self.after_command()
        if "error" in outcome:
            raise outcome["error"]
        return int(outcome.get("status", 0))
