"""A container's command that runc could not execute, told apart from every other start failure.

runc reports a process it could not execute as ``...unable to start container process: exec: "CMD":
REASON`` (on Tasks.Create for a container's task, on Tasks.Start for an exec), and containerd passes it
on as UNKNOWN. Docker answers such a start with the container's exit status 127 when the command is not
found and 126 when it cannot be invoked, and calls it an invalid configuration; so do we: the error
becomes ``InvalidArgument`` with that ``exit_status`` (ctrd.errors), keeping runc's own words, which
docker's clients also read. Any other failure is left as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from ctrd.errors import InvalidArgument, PouchError

__all__ = ["NOT_EXECUTABLE", "NOT_FOUND", "exec_failures", "exec_failure"]

#: docker's statuses for a command that is not found, and one that cannot be invoked
NOT_FOUND = 127
NOT_EXECUTABLE = 126

_EXEC_FAILED = re.compile(r'unable to start container process: (exec: "(?:[^"\\]|\\.)*": (.*?))(?:: unknown)?$', re.S)
_NOT_FOUND = ("executable file not found", "no such file or directory", "not a directory")
_NOT_EXECUTABLE = ("permission denied", "is a directory", "exec format error")


def exec_failure(err: PouchError, what: str) -> PouchError | None:
    """The error to raise instead of ``err`` when it says the command could not be executed; None when
    it says something else. ``what`` names the process (``container web``, ``exec in web``)."""
    found = _EXEC_FAILED.search(err.message)
    if found is None:
        return None
    reason = found.group(2)
    if any(words in reason for words in _NOT_FOUND):
        status = NOT_FOUND
    elif any(words in reason for words in _NOT_EXECUTABLE):
        status = NOT_EXECUTABLE
    else:
        return None
    return InvalidArgument(f"{what}: {found.group(1)}", exit_status=status)


@contextmanager
def exec_failures(what: str) -> Iterator[None]:
    """Raise runc's report of a command it could not execute as :func:`exec_failure` words it."""
    try:
        yield
    except PouchError as err:
        better = exec_failure(err, what)
        if better is None:
            raise
        raise better from err
