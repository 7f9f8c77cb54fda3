"""A session: one top scope that sources are parsed, checked and run in, one after the other.

The command line runs a script as one source; the REPL runs each input as one source in the same session,
so variables and defs carry over (``Session`` is the REPL's ``Engine``). A source that fails to parse or
check runs nothing and leaves the session as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ctrd.errors import Interrupted, PouchError
from grammar.nodes import Program
from pouchsh.check import Checked, CheckScope, check, parse_source
from pouchsh.errors import CheckError, ParseError, format_error
from pouchsh.collector import paused
from pouchsh.eval import ExitRequest, Interpreter
from pouchsh.masking import Secrets
from pouchsh.scope import Runtime, Scope
from pouchsh.signature import CommandTable

__all__ = ["Session", "exit_code"]


#: the exit status of a script stopped by a runtime error, one that failed its parse or check, and Ctrl-C
RUNTIME_ERROR, CHECK_ERROR, INTERRUPTED = 1, 2, 130


def exit_code(err: PouchError) -> int:
    """The process exit status (and the REPL's ``$status``) for an error that stopped a script.

    ======  ==============================================================================
    2       a parse or check error (nothing ran)
    130     interrupted (Ctrl-C)
    125     ``run``, ``create``, ``start``, ``exec`` failed before the container's command ran
    126     the container's command cannot be invoked (not executable, a directory)
    127     the container's command is not found
    1       any other runtime error
    ======  ==============================================================================

    125, 126 and 127 are docker's, carried by the error (``PouchError.exit_status``)."""
    if isinstance(err, (ParseError, CheckError)):
        return CHECK_ERROR
    if isinstance(err, Interrupted):
        return INTERRUPTED
    if err.exit_status is not None:
        return err.exit_status
    return RUNTIME_ERROR


class Session:
    def __init__(self, runtime: Runtime, table: CommandTable | None = None, *, debug: bool = False) -> None:
        if table is None:
            from pouchsh.commands import load

            table = load()
        self.rt = runtime
        self.table = table
        self.debug = debug
        self.check_scope = CheckScope.root()
        self.scope = Scope()
        self.interp = Interpreter(runtime)
        #: source text by file name, for showing errors
        self.sources: dict[str, str] = {}
        #: where the sources give secret flags their values, masked wherever source is shown
        self.secrets = Secrets()

    # -------------------------------------------------------------------------------------- stages

    def parse(self, text: str, filename: str) -> Program:
        self.sources[filename] = text
        self.secrets.forget(filename)
        try:
            return parse_source(text, filename)
        except ParseError:
            self.secrets.guess(text, filename, self.table)
            raise

    def check(self, program: Program) -> Checked:
        """Check against the session's names; on failure the session's names are left as they were."""
        saved_vars, saved_defs = set(self.check_scope.vars), dict(self.check_scope.defs)
        try:
            return check(program, self.table, self.check_scope, self.sources, self.secrets)
        except PouchError:
            self.check_scope.vars, self.check_scope.defs = saved_vars, saved_defs
            raise

    def compile(self, text: str, filename: str) -> Checked:
        """Parse and check, with the cyclic collector paused over both (pouchsh.collector)."""
        with paused():
            return self.check(self.parse(text, filename))

    def execute(self, checked: Checked) -> None:
        """Run a checked source, displaying what its statements leave. Raises PouchError or ExitRequest.
        It ends when the removals its ``run --rm`` statements left behind have ended too."""
        try:
            self.interp.run(checked, self.scope)
        finally:
            self.rt.settle()

    def format(self, err: PouchError) -> str:
        return format_error(err, self.sources, self.secrets)

    def holds_secret(self, text: str) -> bool:
        """Whether ``text`` gives a secret flag a value, found by checking it against the session's
        names in a scratch scope (the session is left as it was) or, when it does not parse, guessed."""
        found = Secrets()
        try:
            check(parse_source(text, "<input>"), self.table, CheckScope(self.check_scope), {}, found)
        except ParseError:
            found.guess(text, "<input>", self.table)
        except PouchError:
            pass  # the bindings made before checking failed still count
        return found.holds("<input>")

    # -------------------------------------------------------------------------------------- the REPL's Engine

    @property
    def namespace(self) -> str:
        if self.rt.managers_built:
            return str(getattr(self.rt.managers, "namespace", "default"))
        return self.rt.env.get("CONTAINERD_NAMESPACE") or "default"

    def run(self, source: str, cancel: threading.Event) -> int:
        """Parse, check and run one input; print values and errors; return its status.
        Raises ``ExitRequest`` for ``exit N`` (the REPL's loop leaves on it)."""
        self.rt.cancel = cancel
        self.rt.statement_status = 0
        try:
            self.execute(self.compile(source, "<repl>"))
        except ExitRequest:
            raise
        except PouchError as e:
            self.rt.stderr.write((self.format(e) + "\n").encode())
            self.rt.stderr.flush()
            code = exit_code(e)
            if e.exit_status is not None or code == INTERRUPTED:
                self.rt.set_status(code)  # a container command's status, as $status holds (docker's 125-127)
            return code
        except KeyboardInterrupt:
            err = Interrupted("interrupted")
            self.rt.stderr.write((self.format(err) + "\n").encode())
            self.interrupted()
            return INTERRUPTED
        except Exception as e:  # noqa: BLE001 - a bug must not end the prompt, nor show a traceback
            if self.debug:
                import traceback

                self.rt.stderr.write("".join(traceback.format_exception(e)).encode())
            self.rt.stderr.write(f"error[runtime]: internal error: {type(e).__name__}: {e}\n".encode())
            return RUNTIME_ERROR
        return self.rt.statement_status

    def interrupted(self) -> None:
        """Ctrl-C at the prompt, or an input given up on after Ctrl-C: ``$status`` is 130, as in bash."""
        self.rt.set_status(INTERRUPTED)

    def variables(self) -> Mapping[str, Any]:
        """The variables a statement typed now would see, the built-ins included (completion's scope)."""
        out = dict(self.scope.vars)
        out.setdefault("status", self.rt.status)
        out.setdefault("args", self.rt.args)
        out.setdefault("pouch", self.rt.facts())
        return out
