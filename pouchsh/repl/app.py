"""``main``: the interactive pouchsh, assembled from the language session and the prompt parts.

Time to a usable prompt is what a user feels, so nothing slow happens before the first prompt: the
grammar tables, the containerd connection, the status probe, the watch cache and the name lists all
warm up in one background thread while the user types.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import History

from pouchsh.completion import PouchCompleter
from pouchsh.repl.diagnostics import highlight_error
from pouchsh.repl.live import LiveNames
from pouchsh.repl.loop import Repl
from pouchsh.repl.names import ContainerNames, list_loaders
from pouchsh.repl.session import build_session, history_path, open_history
from pouchsh.repl.toolbar import ContainerdStatus, toolbar_text

__all__ = ["WELCOME", "Shell", "main"]

#: Printed once at start. No version number: reading it (importlib.metadata) costs ~25 ms of start-up;
#: ``version`` prints it.
WELCOME = "pouchsh: containers on containerd. Type `help` for the commands, `help CMD` for one; Ctrl-D exits."


class LiveStream(io.RawIOBase):
    """Bytes written go to whatever ``sys.stdout``/``sys.stderr`` is at that moment, so output from a
    command that is still running after the prompt came back (Ctrl-C, a background thread) goes through
    patch_stdout's proxy and is printed above the prompt instead of through it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        getattr(sys, self._name).write(self._decoder.decode(data))
        return len(data)

    def flush(self) -> None:
        getattr(sys, self._name).flush()

    def isatty(self) -> bool:
        return bool(getattr(sys, f"__{self._name}__").isatty())

    def fileno(self) -> int:
        return int(getattr(sys, f"__{self._name}__").fileno())


def _engine(namespace: str, address: str | None, json_output: bool, dry_run: bool, debug: bool,
            context: str | None = None, contexts_dir: Any = None) -> Any:
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    class ReplSession(Session):
        """The language's session, with its errors coloured for the terminal, and each input under a
        name of its own (``<repl:3>``), so that an error a cancelled command reports after the next
        input has been read still quotes its own source line."""

        inputs = 0

        def compile(self, text: str, filename: str) -> Any:
            self.inputs += 1
            return super().compile(text, f"<repl:{self.inputs}>" if filename == "<repl>" else filename)

        def format(self, err: Any) -> str:
            return highlight_error(super().format(err))

    def managers() -> Any:
        if dry_run:
            from pouchsh.dryrun import Recorder

            return Recorder(sys.stdout.buffer, namespace=namespace, address=address)
        from managers import Managers

        return Managers(address=address, namespace=namespace, contexts_dir=contexts_dir, use=context)

    runtime = Runtime(
        managers_factory=managers, stdout=LiveStream("stdout"), stderr=LiveStream("stderr"),  # type: ignore[arg-type]
        stdin=sys.stdin.buffer, is_terminal=True, json_output=json_output, env=dict(os.environ),
        args=[], dry_run=dry_run,
    )
    runtime.env.setdefault("CONTAINERD_NAMESPACE", namespace)
    return ReplSession(runtime, debug=debug)


def _prompt(namespace: Callable[[], str]) -> Callable[[], StyleAndTextTuples]:
    def message() -> StyleAndTextTuples:
        return [("class:prompt", "pouch("), ("class:prompt.namespace", namespace()), ("class:prompt", ")> ")]

    return message


