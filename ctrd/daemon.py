"""The containerd pouchsh starts itself when there is no other (ctrd.dial's ``connect`` decides), and
``daemon_info``: which containerd is in use.

The embedded containerd lives under the data root, is started on first use and left running (detached,
in its own session) for the next invocation, the way pouchd's supervisor runs its containerd child. A
pid file names it; one that points at a dead or foreign process is stale and replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctrd.probe import answers, system_socket
from ctrd.errors import InvalidArgument, PouchError, PouchRuntimeError, Timeout, Unavailable, not_answering

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DaemonInfo", "Embedded", "daemon_info", "start_embedded", "stop_embedded"]

INSTALL_HINT = "apt-get install containerd runc"
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes including the terminating NUL
_POLL = 0.05


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """Which containerd is in use.

    ``source``: "argument", "environment" ($CONTAINERD_ADDRESS), "system" or "embedded";
    ``address``: its socket; ``managed``: pouchsh started it and keeps its files; ``pid`` when known;
    ``running``: something answers on ``address``; ``config``, ``log``, ``root``, ``state``: the embedded
    containerd's files (None for others).
    """

    source: str
    address: str
    managed: bool
    running: bool
    pid: int | None = None
    config: str | None = None
    log: str | None = None
    root: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class Embedded:
    """The files of the containerd pouchsh runs itself, under ``data_root`` and ``run_root``."""

    data_root: Path
    run_root: Path

    @classmethod
    def under(cls, data_root: Path | str, run_root: Path | str) -> Embedded:
        from pathlib import Path  # only here: reaching a containerd found running needs no paths (~3 ms)

        return cls(Path(data_root), Path(run_root))

    @property
    def root(self) -> Path:
        return self.data_root / "containerd"

    @property
    def state(self) -> Path:
        return self.run_root / "containerd"

    @property
    def socket(self) -> Path:
        return self.state / "containerd.sock"

    @property
    def config(self) -> Path:
        return self.data_root / "containerd.toml"

    @property
    def log(self) -> Path:
        return self.data_root / "containerd.log"

    @property
    def pid_file(self) -> Path:
        return self.state / "containerd.pid"

    @property
    def lock_file(self) -> Path:
        return self.run_root / "containerd.lock"

    def config_text(self) -> str:
        def q(p: Path) -> str:
            return '"' + str(p).replace("\\", "\\\\").replace('"', '\\"') + '"'

        return "\n".join(
            [
                "# Written by pouchsh for the containerd it runs itself; rewritten at every start.",
                "version = 2",
                f"root = {q(self.root)}",
                f"state = {q(self.state)}",
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "",
                "[grpc]",
                f"  address = {q(self.socket)}",
                "",
                "[ttrpc]",
                f"  address = {q(self.socket.with_name('containerd.sock.ttrpc'))}",
                "",
                '[plugins."io.containerd.internal.v1.opt"]',
                f"  path = {q(self.root / 'opt')}",
                "",
            ]
        )

    def pid(self) -> int | None:
        """The pid in the pid file if it is a live containerd (not a zombie, not a reused pid)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_live_containerd(pid) else None


def daemon_info(address: str | None = None, *, data_root: Path | str, run_root: Path | str) -> DaemonInfo:
    """Which containerd ``connect`` would use with these arguments, and whether it runs. Starts nothing."""
    if address:
        return DaemonInfo("argument", address, managed=False, running=answers(address))
    env = os.environ.get("CONTAINERD_ADDRESS")
    if env:
        return DaemonInfo("environment", env, managed=False, running=answers(env))
    system = system_socket()
    if answers(system):
        return DaemonInfo("system", system, managed=False, running=True)
    embedded = Embedded.under(data_root, run_root)
    pid = embedded.pid()
    return DaemonInfo(
        "embedded",
        str(embedded.socket),
        managed=True,
        running=pid is not None and answers(str(embedded.socket)),
        pid=pid,
        config=str(embedded.config),
        log=str(embedded.log),
        root=str(embedded.root),
        state=str(embedded.state),
    )


def start_embedded(embedded: Embedded, *, timeout: float = 20.0, binary: str | None = None) -> int:
    """Make sure the embedded containerd runs and answers; returns its pid. Safe to race with others."""
    if len(str(embedded.socket)) > _SUN_PATH_MAX:
        raise InvalidArgument(
            f"containerd socket path {embedded.socket} is longer than {_SUN_PATH_MAX} bytes; use a shorter run root"
        )
    with _locked(embedded.lock_file):
        pid = embedded.pid()
        if pid is not None:
            _probe_running(embedded, pid)
            return pid
        return _spawn(embedded, timeout, binary)


