"""pouchsh-logd: one log collector per data root, reading every detached container's output from FIFOs.

No process per container. A detached task's stdout and stderr are FIFOs in the container's state
directory (``<root>/containers/<ns>/<id>/stdout.fifo``, ``stderr.fifo``, beside the log). The runc shim
opens each FIFO's write end *and* a read end of its own for as long as the task's output flows
(containerd pkg/process/io.go ``copyPipes``, runtime/v2/runc/platform.go ``CopyConsole``, 1.6.20), so a
reader may go away and come back without losing anything: output waits in the pipe (64 KiB), then the
container blocks on its next write. This process is that reader for every container of one data root:
it waits on all the FIFOs with epoll and writes the JSON-lines log with rotation (ctrd.logger's
``JsonLogWriter``, which a foreground run's tee uses too; managers.logs reads what they write).

What it serves is the file system, nothing it keeps in memory: a container directory with a ``logio``
file (written by pouchsh before the task is created: rotation, whether the container restarts by
policy, which streams) is served while its task's output flows, so a kill -9 of this process loses no
state, and the next one finds everything again with one scan. It learns of a new task sooner through a
datagram on ``<run_root>/logd/sock`` (``ns/id``: look at that container now; from a bound sender also
``ok`` back once its FIFOs are drained, which ``logs`` waits for), and rescans every ``RESCAN`` seconds
(for containers it does not serve, and for streams a served one lacks).

- **The reader that outlives pouchsh during Tasks.Create.** The shim's Create opens the output FIFOs'
  write ends with a blocking ``open``: with no reader it waits for good, and so would a pouchsh killed
  there leave it. So pouchsh *arms* a detached container first (``+ns/id``, answered ``armed``): its
  FIFOs are opened and, while armed, one without a writer waits for the shim's instead of ending. The arm
  ends when a writer has come and gone (POLLHUP, which Linux reports only for a writer that came after
  the read end was opened), on ``-ns/id`` (the create failed), or after ``ARM_MAX``. A foreground task's
  FIFOs are pouchsh's own: it hands read ends of them over the live socket (``hold``, SCM_RIGHTS), which
  are never read while the holder is connected, and kept after a holder that hung up without
  ``RELEASE`` until the shim's writer came.

- **Who starts it.** Whoever is about to start a task (``notify``: a refused datagram spawns it,
  detached, in its own session, so it survives the pouchsh that started it). ``<root>/logd.lock`` holds
  its flock and its pid; a clean exit empties the file, so a pid left there with the lock free means it
  was killed, and the next pouchsh invocation starts it again (``revive``, one open and flock a run).
- **When it ends.** After ``LINGER`` seconds with nothing to serve; the socket is closed *before* a last
  scan, so a task created meanwhile is either seen by that scan or its datagram is refused and its
  pouchsh starts a new collector, which waits for this one's lock.
- **End of a task.** EOF (no writer left) on every stream of a container ends its service, unless it
  restarts by policy: containerd's restart monitor creates the next task itself (with the stdout FIFO
  as its log URI, so stdout and stderr both arrive on stdout then), and the shim's Tasks.Create waits
  until the FIFO has a reader, so those FIFOs stay open until the directory goes.
- **Live readers.** ``attach`` subscribes on ``<run_root>/logd/live`` (``subscribe``: SOCK_SEQPACKET,
  0600 in our 0700 directory, peers of another uid refused; the first message names the container as a
  datagram does) and gets every read of that container's FIFOs as one message (``TAGS``), sent right
  after it is in the log; ``SYNC`` is answered ``SYNCED`` after a drain, EOF ends the task's output.
  Nobody is waited for: a subscriber whose socket is full queues at most ``LIVE_QUEUE``, then is cut
  off (it goes on from the log); at most 128 subscribers, and 16 connections yet to name a container.
- **Bounds.** One 64 KiB read per ready FIFO per round (a flooding container cannot starve the others),
  unterminated lines cut at 16 KiB (``ctrd.logger.MAX_LINE``), so memory is bounded by the number of
  containers; disk by each container's rotation. A write that fails (disk full) drops that output and
  goes on reading, so the container never blocks on our account.
- **Loss.** A collector killed with -9 loses what it had read and not yet written (one read, at most
  64 KiB) and the unterminated line it held. While it is down, a running container's output waits in
  the pipe; a container that *exits* while no collector runs loses what was still in the pipe, because
  the shim then closes its own read end and the kernel frees the buffer.

Started as ``python -SI ctrd/logd.py ROOT RUN_ROOT`` (not ``-m``: without ``site`` and the ``ctrd``
package, whose ``typing`` import costs a few MiB of resident memory); it imports only modules built
into the interpreter and loads ctrd/logger.py by its path.
"""

from __future__ import annotations

