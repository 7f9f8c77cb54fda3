"""Running host programs for ``^program args``: never through a shell, stdout is the value.

The program's standard output, decoded as UTF-8 with trailing newlines removed (as ``$(...)`` does in
bash), is the value. A non-zero exit is a PouchRuntimeError that carries the exit status and what the
program wrote to standard error; a program that is not on ``PATH`` is NotFound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import IO, TYPE_CHECKING, Any

from ctrd.errors import Interrupted, InvalidArgument, NotFound, PouchRuntimeError

if TYPE_CHECKING:
    import threading

__all__ = ["HostProgramFailed", "encode_input", "run_host"]

# How often a running program's wait looks at the cancel event; the program's exit wakes it at once.
_CANCEL_POLL_SECONDS = 0.05
# Grace period between SIGTERM and SIGKILL when a program is interrupted.
_TERMINATE_GRACE_SECONDS = 2.0


class HostProgramFailed(PouchRuntimeError):
    """A host program exited with a non-zero status."""

    def __init__(self, message: str, *, status: int, stderr: str) -> None:
        super().__init__(message)
        self.status = status
        self.stderr = stderr


def run_host(
    argv: list[str],
    input: bytes | None,
    cwd: str,
    env: dict[str, str],
    *,
    cancel: threading.Event | None = None,
    stderr: IO[bytes] | None = None,
) -> str:
    """Run ``argv[0]`` (looked up on ``env["PATH"]``) with ``input`` on its stdin (empty when None).

    When ``cancel`` is set while it runs, the program is terminated and Interrupted raised. When it
    succeeds, what it wrote to stderr is passed on to ``stderr`` if given.
    """
    if not argv or not argv[0]:
        raise InvalidArgument("^: no program given")
    program = _resolve(argv[0], cwd, env)
    try:
        proc = subprocess.Popen(
            argv,
            executable=program,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
    except PermissionError:
        raise PouchRuntimeError(f"{argv[0]}: permission denied") from None
    except OSError as err:
        raise PouchRuntimeError(f"{argv[0]}: cannot run: {err.strerror or err}") from None
    out, err_bytes = _communicate(proc, input, cancel, argv[0])
    err_text = err_bytes.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise HostProgramFailed(_failure(argv[0], proc.returncode, err_text), status=proc.returncode, stderr=err_text)
    if err_bytes and stderr is not None:
        stderr.write(err_bytes)
        stderr.flush()
    return out.decode("utf-8", "replace").rstrip("\n")


def encode_input(value: Any) -> bytes | None:
    """What a piped value becomes on a host program's stdin: text as is, a list of strings one per
    line, null nothing, and any other value as JSON."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(v + "\n" for v in value).encode()
    from pouchsh.render import encode_json

    try:
        return (encode_json(value) + "\n").encode()
    except TypeError as err:
        raise InvalidArgument(f"^: cannot pass this value to a program: {err}") from None


def _resolve(name: str, cwd: str, env: dict[str, str]) -> str:
    if os.sep in name:
        path = os.path.join(cwd, name)
        if not os.path.exists(path):
            raise NotFound(f"{name}: no such file")
        return path
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise NotFound(f"{name}: program not found on PATH")
    return found


def _communicate(
    proc: subprocess.Popen[bytes], input: bytes | None, cancel: threading.Event | None, name: str
) -> tuple[bytes, bytes]:
    if cancel is None:
        return proc.communicate(input)
    try:
        return proc.communicate(input, timeout=_CANCEL_POLL_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    while True:
        if cancel.is_set():
            _terminate(proc)
            raise Interrupted(f"{name}: interrupted")
        try:
            return proc.communicate(timeout=_CANCEL_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            continue


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.communicate(timeout=_TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _failure(name: str, status: int, stderr: str) -> str:
    how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
    detail = stderr.strip().splitlines()
    # The last lines of stderr say why; a whole page of it would bury the error line.
    tail = "\n".join(detail[-5:])
    return f"{name} {how}" + (f": {tail}" if tail else "")