class Shell:
    """The interactive shell, assembled: language session, prompt session, status probe, live names.

    The language session (which loads the grammar, and with it Lark) is built by the warm-up thread,
    not before the first prompt; the shell stands in for it as the loop's `Engine` and waits for it
    only when the first input is run.
    """

    def __init__(
        self,
        *,
        namespace: str = "default",
        address: str | None = None,
        json_output: bool = False,
        dry_run: bool = False,
        debug: bool = False,
        history: History | None = None,
        context: str | None = None,
        contexts_dir: Any = None,
    ) -> None:
        from pouchsh.commands import load

        self.dry_run = dry_run
        self._settings = (namespace, address, json_output, dry_run, debug, context, contexts_dir)
        self._engine: Any = None
        self._engine_lock = threading.Lock()
        self._interrupted_early = False  # Ctrl-C before the session was built: its $status starts at 130
        self.containers = ContainerNames(self._managers, self.current_namespace)
        self.names = LiveNames(list_loaders(self._managers), live={"container": self.containers})
        self.status = ContainerdStatus(self._probe, address_hint=address or "")
        self.table = load()
        self.session = build_session(
            completer=PouchCompleter(self.table, names=self.names, scope=self.variables),
            is_complete=_is_complete,
            prompt=_prompt(self.current_namespace),
            toolbar=self.toolbar,
            history=history if history is not None else open_history(history_path(), keep=self.keep_in_history),
            known_command=self.known_command,
        )
        self.repl = Repl(self.session, self, after_command=self.names.refresh)
        self.status.on_change = self.session.app.invalidate

    # -- the language session, and the Engine protocol on top of it ------------------------------

    @property
    def engine(self) -> Any:
        """The language session (a ``pouchsh.session.Session``), built on first use."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    engine = _engine(*self._settings)
                    if self._interrupted_early:
                        engine.interrupted()
                    self._engine = engine
        return self._engine

    @property
    def namespace(self) -> str:
        return self.current_namespace()

    def current_namespace(self) -> str:
        engine = self._engine
        return str(engine.namespace) if engine is not None else self._settings[0]

    def run(self, source: str, cancel: threading.Event) -> int:
        return int(self.engine.run(source, cancel))

    def interrupted(self) -> None:
        """Ctrl-C: ``$status`` is 130. Before the warm-up has built the session the prompt does not wait
        for it: the session starts with 130 instead."""
        self._interrupted_early = True
        engine = self._engine
        if engine is not None:
            engine.interrupted()

    def known_command(self, name: str) -> bool:
        """A declared command, the first word of one (``network``), or a ``def`` of this session."""
        if self.table.get(name) is not None or self.table.is_prefix(name):
            return True
        engine = self._engine
        return engine is not None and name in getattr(engine.check_scope, "defs", {})

    def keep_in_history(self, text: str) -> bool:
        """False for an input that gives a secret flag (``login -p``) its value: it is not written to
        the history file."""
        try:
            return not self.engine.holds_secret(text)
        except Exception:  # noqa: BLE001 - a fault here must not end the prompt; keeping the input out is safe
            return False

    def variables(self) -> Mapping[str, Any]:
        engine = self._engine
        return engine.variables() if engine is not None else {}

    # -- the parts around the prompt ---------------------------------------------------------------

    def toolbar(self) -> StyleAndTextTuples:
        if self.dry_run:
            return [("class:toolbar", f" dry run: no containerd calls  namespace {self.current_namespace()} ")]
        running = self.containers.running() if self.status.up else None
        return toolbar_text(self.status, self.current_namespace(), self.repl.last_status, running)

    def warm_up(self) -> None:
        """Everything slow, in order; run in a background thread by `start`."""
        self.engine  # noqa: B018 - builds the session: grammar tables, checker, evaluator
        _is_complete("ps")
        if self.dry_run:
            return
        self.status.check_now()
        self.status.start()
        self.names.start()
        if self.status.up:
            # on failure the first completion that needs container names tries again
            with contextlib.suppress(Exception):
                self.containers.start()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.warm_up, name="pouchsh-warm-up", daemon=True)
        thread.start()
        return thread

    def loop(self) -> int:
        """Start the background work, greet, and read until Ctrl-D or ``exit``."""
        self.start()
        print(WELCOME)
        try:
            return self.repl.loop()
        finally:
            self.status.stop()
            self.names.stop()

    def _managers(self) -> Any:
        return self.engine.rt.managers

    def _probe(self) -> str:
        client = self._managers().client
        client.version(timeout=2.0)
        return str(client.address)


def _is_complete(text: str) -> bool:
    import grammar  # imported on first Enter (or by the warm-up), not before the first prompt

    return bool(grammar.is_complete(text))


def main(
    *,
    namespace: str = "default",
    address: str | None = None,
    json_output: bool = False,
    dry_run: bool = False,
    debug: bool = False,
    context: str | None = None,
    contexts_dir: Any = None,
) -> int:
    """Run the interactive prompt until Ctrl-D or ``exit``; returns the exit status."""
    # Ctrl-C while a command runs must raise KeyboardInterrupt in this thread (see loop.Repl.execute).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    shell = Shell(namespace=namespace, address=address, json_output=json_output, dry_run=dry_run, debug=debug,
                  context=context, contexts_dir=contexts_dir)
    return shell.loop()
