"""The collector as the reader that outlives pouchsh during a Tasks.Create (ctrd.logd ``arm`` and
``hold``), without containerd.

containerd's runc shim opens each output FIFO's write end with a blocking ``open``, inside Tasks.Create
(or an exec's start). A pouchsh SIGKILLed there took the only read end with it, and the shim waited in
``open`` for good: containerd kept the task's bundle, the next start failed with ``mkdir …: file
exists``, and the shim and its ``runc init`` were left behind. Here a "shim" opens its writer only after
the process that prepared the FIFOs has closed everything, as a killed pouchsh would.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrd import logd

from tests.ctrd.test_logd import CID, NS, Shim, collector_pid, entries, roots  # noqa: F401 - roots is a fixture
from tests.support.poll import poll

KEY = f"{NS}/{CID}"


def writer(path: str | Path) -> int | None:
    """A write end, opened as the shim would if a reader is there (ENXIO while none is: the shim's own
    blocking open would wait)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


def collector_holds(root: Path, path: str | Path) -> bool:
    """Whether the collector of ``root`` has ``path`` open."""
    pid = collector_pid(root)
    if pid is None:
        return False
    target = os.fspath(path)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def prepared(root: Path, **kw: object) -> dict[str, str]:
    return logd.prepare(root / "containers" / NS / CID, max_size=1 << 20, max_file=2, keep=False, tty=False, **kw)  # type: ignore[arg-type]


def test_an_armed_container_gives_a_shim_that_comes_late_a_reader(roots: tuple[Path, Path]) -> None:
    root, run = roots
    fifos = prepared(root)
    # pouchsh: read ends before Tasks.Create, then the arm; then it is killed (its ends close).
    ours = [os.open(p, os.O_RDONLY | os.O_NONBLOCK) for p in fifos.values()]
    assert logd.notify(root, run, KEY, sync=True, arm=True)
    for fd in ours:
        os.close(fd)
    # The shim's Create reaches its FIFOs only now: each open finds a reader. Like the shim, it keeps each
    # writer, and opens a read end of its own beside it.
    ends = []
    for stream, path in fifos.items():
        w = writer(path)
        assert w is not None, f"no reader on {stream} once pouchsh was gone"
        ends += [w, os.open(path, os.O_RDONLY | os.O_NONBLOCK)]
    os.write(ends[0], b"after the kill\n")
    poll(lambda: [e["log"] for e in entries(root)] == ["after the kill\n"], "logged")
    for fd in ends:
        os.close(fd)
    poll(lambda: not any(collector_holds(root, p) for p in fifos.values()), "released once the task ended")


def test_a_task_that_says_nothing_and_ends_at_once_still_runs_its_on_exit(roots: tuple[Path, Path], tmp_path: Path) -> None:
    """``run -d --rm busybox true``: its writer came and went before anyone read a byte. The armed read end
    was opened before it came, so its going (POLLHUP) says a task ended, and the remover runs; a read end
    opened after the task had gone could not tell that from a container stopped long ago."""
    root, run = roots
    done = tmp_path / "removed"
    fifos = prepared(root, on_exit=["/usr/bin/touch", str(done)])
    assert logd.notify(root, run, KEY, sync=True, arm=True)
    shims = {stream: Shim(path) for stream, path in fifos.items()}
    for shim in shims.values():
        shim.exit()
    logd.notify(root, run, KEY, sync=True)  # pouchsh's look after the start
    poll(done.exists, "the on-exit command run")


def test_an_arm_ends_when_the_create_failed(roots: tuple[Path, Path]) -> None:
    root, run = roots
    fifos = prepared(root)
    assert logd.notify(root, run, KEY, sync=True, arm=True)
    assert all(collector_holds(root, p) for p in fifos.values())
    logd.notify(root, run, KEY, sync=True)  # a plain look (logs, attach) leaves the arm alone
    assert all(collector_holds(root, p) for p in fifos.values())
    logd.notify(root, run, KEY, sync=True, arm=False)
    assert not any(collector_holds(root, p) for p in fifos.values())