import _signal
import _socket
import fcntl
import os
import select
import stat
import sys
import time
from _collections import deque  # the C type alone: `collections` brings more than the collector's start needs

TYPE_CHECKING = False  # not `from typing import`: typing is the heaviest import there would be
if TYPE_CHECKING:
    from ctrd.logger import JsonLogWriter

__all__ = [
    "ARM_MAX",
    "CONFIG",
    "LIVE_MESSAGE",
    "STREAMS",
    "SYNC",
    "SYNCED",
    "TAGS",
    "fifo_paths",
    "hold",
    "live_path",
    "notify",
    "prepare",
    "release",
    "revive",
    "socket_path",
    "spawn",
    "subscribe",
]

STREAMS = ("stdout", "stderr")
CONFIG = "logio"
#: seconds with nothing to serve before the collector exits
LINGER = 10.0
#: seconds between scans for tasks whose datagram never came
RESCAN = 10.0
#: seconds an armed container (``notify(..., arm=True)``) or a held FIFO (``hold``) waits for the shim's
#: writer: past Tasks.Create's deadline (ctrd.deadlines' runtime class, 120 s) and the cleanup containerd
#: does of a create whose caller went away
ARM_MAX = 150.0
#: how often a held FIFO whose holder died is looked at: reading is the only way to see a writer that
#: has said nothing yet
_ORPHAN_LOOK = 0.2
_CHUNK = 64 * 1024
#: An unfinished line (a shell's prompt, a progress bar) is written after this many seconds without its
#: newline, so that `logs -f`, which follows the file, shows it while the container waits (a live
#: subscriber, ``attach``, had it as it was read).
PARTIAL_AFTER = 0.05
#: bytes one FIFO may deliver in one turn before the others get theirs
_TURN = 4 * _CHUNK
#: the live stream's messages: a tag byte, then the bytes just read from that stream (``TAGS``), or
#: ``SYNCED`` alone, the answer to a subscriber's ``SYNC`` once the FIFOs were drained to it
TAGS = {"stdout": b"o", "stderr": b"e"}
SYNC, SYNCED = b"sync", b"s"
#: on the live socket, with a FIFO's read ends attached (SCM_RIGHTS): keep them until ``RELEASE``
HOLD, RELEASE = b"hold", b"release"
#: at most this many descriptors in one ``hold`` (stdout, stderr)
_HOLD_FDS = 2
#: the largest message a subscriber receives: a tag byte and one read
LIVE_MESSAGE = 64 * 1024 + 1
#: bytes a subscriber may leave unread beyond its socket's own buffer before it is cut off
LIVE_QUEUE = 256 * 1024
#: subscribers at once (each may hold LIVE_QUEUE), and connections yet to name their container
_LIVE_MAX = 128
_LIVE_PENDING = 16
#: what a queued message costs besides its bytes (counted, so that many tiny ones are bounded too)
_OVERHEAD = 64
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


# -- paths, shared by pouchsh and the collector ---------------------------------------------------


def socket_path(run_root: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(run_root), "logd", "sock")


def live_path(run_root: str | os.PathLike[str]) -> str:
    """The live stream's socket (SOCK_SEQPACKET, 0600 in the collector's 0700 directory)."""
    return os.path.join(os.fspath(run_root), "logd", "live")


def lock_path(root: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(root), "logd.lock")


def fifo_paths(container_dir: str | os.PathLike[str]) -> dict[str, str]:
    base = os.fspath(container_dir)
    return {stream: os.path.join(base, f"{stream}.fifo") for stream in STREAMS}


def _valid_key(key: str) -> bool:
    """``namespace/id``, each part a plain name (no ``..``, no slash): a datagram cannot name a path."""
    parts = key.split("/")
    return (
        len(key) <= 512
        and len(parts) == 2
        and all(p and p[0] not in "._-" and set(p) <= _NAME_CHARS for p in parts)
    )


# -- pouchsh's side -------------------------------------------------------------------------------


