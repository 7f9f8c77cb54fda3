"""``main``: the interactive pouchsh, assembled from the language session and the prompt parts.

Time to a usable prompt is what a user feels, so nothing slow happens before the first prompt: the
grammar tables, the containerd connection, the status probe, the watch cache and the name lists all
warm up in one background thread while the user types.
"""

from __future__ import annotations

import codecs
import io
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples

from pouchsh.completion import PouchCompleter
from pouchsh.repl.diagnostics import highlight_error
from pouchsh.repl.live import LiveNames
from pouchsh.repl.loop import Repl
from pouchsh.repl.names import ContainerNames, list_loaders
from pouchsh.repl.session import build_session, history_path, open_history
from pouchsh.repl.toolbar import ContainerdStatus, toolbar_text

__all__ = ["WELCOME", "main", "welcome"]

WELCOME = "pouchsh {version}: containers on containerd. Type `help` for the commands, `help CMD` for one; Ctrl-D exits."


def welcome() -> str:
    try:
        from importlib.metadata import version

        v = version("pouchsh")
    except Exception:  # noqa: BLE001 - running from a source tree that is not installed
        v = "(dev)"
    return WELCOME.format(version=v)


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


def _engine(namespace: str, address: str | None, json_output: bool, dry_run: bool, debug: bool) -> Any:
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    class ReplSession(Session):
        """The language's session, with its errors coloured for the terminal."""

        def format(self, err: Any) -> str:
            return highlight_error(super().format(err))

    def managers() -> Any:
        if dry_run:
            from pouchsh.dryrun import Recorder

            return Recorder(sys.stdout.buffer, namespace=namespace, address=address)
        from managers import Managers

        return Managers(address=address, namespace=namespace)

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


def main(
    *,
    namespace: str = "default",
    address: str | None = None,
    json_output: bool = False,
    dry_run: bool = False,
    debug: bool = False,
) -> int:
    """Run the interactive prompt until Ctrl-D or ``exit``; returns the exit status."""
    # Ctrl-C while a command runs must raise KeyboardInterrupt in this thread (see loop.Repl.execute).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    engine = _engine(namespace, address, json_output, dry_run, debug)
    runtime = engine.rt

    def current_namespace() -> str:
        return str(engine.namespace)

    def managers() -> Any:
        return runtime.managers

    def probe() -> str:
        client = managers().client
        client.version(timeout=2.0)
        return str(client.address)

    containers = ContainerNames(managers, current_namespace)
    names = LiveNames(list_loaders(managers), live={"container": containers})
    status = ContainerdStatus(probe, address_hint=address or "")
    completer = PouchCompleter(engine.table, names=names, scope=engine.variables)

    import grammar

    repl: Repl | None = None

    def toolbar() -> StyleAndTextTuples:
        if dry_run:
            return [("class:toolbar", f" dry run: no containerd calls  namespace {current_namespace()} ")]
        return toolbar_text(status, current_namespace(), repl.last_status if repl else None)

    session = build_session(
        completer=completer,
        is_complete=grammar.is_complete,
        prompt=_prompt(current_namespace),
        toolbar=toolbar,
        history=open_history(history_path()),
    )
    repl = Repl(session, engine, after_command=names.refresh)
    status.on_change = session.app.invalidate

    def warm_up() -> None:
        grammar.is_complete("ps")  # builds the parser tables before the first Enter
        if dry_run:
            return
        status.check_now()
        status.start()
        names.start()
        if status.up:
            try:
                containers.start()
            except Exception:  # noqa: BLE001 - retried on the first completion that needs it
                pass

    threading.Thread(target=warm_up, name="pouchsh-warm-up", daemon=True).start()
    print(welcome())
    try:
        return repl.loop()
    finally:
        status.stop()
        names.stop()
