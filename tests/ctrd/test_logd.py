"""The log collector (ctrd.logd) against FIFOs held the way the runc shim holds them, without containerd:
a writer end and a read end of the "shim's" own, so output waits in the pipe while no collector runs."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrd import logd

from tests.support.poll import poll

NS, CID = "ns1", "c0ffee"


def collector_pid(root: Path) -> int | None:
    """The live collector of ``root`` (its pid in the lock file, the lock held)."""
    try:
        text = (root / "logd.lock").read_text().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    pid = int(text)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if b"logd.py" in f.read() else None
    except FileNotFoundError:
        return None


def stop_collector(root: Path) -> None:
    pid = collector_pid(root)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        poll(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), "collector gone")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


class Shim:
    """What the runc shim does with a task's output FIFO: a write end and a read end of its own."""

    def __init__(self, path: str) -> None:
        self.keep_r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.w = os.open(path, os.O_WRONLY)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.w, view) :]

    def exit(self) -> None:
        os.close(self.w)
        os.close(self.keep_r)


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    root, run = tmp_path / "root", tmp_path / "run"
    (root / "containers" / NS / CID).mkdir(parents=True)
    run.mkdir()
    yield root, run
    stop_collector(root)


def entries(root: Path) -> list[dict[str, str]]:
    log = root / "containers" / NS / CID / f"{CID}-json.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_bytes().splitlines()]


def start_container(root: Path, *, keep: bool = False, tty: bool = False) -> dict[str, Shim]:
    fifos = logd.prepare(root / "containers" / NS / CID, max_size=1 << 20, max_file=2, keep=keep, tty=tty)
    return {stream: Shim(path) for stream, path in fifos.items()}


def test_prepare_makes_private_fifos_and_config(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    directory = root / "containers" / NS / CID
    (directory / "stderr.fifo").write_text("not a fifo")
    fifos = logd.prepare(directory, max_size=100, max_file=2, keep=True, tty=False)
    for path in fifos.values():
        st = os.lstat(path)
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory / logd.CONFIG).st_mode) == 0o600
    assert "keep=1" in (directory / logd.CONFIG).read_text()
    assert list(logd.prepare(directory, max_size=100, max_file=2, keep=False, tty=True)) == ["stdout"]


def test_output_is_logged_per_stream_and_sync_waits_for_it(roots: tuple[Path, Path]) -> None:
    root, run = roots
    shims = start_container(root)
    shims["stdout"].write(b"out 1\nout 2\n")
    shims["stderr"].write(b"err 1\n")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    assert sorted((e["stream"], e["log"]) for e in entries(root)) == [
        ("stderr", "err 1\n"), ("stdout", "out 1\n"), ("stdout", "out 2\n")
    ]
    for shim in shims.values():
        shim.exit()


def test_an_unfinished_line_is_written_while_the_task_waits(roots: tuple[Path, Path]) -> None:
    """A prompt has no newline: it reaches the log (and so attach and logs -f) while the container waits
    for input, as a record without its newline; the rest of the line follows in its own record."""
    root, run = roots
    shims = start_container(root)
    shims["stdout"].write(b"/ # ")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    poll(lambda: [e["log"] for e in entries(root)] == ["/ # "], "the prompt logged", timeout=30)
    shims["stdout"].write(b"ls\n")
    poll(lambda: [e["log"] for e in entries(root)] == ["/ # ", "ls\n"], "the rest of the line", timeout=30)
    for shim in shims.values():
        shim.exit()


def test_kill9_of_the_collector_loses_nothing_that_waits_in_the_pipe(roots: tuple[Path, Path]) -> None:
    root, run = roots
    shims = start_container(root)
    shims["stdout"].write(b"before\n")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    first = collector_pid(root)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    poll(lambda: _zombie(first) or not os.path.exists(f"/proc/{first}"), "collector killed")
    lines = b"".join(b"while dead %d\n" % i for i in range(3000))  # ~50 KiB: fits the 64 KiB pipe
    shims["stdout"].write(lines)
    assert collector_pid(root) is None
    assert logd.revive(root, run)  # what the next pouchsh invocation does: a pid left, the lock free
    poll(lambda: collector_pid(root), "collector revived")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    logged = [e["log"] for e in entries(root)]
    assert logged == ["before\n", *(f"while dead {i}\n" for i in range(3000))]
    for shim in shims.values():
        shim.exit()


