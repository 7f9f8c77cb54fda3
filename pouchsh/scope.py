"""Run-time state: variable scopes, the state one session shares (:class:`Runtime`), the ``ctx`` each
command receives (:class:`CallContext`, the implementation of ``pouchsh.signature.Context``), and
closure values.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ctrd.errors import PouchRuntimeError

if TYPE_CHECKING:
    from grammar.nodes import Closure, Def
    from pouchsh.check import UserCommand

__all__ = ["CallContext", "ClosureValue", "DefValue", "Runtime", "Scope"]


class Scope:
    """Variables and defs of one block; lookups walk outwards. Each closure call and each ``par-each``
    item gets a fresh child scope, so concurrent calls never share their locals."""

    __slots__ = ("defs", "parent", "vars")

    def __init__(self, parent: Scope | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.defs: dict[str, DefValue] = {}
        self.parent = parent

    def lookup(self, name: str) -> Any:
        s: Scope | None = self
        while s is not None:
            try:
                return s.vars[name]
            except KeyError:
                s = s.parent
        raise KeyError(name)

    def declare(self, name: str, value: Any) -> None:
        self.vars[name] = value

    def assign(self, name: str, value: Any) -> None:
        s: Scope | None = self
        while s is not None:
            if name in s.vars:
                s.vars[name] = value
                return
            s = s.parent
        raise PouchRuntimeError(f"cannot assign to `${name}`: it is not declared")

    def find_def(self, name: str) -> DefValue | None:
        s: Scope | None = self
        while s is not None:
            found = s.defs.get(name)
            if found is not None:
                return found
            s = s.parent
        return None


class DefValue:
    """A ``def`` at run time: its declaration and the scope it was defined in."""

    __slots__ = ("node", "scope", "user")

    def __init__(self, node: Def, user: UserCommand | None, scope: Scope) -> None:
        self.node = node
        self.user = user
        self.scope = scope


class ClosureValue:
    """A closure: its code and the scope it captured. Calling it runs it (``ctx.call(c, item)``)."""

    __slots__ = ("_run", "node", "scope")

    def __init__(self, node: Closure, scope: Scope, run: Callable[[ClosureValue, tuple[Any, ...]], Any]) -> None:
        self.node = node
        self.scope = scope
        self._run = run

    def __call__(self, *args: Any) -> Any:
        return self._run(self, args)

    def __repr__(self) -> str:
        params = ", ".join(self.node.params)
        return f"<closure |{params}|>"


class Runtime:
    """What one session shares between all its statements and calls."""

    def __init__(
        self,
        *,
        managers_factory: Callable[[], Any],
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        stdin: IO[bytes] | None = None,
        is_terminal: bool = False,
        json_output: bool = False,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        args: list[str] | None = None,
        cancel: threading.Event | None = None,
        dry_run: bool = False,
    ) -> None:
        self._managers_factory = managers_factory
        self._managers: Any = None
        self.stdout = stdout if stdout is not None else sys.stdout.buffer
        self.stderr = stderr if stderr is not None else sys.stderr.buffer
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.is_terminal = is_terminal
        self.json_output = json_output
        self.env = dict(os.environ) if env is None else env
        self.cwd = cwd or os.getcwd()
        self.args = list(args or [])
        self.cancel = cancel or threading.Event()
        self.dry_run = dry_run
        self.status = 0
        #: the status set during the current top-level statement (the script's exit status if it is the last)
        self.statement_status = 0
        self._lock = threading.Lock()

    @property
    def managers(self) -> Any:
        if self._managers is None:
            with self._lock:
                if self._managers is None:
                    self._managers = self._managers_factory()
        return self._managers

    def settle(self) -> None:
        """Wait for what ``run --rm`` left behind its reported exits (managers.deferred): nothing before
        the managers are built, so a script that never reaches them never imports them."""
        if self._managers is not None:
            from managers import deferred

            deferred.settle()

    @property
    def managers_built(self) -> bool:
        """Whether anything has reached the managers yet (the REPL's toolbar must not dial containerd)."""
        return self._managers is not None

    def close(self) -> None:
        """Release the managers' channels: a call still in flight (a background ``task list`` whose
        ``container list`` failed) is cancelled now, while its threads can still finish."""
        managers, self._managers = self._managers, None
        close = getattr(managers, "close", None)
        if close is not None:
            close()

    def set_status(self, code: int) -> None:
        self.status = int(code)
        self.statement_status = int(code)

    def facts(self) -> dict[str, Any]:
        """``$pouch``: what a script may ask about the run itself. ``dry_run`` lets a script skip its own
        checks of what containers printed, which a dry run cannot know (docs/LANGUAGE-NOTES.md)."""
        from ctrd import __version__

        return {"dry_run": self.dry_run, "version": __version__}

    def display(self, value: Any) -> None:
        from pouchsh import render

        with self._lock:
            render.display(value, self.stdout, terminal=self.is_terminal, json=self.json_output)
            self.stdout.flush()


class CallContext:
    """The ``ctx`` of one command call."""

    __slots__ = ("_call", "_rt", "has_input", "input")

    def __init__(self, rt: Runtime, input: Any, has_input: bool, call: Callable[..., Any]) -> None:
        self._rt = rt
        self.input = input
        self.has_input = has_input
        self._call = call

    @property
    def managers(self) -> Any:
        """The managers, once the removals earlier ``run --rm`` statements left behind are done: what a
        command reads or changes (a container, its name, volumes, images, networks) is then as if they
        had been synchronous."""
        self._rt.settle()
        return self._rt.managers

    @property
    def unsettled_managers(self) -> Any:
        """The managers while those removals may still run: for ``run`` and ``create``, which only make
        new containers (a name given again, a published port or an address waits for them itself)."""
        return self._rt.managers

    @property
    def env(self) -> dict[str, str]:
        return self._rt.env

    @property
    def cwd(self) -> str:
        return self._rt.cwd

    @cwd.setter
    def cwd(self, value: str) -> None:
        self._rt.cwd = value

    @property
    def stdin(self) -> IO[bytes]:
        return self._rt.stdin

    @property
    def stdout(self) -> IO[bytes]:
        return self._rt.stdout

    @property
    def stderr(self) -> IO[bytes]:
        return self._rt.stderr

    @property
    def is_terminal(self) -> bool:
        return self._rt.is_terminal

    @property
    def json_output(self) -> bool:
        return self._rt.json_output

    @property
    def cancel(self) -> threading.Event:
        return self._rt.cancel

    @property
    def dry_run(self) -> bool:
        return self._rt.dry_run

    def call(self, closure: Any, *args: Any) -> Any:
        return self._call(closure, *args)

    def display(self, value: Any) -> None:
        self._rt.display(value)

    def set_status(self, code: int) -> None:
        self._rt.set_status(code)