def prepare(
    container_dir: str | os.PathLike[str],
    *,
    max_size: int,
    max_file: int,
    keep: bool,
    tty: bool,
    on_exit: list[str] | None = None,
) -> dict[str, str]:
    """Make the container's FIFOs (0600) and its ``logio`` file (rewritten only when it changes), before
    the task is created; returns the FIFO paths of the streams the task has (no stderr with a tty).
    ``on_exit``: a command the collector starts (detached) once the task's output has ended, e.g. the
    remover of a ``run -d --rm`` container, so no process waits beside each such container."""
    directory = os.fspath(container_dir)
    paths = fifo_paths(directory)
    for path in paths.values():
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkfifo(path, 0o600)
            continue
        if not stat.S_ISFIFO(st.st_mode):
            os.unlink(path)  # not ours to keep: only a FIFO belongs at this name
            os.mkfifo(path, 0o600)
    streams = ["stdout"] if tty else list(STREAMS)
    text = f"max-size={max_size}\nmax-file={max_file}\nkeep={int(keep)}\nstreams={','.join(streams)}\n"
    if on_exit:
        if any(not arg or "\t" in arg or "\n" in arg for arg in on_exit) or not os.path.isabs(on_exit[0]):
            # not at the top: the collector runs without the ctrd package
            from ctrd.errors import InvalidArgument

            raise InvalidArgument(f"on-exit command {on_exit!r}: an absolute program, arguments without tabs or newlines")
        text += "on-exit=" + "\t".join(on_exit) + "\n"
    config = os.path.join(directory, CONFIG)
    try:
        with open(config) as f:
            current = f.read()
    except OSError:
        current = None
    if current != text:
        temp = f"{config}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        os.replace(temp, config)
    return {stream: paths[stream] for stream in streams}


def notify(
    root: str | os.PathLike[str],
    run_root: str | os.PathLike[str],
    key: str | None,
    *,
    sync: bool = False,
    arm: bool | None = None,
    timeout: float = 10.0,
) -> bool:
    """Tell the collector of ``root`` to look at container ``key`` (``namespace/id``) now, starting it if
    none runs. With ``sync``, wait until it has drained that container's FIFOs (True), or until
    ``timeout`` passes (False). ``key`` None only makes sure a collector runs.

    ``arm`` True (with ``sync``), just before the container's task is created: the collector opens the
    FIFOs now and keeps them until the shim's writer has come and gone (``ARM_MAX`` at most), so a shim
    whose caller is killed during Tasks.Create never waits in ``open`` for a reader that died with it;
    True once armed (a collector older than arming answers, but not that it armed: False). ``arm``
    False: that create failed, the FIFOs wait for no writer."""
    message = ({True: "+", False: "-", None: ""}[arm] + (key or "")).encode()
    expected = b"armed" if arm else b"ok"
    path = socket_path(run_root)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        if sync:
            sock.bind("")  # an abstract address of our own, for the answer
        deadline = time.monotonic() + timeout
        spawned = False
        while True:
            sock.settimeout(max(min(0.5, deadline - time.monotonic()), 0.01))
            try:
                sock.sendto(message, path)
            except (ConnectionRefusedError, FileNotFoundError):
                if not spawned:
                    spawn(root, run_root)
                    spawned = True
                if not sync or time.monotonic() > deadline:
                    return False  # the new collector's first scan finds the container
                time.sleep(0.01)  # a poll with a deadline: the collector binds within milliseconds
                continue
            except OSError:
                return False  # a collector that does not read (stopped?): its next scan finds it
            if not sync:
                return True
            try:
                answer = sock.recv(16)
                if answer in (b"ok", b"armed"):
                    return answer == expected
            except OSError:
                pass  # lost with a collector that was ending: ask again (the next one answers)
            if time.monotonic() > deadline:
                return False
    finally:
        sock.close()


def spawn(root: str | os.PathLike[str], run_root: str | os.PathLike[str]) -> None:
    """Start a collector for ``root`` in a session of its own, so it outlives us; one that finds another
    answering exits at once."""
    import subprocess

    from ctrd.private import private_dir

    private_dir(os.path.dirname(socket_path(run_root)))
    argv = [sys.executable, "-SI", os.path.abspath(__file__), os.path.abspath(root), os.path.abspath(run_root)]
    # Not waited for: subprocess reaps it with the next child it starts (a one-shot pouchsh ends first).
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     close_fds=True, start_new_session=True, cwd="/")


