"""A small stand-in for the evaluator's Context: closures are Python callables, display is recorded."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

from pouchsh.commands import load
from pouchsh.signature import Command

_NO_INPUT = object()


class FakeContext:
    def __init__(self, input: Any = _NO_INPUT, *, cwd: str = "/", env: dict[str, str] | None = None) -> None:
        self.has_input = input is not _NO_INPUT
        self.input = None if input is _NO_INPUT else input
        self.managers: Any = None
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.stdin = io.BytesIO()
        self.stdout = io.BytesIO()
        self.stderr = io.BytesIO()
        self.is_terminal = False
        self.json_output = False
        self.cancel = threading.Event()
        self.displayed: list[Any] = []
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def unsettled_managers(self) -> Any:
        return self.managers

    def call(self, closure: Any, *args: Any) -> Any:
        with self._lock:
            self.calls += 1
        return closure(*args)

    def display(self, value: Any) -> None:
        self.displayed.append(value)

    def set_status(self, code: int) -> None:
        raise AssertionError("builtins never set $status")


def invoke(name: str, *args: Any, input: Any = _NO_INPUT, ctx: FakeContext | None = None, **flags: Any) -> Any:
    """Call a builtin the way the evaluator does: positionals in declaration order, every flag's dest
    present (its declared default unless given)."""
    cmd = load().get(name)
    assert cmd is not None, name
    ctx = ctx if ctx is not None else FakeContext(input)
    return cmd.fn(ctx, **bind(cmd, list(args), flags))


def bind(cmd: Command, args: list[Any], flags: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param in cmd.params:
        if param.rest:
            kwargs[param.dest] = args
            args = []
        else:
            kwargs[param.dest] = args.pop(0) if args else param.default
    assert not args, f"too many arguments for {cmd.name}"
    for flag in cmd.flags:
        kwargs[flag.dest] = flags.pop(flag.dest) if flag.dest in flags else flag.default_value()
    assert not flags, f"unknown flags for {cmd.name}: {flags}"
    return kwargs