def test_scan_finds_a_task_nobody_announced(roots: tuple[Path, Path]) -> None:
    """pouchsh killed between Tasks.Create and its datagram: the collector's first scan serves it."""
    root, run = roots
    shims = start_container(root)
    shims["stdout"].write(b"unannounced\n")
    logd.notify(root, run, None)  # a collector starts (and scans) without being told of the container
    poll(lambda: entries(root), "logged by the scan")
    assert entries(root)[0]["log"] == "unannounced\n"
    for shim in shims.values():
        shim.exit()


def test_a_stopped_container_is_released_and_the_collector_ends(roots: tuple[Path, Path]) -> None:
    root, run = roots
    shims = start_container(root)
    shims["stdout"].write(b"last words")  # no newline: written at EOF
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    pid = collector_pid(root)
    for shim in shims.values():
        shim.exit()
    poll(lambda: entries(root), "flushed at EOF")
    assert entries(root)[-1]["log"] == "last words"
    # Nothing left to serve: it ends after LINGER, cleanly (no pid left for revive).
    poll(lambda: _zombie(pid) or not os.path.exists(f"/proc/{pid}"), "collector ended", timeout=logd.LINGER + 60)
    assert (root / "logd.lock").read_text() == ""
    assert not logd.revive(root, run)
    assert not os.path.exists(logd.socket_path(run))


def test_a_restarting_container_keeps_a_reader_for_its_next_task(roots: tuple[Path, Path]) -> None:
    """keep (a restart policy): after the task's writer goes, the collector opens the FIFO again, so the
    restart monitor's Tasks.Create, which waits for a reader, finds one."""
    root, run = roots
    shims = start_container(root, keep=True)
    shims["stdout"].write(b"first task\n")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    for shim in shims.values():
        shim.exit()
    stdout = str(root / "containers" / NS / CID / "stdout.fifo")

    def writer_opens() -> int | None:
        try:
            return os.open(stdout, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader has it open
        except OSError:
            return None

    w = poll(writer_opens, "a reader on the FIFO after the task ended")
    assert isinstance(w, int)
    os.close(w)  # the next task's Create found a reader
    # Its shim holds a read end of its own too, so nothing it writes is lost while the collector reopens.
    second = Shim(stdout)
    second.write(b"second task\n")
    poll(lambda: len(entries(root)) == 2, "the next task's output")
    second.exit()
    assert [e["log"] for e in entries(root)] == ["first task\n", "second task\n"]
    # The directory removed (rm): the FIFO is let go and the collector ends.
    import shutil

    pid = collector_pid(root)
    shutil.rmtree(root / "containers" / NS / CID)
    logd.notify(root, run, f"{NS}/{CID}")
    poll(lambda: _zombie(pid) or not os.path.exists(f"/proc/{pid}"), "collector ended", timeout=logd.LINGER + 60)


def test_datagrams_cannot_name_paths(roots: tuple[Path, Path]) -> None:
    for key in ("../x", "ns/../..", "/etc/passwd", "ns/id/more", "ns/.hidden", "", "ns/", "a" * 600 + "/b", "ns/i\x00d"):
        assert not logd._valid_key(key), key
    assert logd._valid_key("default/0123abcd")
    root, run = roots
    shims = start_container(root)
    logd.notify(root, run, None)
    poll(lambda: collector_pid(root), "collector up")
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    for junk in (b"../../../etc", b"\xff\xfe" * 100, b"x" * 5000, b"/" * 10):
        sock.sendto(junk, logd.socket_path(run))
    sock.close()
    shims["stdout"].write(b"still served\n")
    assert logd.notify(root, run, f"{NS}/{CID}", sync=True)
    assert entries(root)[-1]["log"] == "still served\n"
    for shim in shims.values():
        shim.exit()