def revive(root: str | os.PathLike[str], run_root: str | os.PathLike[str]) -> bool:
    """Start the collector again if it was killed (its pid still in the lock file, the lock free): what
    its containers printed meanwhile waits in their pipes. One open and flock when it runs or ended
    cleanly; True if one was started."""
    try:
        fd = os.open(lock_path(root), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # it runs
        killed = bool(os.read(fd, 32).strip())
    finally:
        os.close(fd)
    if killed:
        spawn(root, run_root)
    return killed


def subscribe(run_root: str | os.PathLike[str], key: str, *, timeout: float = 5.0) -> _socket.socket | None:
    """A live subscription to container ``key``'s output: a connected socket whose messages are what
    the collector reads from the container's FIFOs from now on (``TAGS``), as it reads them; ``SYNC``
    sent on it is answered ``SYNCED`` once what waited in the FIFOs is on its way. The socket closes
    when the container's output ends (or the collector ends, or found this reader too slow). None when
    no collector serves subscriptions (none runs, or an older one) or it does not serve ``key``."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(live_path(run_root))
        sock.send(key.encode())
        if sock.recv(16) != b"ok":
            sock.close()
            return None
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    return sock


def hold(root: str | os.PathLike[str], run_root: str | os.PathLike[str], fds: list[int], *,
         timeout: float = 5.0) -> _socket.socket | None:
    """Hand the collector of ``root`` read ends of a foreground task's output FIFOs (``fds``, sent with
    SCM_RIGHTS: the caller closes its own) before Tasks.Create or an exec's start, until ``release``.
    The collector never reads them while the returned connection is open. Should we be killed first, it
    keeps them until the shim's writer has come (``ARM_MAX`` at most), so the shim never waits in
    ``open`` for a reader that died with us. Starts a collector if none runs; None when none took them."""
    rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    deadline = time.monotonic() + timeout
    spawned = False
    while True:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            sock.connect(live_path(run_root))
            sock.sendmsg([HOLD], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
            answer = sock.recv(16)
        except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError):
            answer = b""  # none runs, or one that was ending (it took nothing)
        except OSError:
            sock.close()
            return None
        if answer == b"ok":
            return sock
        sock.close()
        if answer or time.monotonic() > deadline:
            return None  # refused (an older collector, or a bad descriptor), or none came up in time
        if not spawned:
            spawn(root, run_root)
            spawned = True
        time.sleep(0.01)  # a poll with a deadline: the collector binds within milliseconds


def release(sock: _socket.socket) -> None:
    """End a ``hold``: the shim has its writers (Tasks.Create or the exec's start returned, or failed)."""
    try:
        sock.send(RELEASE)
    except OSError:
        pass  # a collector that ended: it took the descriptors with it, and nothing waits on them now
    sock.close()


# -- the collector ---------------------------------------------------------------------------------


class _Subscriber:
    """One live reader: ``container`` None until it has named one. Messages the socket's buffer cannot
    take wait in ``queue`` (at most LIVE_QUEUE bytes, else it is cut off); ``closing``: its container's
    output ended, it is closed once the queue is out. A connection that sent ``HOLD`` is a holder
    instead: ``held`` are the FIFO read ends it handed over."""

    __slots__ = ("closing", "container", "held", "queue", "queued", "sock")

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.container: _Container | None = None
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.closing = False
        self.held: list[int] = []


class _Container:
    __slots__ = ("armed_until", "directory", "fds", "keep", "key", "live", "on_exit", "streams", "subscribers",
                 "writer")

    def __init__(self, key: str, directory: str, writer: JsonLogWriter, keep: bool, streams: list[str]) -> None:
        self.key = key
        self.directory = directory
        self.writer = writer
        self.keep = keep
        self.streams = streams
        self.on_exit: list[str] = []
        #: a writer was seen: its EOF is the end of a task we served (not a container stopped long ago)
        self.live = False
        #: armed (time.monotonic() it expires): a task is being created, and a FIFO without a writer is
        #: waiting for it, not ended; the writer's coming and going, a failed create's word, or the time
        #: ends it
        self.armed_until: float | None = None
        self.fds: dict[str, int] = {}
        self.subscribers: list[_Subscriber] = []


def _read_config(directory: str) -> dict[str, str] | None:
    try:
        fd = os.open(os.path.join(directory, CONFIG), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        text = os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)
    return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)


