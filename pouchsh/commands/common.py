"""What the manager commands share: their targets (from the arguments or the pipe) and the one-or-many
result shape. (``KEY=VALUE`` flags such as ``--label`` are parsed by ``managers.options.parse_key_values``,
the one parser the managers use too.)

Like the command modules, this imports nothing of managers or ctrd at module level (start-up time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pouchsh.values import Stream

__all__ = ["one_or_all", "targets"]


def targets(
    ctx: Any, given: Sequence[str], what: str, *, keys: Sequence[str] = ("name",), required: bool = True
) -> list[str]:
    """The objects a verb acts on: the arguments, else the piped input (strings, or records whose first
    non-empty field among ``keys`` names the object).

    An empty selection piped in (``ps -a | where status == exited | rm`` with nothing matching) gives
    ``[]``, so the verb does nothing, like an empty xargs; no arguments and nothing piped is an
    InvalidArgument, or ``[]`` when not ``required``.
    """
    from ctrd.errors import InvalidArgument

    if given:
        return list(given)
    value = ctx.input
    if value is None:
        if not required:
            return []
        raise InvalidArgument(f"no {what} given (name one, or pipe {what}s in)")
    if isinstance(value, (str, dict)):
        items = [value]
    else:
        items = list(value)
        if isinstance(value, Stream):
            value.close()
    out = []
    for item in items:
        if isinstance(item, dict):
            ref = next((item[k] for k in keys if item.get(k)), None)
            if ref is None:
                raise InvalidArgument(f"piped record has no {' or '.join(keys)} field to name a {what}")
            out.append(str(ref))
        else:
            out.append(str(item))
    return out


def one_or_all(results: list[Any], single: bool) -> Any:
    """One object named alone gives its record; several, or a selection piped in, a table."""
    return results[0] if single and len(results) == 1 else results


def stdio_of(ctx: Any) -> Any:
    """The session's streams for a process attached to them (``exec``, ``run -it``, ``pod exec -it``);
    stdin's descriptor as the terminal when it is one."""
    from managers.console import Stdio

    terminal = None
    try:
        fd = ctx.stdin.fileno()
        import os

        if os.isatty(fd):
            terminal = fd
    except (AttributeError, OSError, ValueError):
        terminal = None
    return Stdio(stdin=ctx.stdin, stdout=ctx.stdout, stderr=ctx.stderr, cancel=ctx.cancel, terminal=terminal)