def stop_embedded(embedded: Embedded, *, timeout: float = 15.0) -> bool:
    """SIGTERM the embedded containerd, SIGKILL it after ``timeout``; remove its pid file and socket.
    Returns False when it was not running. Running containers (their shims) survive, as with any restart."""
    with _locked(embedded.lock_file):
        pid = embedded.pid()
        if pid is not None:
            _signal(pid, signal.SIGTERM)
            if not _wait_exit(pid, timeout):
                _signal(pid, signal.SIGKILL)
                _wait_exit(pid, 5.0)
        for path in (embedded.pid_file, embedded.socket):
            path.unlink(missing_ok=True)
        return pid is not None


# -- internals ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    from ctrd.private import private_dir  # and pathlib: only the embedded containerd's files need them

    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _binary(binary: str | None) -> str:
    import shutil  # with bz2 and lzma, ~2 ms that a start finding containerd running never needs

    found = shutil.which(binary or "containerd")
    if found is None:
        raise Unavailable(f"containerd is not installed (no {binary or 'containerd'} on PATH): {INSTALL_HINT}")
    return os.path.realpath(found)


def _spawn(embedded: Embedded, timeout: float, binary: str | None) -> int:
    from ctrd.private import private_dir

    exe = _binary(binary)
    for directory in (embedded.data_root, embedded.root, embedded.state):
        private_dir(directory)  # the socket's directory too: containerd keeps an existing one's mode
    embedded.config.write_text(embedded.config_text())
    embedded.socket.unlink(missing_ok=True)  # a stale socket would make the health check race
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    with open(os.open(embedded.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600), "ab") as log:
        proc = subprocess.Popen(
            [exe, "--config", str(embedded.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # survives pouchsh, and Ctrl-C at the prompt does not reach it
            close_fds=True,
            env=env,
        )
    embedded.pid_file.write_text(f"{proc.pid}\n")
    try:
        _wait_until_serving(embedded, proc.pid, proc, time.monotonic() + timeout, timeout)
    except BaseException:
        with contextlib.suppress(OSError):
            proc.kill()
            proc.wait(5)
        embedded.pid_file.unlink(missing_ok=True)
        raise
    return proc.pid


def _probe_running(embedded: Embedded, pid: int) -> None:
    """The containerd found running answers within a lookup's deadline, or is reported unavailable: it
    served before (whoever started it waited for that under the lock), so silence now is not a slow
    start but a stopped or wedged daemon, and the user hears so in seconds, not after the start timeout."""
    from ctrd.deadlines import LOOKUP

    if _process_state(pid) in (b"T", b"t"):  # SIGSTOP or a debugger: it cannot answer until resumed
        raise Unavailable(f"containerd at {embedded.socket} is not answering (process {pid} is stopped)")
    budget = LOOKUP.timeout() or 5.0
    try:
        _wait_until_serving(embedded, pid, None, time.monotonic() + budget, budget)
    except Timeout:
        raise not_answering("", str(embedded.socket), budget) from None


def _wait_until_serving(
    embedded: Embedded, pid: int, proc: subprocess.Popen[bytes] | None, deadline: float, timeout: float
) -> None:
    from ctrd.client import Client

    client = Client(str(embedded.socket))
    try:
        while True:
            # Our own child is judged by poll(): right after fork its /proc/<pid>/exe is still python.
            if proc.poll() is not None if proc is not None else not _is_live_containerd(pid):
                raise PouchRuntimeError(
                    f"containerd exited while starting; see {embedded.log}{_last_line(embedded.log)}"
                )
            if answers(str(embedded.socket)):
                try:
                    client.version(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
                    return
                except PouchError:
                    pass  # listening but not serving yet
            if time.monotonic() >= deadline:
                raise Timeout(
                    f"containerd did not answer on {embedded.socket} within {timeout:g}s; see {embedded.log}"
                )
            time.sleep(_POLL)
    finally:
        client.close()


def _last_line(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f" (last line: {lines[-1].strip()})" if lines else ""


def _is_live_containerd(pid: int) -> bool:
    """A running (not zombie) process whose executable is a containerd binary (guards against pid reuse)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    state = _process_state(pid)
    if state in (b"", b"Z", b"X"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it was our child
        return False
    return os.path.basename(exe.removesuffix(" (deleted)")) == "containerd"


def _process_state(pid: int) -> bytes:
    """The state letter of /proc/<pid>/stat (R, S, T, Z …; empty when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b""


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_live_containerd(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True