class Collector:
    """The collector's state: the containers served, their FIFOs in one epoll set."""

    def __init__(self, root: str, writer_class: type[JsonLogWriter]) -> None:
        self.containers_dir = os.path.join(root, "containers")
        self.writer_class = writer_class
        self.epoll = select.epoll()
        self.served: dict[str, _Container] = {}
        self.by_fd: dict[int, tuple[_Container, str]] = {}
        #: the served containers whose writer holds an unfinished line (flush_partials)
        self.pending: set[_Container] = set()
        #: during the first scan after a collector was killed, a stopped container's on-exit command runs
        #: too: the killed one may not have seen that task end
        self.first_scan = False
        #: live readers by their socket's fd (subscribed, closing, or yet to name a container), and holders
        self.subscribers: dict[int, _Subscriber] = {}
        #: held FIFO read ends whose holder died, until the shim's writer came (time.monotonic() at most)
        self.orphans: dict[int, float] = {}

    def busy(self) -> bool:
        """Whether anything keeps the collector from ending: a container served, or a FIFO held."""
        return bool(self.served or self.orphans or any(s.held for s in self.subscribers.values()))

    # which containers

    def scan(self) -> None:
        """Serve every container whose task's output flows (or that restarts by policy) and is not
        served yet, and reopen a stream a served one lacks; drop those whose directory is gone, and end
        arms that saw no writer in time."""
        now = time.monotonic()
        for key in list(self.served):
            c = self.served[key]
            if not os.path.isdir(c.directory):
                self._drop(c)
            elif c.armed_until is not None and now >= c.armed_until:
                self.check(key, arm=False)
            elif not set(c.streams) <= set(c.fds):
                self.check(key)  # a stream that ended while the others go on: open again, in case it is back
        try:
            namespaces = os.listdir(self.containers_dir)
        except OSError:
            return
        for ns in namespaces:
            try:
                ids = os.listdir(os.path.join(self.containers_dir, ns))
            except OSError:
                continue
            for cid in ids:
                key = f"{ns}/{cid}"
                if key not in self.served and _valid_key(key):
                    self.check(key)

    def check(self, key: str, *, arm: bool | None = None) -> None:
        """Look at one container: start serving it, open FIFOs it lacks, or drop it (directory gone).
        ``arm`` True: its task is about to be created (``notify``); False: that create failed."""
        directory = os.path.join(self.containers_dir, *key.split("/"))
        config = _read_config(directory)
        current = self.served.get(key)
        if config is None:
            if current is not None:
                self._drop(current)
            return
        if current is not None and arm:
            # What the last task left, and its end, are the last task's: taken before the arm.
            current.armed_until = None
            for stream, fd in list(current.fds.items()):
                self._pump(current, stream, fd, drain=True)
            current = self.served.get(key)
        keep = config.get("keep") == "1"
        streams = [s for s in config.get("streams", "").split(",") if s in STREAMS]
        on_exit = [arg for arg in config.get("on-exit", "").split("\t") if arg]
        if current is None:
            try:
                max_size = int(config.get("max-size", "0"))
                max_file = int(config.get("max-file", "0"))
            except ValueError:
                return
            if max_size <= 0 or max_file < 1:
                return  # not a config pouchsh wrote: serve nothing rather than guess
            try:
                writer = self.writer_class(os.path.join(directory, f"{key.split('/')[1]}-json.log"),
                                           max_size=max_size, max_file=max_file)
            except OSError:
                return
            current = self.served[key] = _Container(key, directory, writer, keep, streams)
        else:
            current.keep = keep
            current.streams = streams
        current.on_exit = on_exit
        if arm:
            current.live = False
            current.armed_until = time.monotonic() + ARM_MAX
        elif arm is not None:
            current.armed_until = None
        paths = fifo_paths(directory)
        for stream in streams:
            if stream not in current.fds:
                self._open(current, stream, paths[stream])
        for stream, fd in list(current.fds.items()):
            self._pump(current, stream, fd, drain=True)
        if not current.fds:
            self._drop(current)

    def _open(self, c: _Container, stream: str, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.close(fd)
            return
        c.fds[stream] = fd
        self.by_fd[fd] = (c, stream)
        self.epoll.register(fd, select.EPOLLIN)

    def _close(self, c: _Container, stream: str) -> None:
        fd = c.fds.pop(stream)
        del self.by_fd[fd]
        self.epoll.unregister(fd)
        os.close(fd)

    def _drop(self, c: _Container) -> None:
        for stream in list(c.fds):
            self._close(c, stream)
        self.served.pop(c.key, None)
        self.pending.discard(c)
        for sub in list(c.subscribers):  # (_unsubscribe takes it out of the list)
            sub.closing = True  # its end: what it was sent, then EOF
            if not sub.queue:
                self._unsubscribe(sub)
        c.subscribers = []
        try:
            c.writer.close()
        except OSError:
            pass

    # their output

    def _pump(self, c: _Container, stream: str, fd: int, *, drain: bool = False) -> None:
        """Copy what ``fd`` holds (one chunk, or up to a turn's worth with ``drain``) into the log; at EOF
        (no writer left) close it, and reopen it for a container that restarts by policy."""
        budget = _TURN if drain else _CHUNK
        while budget > 0:
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                c.live = True
                return  # empty, a writer is there
            except OSError:
                data = b""
            if not data:
                break
            c.live = True
            budget -= len(data)
            try:
                c.writer.write(stream, data)
            except OSError:
                pass  # disk full or the directory going: drop this output, keep the container unblocked
            if c.subscribers:  # after the log: a line a subscriber saw is in the log, even if we are killed now
                self._publish(c, TAGS[stream] + data)
            if c.writer.partial_since is None:
                self.pending.discard(c)
            else:
                self.pending.add(c)
            if not drain:
                return
        else:
            return
        # EOF: the task's writer is gone (it exited, or none has connected yet)
        if _hung_up(fd):
            # A writer came after this end was opened, and left: a task we served ended.
            c.live = True
            c.armed_until = None
        elif c.armed_until is not None:
            return  # armed: the writer of the task being created is yet to come
        self._close(c, stream)
        if c.keep and os.path.isdir(c.directory):
            self._open(c, stream, fifo_paths(c.directory)[stream])
            return
        if not c.fds:
            try:
                c.writer.flush()
            except OSError:
                pass
            self._drop(c)
            if c.on_exit and (c.live or self.first_scan):
                _start_detached(c.on_exit)

    def next_flush(self) -> float | None:
        """When the oldest unfinished line is due (time.monotonic), None when no writer holds one."""
        since = [c.writer.partial_since for c in self.pending if c.writer.partial_since is not None]
        return min(since) + PARTIAL_AFTER if since else None

    def flush_partials(self, now: float) -> None:
        """Write the unfinished lines held for PARTIAL_AFTER or longer."""
        for c in list(self.pending):
            since = c.writer.partial_since
            if since is None or now - since >= PARTIAL_AFTER:
                self.pending.discard(c)
                try:
                    c.writer.flush()
                except OSError:
                    pass

    def on_ready(self, fd: int) -> None:
        entry = self.by_fd.get(fd)
        if entry is not None:
            c, stream = entry
            self._pump(c, stream, fd)
        elif fd in self.orphans:
            self._look(fd, time.monotonic())

    # FIFOs held for a foreground task (``hold``): never read while the holder lives

    def _hold(self, sub: _Subscriber, fds: list[int]) -> None:
        if not 0 < len(fds) <= _HOLD_FDS or not all(_fifo_reader(fd) for fd in fds):
            for fd in fds:
                os.close(fd)
            self._refuse(sub)
            return
        sub.held = fds
        self._send(sub, b"ok")

    def _orphan(self, sub: _Subscriber) -> None:
        """The holder died before ``RELEASE``: the shim may be about to open its writers, so the read
        ends are kept until a writer has come (or ARM_MAX passed), and looked at by reading: what a
        writer says meanwhile has nobody to go to."""
        for fd in sub.held:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
                self.epoll.register(fd, select.EPOLLIN)
            except OSError:
                os.close(fd)
                continue
            self.orphans[fd] = time.monotonic() + ARM_MAX
        sub.held = []

    def look_orphans(self) -> None:
        now = time.monotonic()
        for fd in list(self.orphans):
            self._look(fd, now)

    def _look(self, fd: int, now: float) -> None:
        try:
            came = bool(os.read(fd, _CHUNK))  # discarded: its holder is gone
        except BlockingIOError:
            came = True  # a writer, silent so far
        except OSError:
            came = False
        if came or _hung_up(fd) or now >= self.orphans[fd]:
            # The shim opened its writer, and a read end of its own with it: ours is not needed.
            del self.orphans[fd]
            self.epoll.unregister(fd)
            os.close(fd)

    # live readers (attach): never waited for; one that falls LIVE_QUEUE behind is cut off

    def accept(self, listener: _socket.socket) -> None:
        while True:
            try:
                fd, _ = listener._accept()
            except OSError:
                return  # BlockingIOError: all taken; anything else (EMFILE): the next round
            sock = _socket.socket(fileno=fd)
            try:
                sock.setblocking(False)
                # pid, uid, gid: only our own user's processes (the directory's mode says so already)
                uid = int.from_bytes(sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)[4:8], sys.byteorder)
            except OSError:
                uid = -1
            if uid != os.geteuid():
                sock.close()
                continue
            if len(self.subscribers) >= _LIVE_MAX + _LIVE_PENDING:
                try:
                    sock.send(b"no")  # full: said, so that a holder goes on at once without a hold
                except OSError:
                    pass
                sock.close()
                continue
            waiting = [s for s in self.subscribers.values() if s.container is None and not s.closing and not s.held]
            if len(waiting) >= _LIVE_PENDING:
                self._unsubscribe(waiting[0])  # the oldest that never named its container
            self.subscribers[sock.fileno()] = _Subscriber(sock)
            self.epoll.register(sock.fileno(), select.EPOLLIN)

    def on_subscriber(self, fd: int, events: int) -> None:
        sub = self.subscribers.get(fd)
        if sub is None:
            return
        if events & select.EPOLLOUT:
            self._flush(sub)
        if fd not in self.subscribers or not events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            return
        try:
            data, ancillary, _, _ = sub.sock.recvmsg(1024, _socket.CMSG_SPACE(_HOLD_FDS * 4))
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        fds = _received_fds(ancillary)
        if data == HOLD and sub.container is None and not sub.held and not sub.closing:
            self._hold(sub, fds)
            return
        for received in fds:
            os.close(received)  # descriptors come only with a hold
        if sub.held:
            if data != RELEASE:
                self._orphan(sub)  # it hung up (killed?) without saying the shim has its writers
            self._unsubscribe(sub)
        elif not data:
            self._unsubscribe(sub)  # it hung up
        elif sub.closing:
            return  # its EOF follows what it is still owed
        elif sub.container is None:
            self._subscribe(sub, data.decode("ascii", "replace"))
        elif data == SYNC:
            c = sub.container
            self.check(c.key)  # drains its FIFOs to every subscriber (or ends it: then EOF says it)
            if sub.container is c and not sub.closing:
                self._send(sub, SYNCED)
        else:
            self._unsubscribe(sub)

    def _subscribe(self, sub: _Subscriber, key: str) -> None:
        if _valid_key(key) and key not in self.served:
            self.check(key)
        c = self.served.get(key) if _valid_key(key) else None
        subscribed = sum(1 for s in self.subscribers.values() if s.container is not None)
        if c is None or not c.fds or subscribed >= _LIVE_MAX:
            self._refuse(sub)
            return
        sub.container = c
        c.subscribers.append(sub)
        self._send(sub, b"ok")

    def _refuse(self, sub: _Subscriber) -> None:
        try:
            sub.sock.send(b"no")
        except OSError:
            pass
        self._unsubscribe(sub)

    def _publish(self, c: _Container, message: bytes) -> None:
        for sub in list(c.subscribers):
            self._send(sub, message)

    def _send(self, sub: _Subscriber, message: bytes) -> None:
        if sub.queue:
            if sub.queued + len(message) + _OVERHEAD > LIVE_QUEUE:
                self._unsubscribe(sub)  # too slow: cut off, so that nobody waits for it
                return
            sub.queue.append(message)
            sub.queued += len(message) + _OVERHEAD
            return
        try:
            sub.sock.send(message)
        except BlockingIOError:
            sub.queue.append(message)
            sub.queued += len(message) + _OVERHEAD
            self.epoll.modify(sub.sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
        except OSError:
            self._unsubscribe(sub)

    def _flush(self, sub: _Subscriber) -> None:
        while sub.queue:
            try:
                sub.sock.send(sub.queue[0])
            except BlockingIOError:
                return
            except OSError:
                self._unsubscribe(sub)
                return
            sub.queued -= len(sub.queue.popleft()) + _OVERHEAD
        if sub.closing:
            self._unsubscribe(sub)
        else:
            self.epoll.modify(sub.sock.fileno(), select.EPOLLIN)

    def _unsubscribe(self, sub: _Subscriber) -> None:
        fd = sub.sock.fileno()
        if self.subscribers.pop(fd, None) is None:
            return
        if sub.container is not None and sub in sub.container.subscribers:
            sub.container.subscribers.remove(sub)
        self.epoll.unregister(fd)
        sub.sock.close()
        sub.queue.clear()
        for held in sub.held:
            os.close(held)
        sub.held = []

    def close(self) -> None:
        for c in list(self.served.values()):
            self._drop(c)
        for sub in list(self.subscribers.values()):
            self._unsubscribe(sub)
        for fd in self.orphans:
            os.close(fd)
        self.orphans.clear()
        self.epoll.close()


def _hung_up(fd: int) -> bool:
    """Whether a writer came to this FIFO after ``fd`` was opened and none is left: Linux reports POLLHUP
    only then, never for a read end that has not yet seen a writer."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def _fifo_reader(fd: int) -> bool:
    """A descriptor handed over for a hold is kept only if it is what a hold is for: a FIFO's read end."""
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
    except OSError:
        return False


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(int.from_bytes(data[i : i + 4], sys.byteorder, signed=True) for i in range(0, usable, 4))
    return fds


def _start_detached(argv: list[str]) -> None:
    """Run ``argv`` in a session of its own; SIGCHLD is ignored here, so the kernel reaps it."""
    try:
        os.posix_spawn(argv[0], argv, os.environ, setsid=True)
    except OSError:
        pass  # its container stays for `container prune`, as when such a command fails


def _load_writer() -> type[JsonLogWriter]:
    """ctrd.logger's writer, loaded by path (this process runs without the ctrd package)."""
    from importlib.machinery import SourceFileLoader

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logger.py")
    module = type(sys)("pouchsh_logger")
    module.__file__ = path
    SourceFileLoader("pouchsh_logger", path).exec_module(module)
    return module.JsonLogWriter  # type: ignore[no-any-return]


def _take_lock(root: str, sock: str) -> int | None:
    """The collector's lock (its fd), or None when a live collector already answers on ``sock``. A
    collector in its last scan holds the lock with its socket closed: that one is waited for."""
    fd = os.open(lock_path(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    deadline = time.monotonic() + 10
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            try:
                probe.sendto(b"", sock)
                break  # another collector serves
            except OSError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)  # the other one is starting or ending: either takes milliseconds
    finally:
        probe.close()
    os.close(fd)
    return None


def _bind(path: str, kind: int = _socket.SOCK_DGRAM) -> _socket.socket:
    """A socket bound at ``path``, 0600 (a killed collector's file is ours to replace: we hold the lock)."""
    sock = _socket.socket(_socket.AF_UNIX, kind | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    return sock


def _listen(path: str) -> _socket.socket:
    """The live stream's listening socket."""
    sock = _bind(path, _socket.SOCK_SEQPACKET)
    sock.listen(64)
    return sock


def serve(root: str, run_root: str) -> int:
    """The collector's life: lock, socket, first scan, then the epoll loop until idle for LINGER."""
    os.makedirs(os.path.join(run_root, "logd"), mode=0o700, exist_ok=True)
    sock_file = socket_path(run_root)
    lock_fd = _take_lock(root, sock_file)
    if lock_fd is None:
        return 0
    _raise_nofile()
    collector = Collector(root, _load_writer())
    # A pid left in the lock file: our predecessor was killed, maybe before it saw some task end.
    collector.first_scan = bool(os.pread(lock_fd, 32, 0).strip())
    live = _listen(live_path(run_root))  # before the datagrams: a collector that answers them serves it
    sock: _socket.socket | None = _bind(sock_file)
    # Our pid, once we answer: left there by a kill -9, it makes the next pouchsh start us again.
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    for signum in (_signal.SIGTERM, _signal.SIGINT):
        _signal.signal(signum, lambda *_: None)
    _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)  # on-exit commands: reaped by the kernel
    collector.epoll.register(sock.fileno(), select.EPOLLIN)
    collector.epoll.register(wake_r, select.EPOLLIN)
    collector.epoll.register(live.fileno(), select.EPOLLIN)
    collector.scan()
    collector.first_scan = False
    idle_since = None if collector.busy() else time.monotonic()
    next_scan = time.monotonic() + RESCAN
    try:
        while True:
            now = time.monotonic()
            if idle_since is not None and now - idle_since >= LINGER:
                # Closed before the last scan: a task made after it gets a refused datagram, and its
                # pouchsh starts the next collector, which waits for our lock. What is queued is
                # answered first.
                _answer(collector, sock)
                collector.epoll.unregister(sock.fileno())
                sock.close()
                os.unlink(sock_file)
                collector.scan()
                if not collector.busy():
                    break
                sock = _bind(sock_file)
                collector.epoll.register(sock.fileno(), select.EPOLLIN)
                idle_since = None
            wait = min(next_scan, idle_since + LINGER if idle_since is not None else next_scan) - now
            flush_at = collector.next_flush()
            if flush_at is not None:
                wait = min(wait, flush_at - now)
            if collector.orphans:
                wait = min(wait, _ORPHAN_LOOK)
            events = collector.epoll.poll(max(wait, 0.0))
            for fd, mask in events:
                if fd == wake_r:
                    while _drain(wake_r):
                        pass
                    return 0
                if fd == sock.fileno():
                    _answer(collector, sock)
                elif fd == live.fileno():
                    collector.accept(live)
                elif fd in collector.subscribers:
                    collector.on_subscriber(fd, mask)
                else:
                    collector.on_ready(fd)
            collector.flush_partials(time.monotonic())
            if collector.orphans:
                collector.look_orphans()
            if time.monotonic() >= next_scan:
                collector.scan()
                next_scan = time.monotonic() + RESCAN
            if collector.busy():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
    finally:
        collector.close()
        live.close()
        try:
            os.unlink(live_path(run_root))
        except FileNotFoundError:
            pass
        if sock is not None and sock.fileno() >= 0:
            sock.close()
            try:
                os.unlink(sock_file)
            except FileNotFoundError:
                pass
        os.ftruncate(lock_fd, 0)  # a clean end: nothing for `revive` to restart
        os.close(lock_fd)


def _drain(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except OSError:
        return False


def _answer(collector: Collector, sock: _socket.socket) -> None:
    """Every queued datagram: ``ns/id`` is checked now (and, from a bound sender, answered ``ok``);
    ``+ns/id`` arms it (answered ``armed``), ``-ns/id`` ends its arm."""
    while True:
        try:
            data, sender = sock.recvfrom(1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        key = data.decode("ascii", "replace")
        arm = {"+": True, "-": False}.get(key[:1])
        if arm is not None:
            key = key[1:]
        if key and _valid_key(key):
            collector.check(key, arm=arm)
        if sender:
            armed = arm and key in collector.served and collector.served[key].armed_until is not None
            try:
                sock.sendto(b"armed" if armed else b"ok", sender)
            except OSError:
                pass  # the asker gave up


def _raise_nofile() -> None:
    """Raise the soft limit of open files to the hard one: two FIFOs, a log and its lock per container."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    """``logd.py ROOT RUN_ROOT`` (started by ``spawn``, in a session of its own): serve."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: logd.py ROOT RUN_ROOT", file=sys.stderr)
        return 2
    os.umask(0o077)
    return serve(args[0], args[1])


if __name__ == "__main__":
    sys.exit(main())
