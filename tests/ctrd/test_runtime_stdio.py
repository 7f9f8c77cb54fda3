"""FIFO stdio without containerd: this process plays the shim's side of the FIFOs."""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import pytest

from ctrd.errors import PouchRuntimeError
from ctrd.stdio import FifoIO, NullIO


class FakeShim:
    """Opens the FIFO ends the runc shim opens during Tasks.Create."""

    def __init__(self, fifo: FifoIO) -> None:
        self.stdout = os.open(fifo.stdout, os.O_WRONLY)  # succeeds at once: our reader is already open
        self.stderr = os.open(fifo.stderr, os.O_WRONLY) if fifo.stderr else -1
        self.stdin = os.open(fifo.stdin, os.O_RDONLY) if fifo.stdin else -1

    def read_stdin(self) -> bytes:
        chunks = []
        while data := os.read(self.stdin, 4096):
            chunks.append(data)
        return b"".join(chunks)

    def exit(self) -> None:
        for fd in (self.stdout, self.stderr, self.stdin):
            if fd >= 0:
                os.close(fd)


def test_fifo_set_layout_and_cleanup(tmp_path: Path) -> None:
    root = tmp_path / "fifo"
    fifo = FifoIO.open(root, "c1", stdin=True)
    directory = Path(fifo.stdout).parent
    assert directory.parent == root
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [Path(p).name for p in (fifo.stdin, fifo.stdout, fifo.stderr)] == [
        "c1-stdin",
        "c1-stdout",
        "c1-stderr",
    ]
    assert all(stat.S_ISFIFO(os.stat(p).st_mode) for p in (fifo.stdin, fifo.stdout, fifo.stderr))
    shim = FakeShim(fifo)
    fifo.created()
    fifo.close()
    shim.exit()
    assert not directory.exists()


def test_copies_output_tees_to_sink_and_delivers_stdin_then_closes(tmp_path: Path) -> None:
    fifo = FifoIO.open(tmp_path, "c1", stdin=True)
    shim = FakeShim(fifo)
    fifo.created()
    out, err = io.BytesIO(), io.BytesIO()
    teed: list[tuple[str, bytes]] = []
    closed = threading.Event()
    fifo.attach(
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(b"input line\n" * 10000),
        sink=lambda stream, data: teed.append((stream, data)),
        close_stdin=closed.set,
    )
    assert shim.read_stdin() == b"input line\n" * 10000  # EOF: our write end was closed
    # CloseIO comes from the copier thread just after that EOF; a close() before it would (rightly) skip it
    assert closed.wait(30), "close_stdin was not called after the input ran out"
    os.write(shim.stdout, b"to out\n")
    os.write(shim.stderr, b"to err\n")
    shim.exit()
    fifo.wait(timeout=30)
    fifo.close()
    assert out.getvalue() == b"to out\n"
    assert err.getvalue() == b"to err\n"
    assert sorted(teed) == [("stderr", b"to err\n"), ("stdout", b"to out\n")]


def test_stdin_from_a_pipe_is_forwarded(tmp_path: Path) -> None:
    fifo = FifoIO.open(tmp_path, "c1", stdin=True)
    shim = FakeShim(fifo)
    fifo.created()
    r, w = os.pipe()
    with os.fdopen(r, "rb", buffering=0) as source:
        fifo.attach(stdin=source)
        os.write(w, b"abc")
        os.close(w)
        assert shim.read_stdin() == b"abc"
    shim.exit()
    fifo.wait(timeout=30)
    fifo.close()


def test_close_stops_a_stdin_copy_the_task_never_reads(tmp_path: Path) -> None:
    fifo = FifoIO.open(tmp_path, "c1", stdin=True)
    shim = FakeShim(fifo)
    fifo.created()
    r, w = os.pipe()  # a source that never ends, like a terminal
    fifo.attach(stdin=os.fdopen(r, "rb", buffering=0))
    fifo.close()  # returns although the source is still open
    os.close(w)
    shim.exit()


def test_close_after_a_failed_create_unblocks_the_stdin_opener(tmp_path: Path) -> None:
    fifo = FifoIO.open(tmp_path, "c1", stdin=True)
    directory = Path(fifo.stdout).parent
    fifo.close()  # nobody ever opened the shim side
    assert not directory.exists()


def test_terminal_has_no_stderr_and_output_may_have_no_destination(tmp_path: Path) -> None:
    fifo = FifoIO.open(tmp_path, "c1", terminal=True)
    assert fifo.stderr == "" and fifo.stdin == "" and fifo.terminal
    shim = FakeShim(fifo)
    fifo.created()
    fifo.attach()
    os.write(shim.stdout, b"x" * 200_000)  # more than a pipe holds: must be drained, not block
    shim.exit()
    fifo.wait(timeout=30)
    fifo.close()


def test_attach_twice_is_refused(tmp_path: Path) -> None:
    with FifoIO.open(tmp_path, "c1") as fifo:
        shim = FakeShim(fifo)
        fifo.created()
        fifo.attach()
        with pytest.raises(PouchRuntimeError):
            fifo.attach()
        shim.exit()


def test_null_io() -> None:
    assert (NullIO().stdin, NullIO().stdout, NullIO().stderr) == ("", "", "")