def test_an_arm_takes_what_the_last_task_left_first(roots: tuple[Path, Path]) -> None:
    root, run = roots
    fifos = prepared(root)
    first = {stream: Shim(path) for stream, path in fifos.items()}
    first["stdout"].write(b"first\n")
    assert logd.notify(root, run, KEY, sync=True)
    first["stdout"].write(b"last words\n")
    for shim in first.values():
        shim.exit()
    assert logd.notify(root, run, KEY, sync=True, arm=True)
    assert [e["log"] for e in entries(root)] == ["first\n", "last words\n"]
    second = {stream: Shim(path) for stream, path in fifos.items()}
    second["stderr"].write(b"second\n")
    poll(lambda: len(entries(root)) == 3, "the next task logged")
    for shim in second.values():
        shim.exit()


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A foreground task's output FIFO, in a directory of pouchsh's own (FifoIO)."""
    path = tmp_path / "fg-stdout"
    os.mkfifo(path, 0o600)
    yield path


def test_a_held_fifo_is_not_read_while_its_holder_lives(roots: tuple[Path, Path], fifo: Path) -> None:
    root, run = roots
    ours = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    handed = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sock = logd.hold(root, run, [handed])
    os.close(handed)
    assert sock is not None
    assert collector_holds(root, fifo)
    shim = Shim(str(fifo))
    shim.write(b"for the terminal\n")
    assert logd.notify(root, run, None, sync=True)  # a round of the collector's loop has passed
    assert os.read(ours, 100) == b"for the terminal\n"
    logd.release(sock)
    poll(lambda: not collector_holds(root, fifo), "let go on release")
    shim.exit()
    os.close(ours)


def test_a_hold_whose_holder_is_killed_gives_the_shim_a_reader(roots: tuple[Path, Path], fifo: Path) -> None:
    root, run = roots
    handed = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sock = logd.hold(root, run, [handed])
    os.close(handed)
    assert sock is not None
    sock.close()  # killed: no release
    assert logd.notify(root, run, None, sync=True)  # a round of the collector's loop has passed
    assert collector_holds(root, fifo)
    w = writer(fifo)  # the shim's writer: its open finds a reader
    assert w is not None
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # and the shim's own read end
    poll(lambda: not collector_holds(root, fifo), "let go once the shim has its writer")
    os.close(w)
    os.close(r)


def test_a_hold_takes_nothing_but_fifo_read_ends(roots: tuple[Path, Path], fifo: Path, tmp_path: Path) -> None:
    root, run = roots
    keep = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    plain = tmp_path / "plain"
    plain.write_text("x")
    for flags, path in ((os.O_RDONLY, plain), (os.O_WRONLY | os.O_NONBLOCK, fifo)):
        fd = os.open(path, flags)
        assert logd.hold(root, run, [fd]) is None
        os.close(fd)
    assert not collector_holds(root, plain) and not collector_holds(root, fifo)
    # Descriptors sent with anything but a hold are closed, not kept.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.connect(logd.live_path(run))
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sock.sendmsg([KEY.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
    os.close(fd)
    assert sock.recv(16) == b"no"
    sock.close()
    assert not collector_holds(root, fifo)
    os.close(keep)


def test_a_served_container_has_a_stream_it_lacks_opened_again_by_the_scan(roots: tuple[Path, Path]) -> None:
    """Served with stdout only (stderr had no writer when it looked, so it ended), the container's stderr
    is opened again by the next scan: a shim waiting in ``open`` for a reader of it is let through (the
    kernel counts the waiting writer, so the scan's read sees one and keeps the FIFO), and what it says
    is logged."""
    import threading

    root, run = roots
    fifos = prepared(root)
    stdout = Shim(fifos["stdout"])
    assert logd.notify(root, run, KEY, sync=True)  # stdout has its writer, stderr none yet
    assert collector_holds(root, fifos["stdout"]) and not collector_holds(root, fifos["stderr"])
    opened: list[int] = []
    waiting = threading.Thread(target=lambda: opened.append(os.open(fifos["stderr"], os.O_WRONLY)), daemon=True)
    waiting.start()  # the shim's blocking open of its stderr writer
    try:
        poll(lambda: opened, "the waiting writer let through", timeout=logd.RESCAN + 30)
        r = os.open(fifos["stderr"], os.O_RDONLY | os.O_NONBLOCK)
        os.write(opened[0], b"late\n")
        poll(lambda: [e["log"] for e in entries(root)] == ["late\n"], "logged", timeout=30)
        os.close(r)
    finally:
        if not opened:
            os.close(os.open(fifos["stderr"], os.O_RDONLY | os.O_NONBLOCK))  # let the thread go
        waiting.join(10)
        for fd in opened:
            os.close(fd)
    stdout.exit()
