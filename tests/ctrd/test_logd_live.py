"""The collector's live stream (ctrd.logd.subscribe) against FIFOs held the way the runc shim holds
them, without containerd: a subscriber gets the bytes as the collector reads them (a prompt without
its newline at once, whatever the log's partial-line delay), a subscriber that never reads is cut off
without stalling the log of its container or of others, a kill -9 of the collector ends the stream,
and the socket takes nothing but a container's name."""

from __future__ import annotations

import _socket
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrd import logd
from tests.ctrd.test_logd import CID, NS, Shim, _zombie, collector_pid, entries, start_container, stop_collector
from tests.support.poll import poll

REPO = Path(__file__).resolve().parents[2]
KEY = f"{NS}/{CID}"


def start_slow_collector(root: Path, run: Path, *, live: bool = True) -> subprocess.Popen[bytes]:
    """A collector whose unfinished lines reach the log only after an hour (``PARTIAL_AFTER``): what a
    subscriber sees of a prompt can only have come live. ``live`` False: one as before the live stream
    (no socket for it; lines unfinished for 50 ms logged as usual)."""
    code = ("import sys, _socket; from ctrd import logd; logd.LINGER = 3600.0\n"
            + ("logd.PARTIAL_AFTER = 3600.0\n" if live else
               "logd._listen = lambda path: _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)\n")
            + "sys.exit(logd.serve(sys.argv[1], sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(root), str(run)], cwd=REPO, start_new_session=True)
    poll(lambda: os.path.exists(logd.socket_path(run)) and collector_pid_of(root) == proc.pid, "the collector up")
    assert os.path.exists(logd.live_path(run)) == live
    return proc


def collector_pid_of(root: Path) -> int | None:
    try:
        text = (root / "logd.lock").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    root, run = tmp_path / "root", tmp_path / "run"
    (root / "containers" / NS / CID).mkdir(parents=True)
    run.mkdir()
    proc = start_slow_collector(root, run)
    yield root, run
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def read_until(sock: _socket.socket, wanted: bytes, timeout: float = 30) -> tuple[bytes, list[bytes]]:
    """What the stream's data messages hold once ``wanted`` is in them (and every message seen)."""
    got, messages = b"", []
    end = time.monotonic() + timeout
    while wanted not in got:
        left = end - time.monotonic()
        assert left > 0, f"{wanted!r} never came: {got[-300:]!r}"
        sock.settimeout(left)
        message = sock.recv(logd.LIVE_MESSAGE)
        assert message, f"the stream ended before {wanted!r}: {got[-300:]!r}"
        messages.append(message)
        if message[:1] in logd.TAGS.values():
            got += message[1:]
    return got, messages


def test_a_prompt_without_its_newline_arrives_live(slow: tuple[Path, Path]) -> None:
    root, run = slow
    shims = start_container(root)
    assert logd.notify(root, run, KEY, sync=True)
    sock = logd.subscribe(run, KEY)
    assert sock is not None
    st = os.stat(logd.live_path(run))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    started = time.monotonic()
    shims["stdout"].write(b"/ # ")
    _, messages = read_until(sock, b"/ # ")
    took = time.monotonic() - started
    assert messages == [b"o/ # "]
    assert entries(root) == []  # the log still holds it back (an hour): it came live
    shims["stderr"].write(b"oops\n")
    _, messages = read_until(sock, b"oops\n")
    assert messages == [b"eoops\n"]
    # SYNC: answered after what waits in the FIFOs
    shims["stdout"].write(b"last\n")
    sock.settimeout(30)
    sock.send(logd.SYNC)
    got = [sock.recv(logd.LIVE_MESSAGE) for _ in range(2)]
    assert got in ([b"olast\n", logd.SYNCED], [logd.SYNCED, b"olast\n"])  # written before or after the drain
    # the task ends: the stream ends (EOF after what it was owed), the log has it all
    for shim in shims.values():
        shim.exit()
    sock.settimeout(30)
    assert sock.recv(logd.LIVE_MESSAGE) == b""
    sock.close()

    def streams() -> dict[str, str]:
        out: dict[str, str] = {}
        for e in entries(root):
            out[e["stream"]] = out.get(e["stream"], "") + e["log"]
        return out

    # (the held prompt and the rest of its line are one record: the log's lines are whole)
    poll(lambda: streams() == {"stdout": "/ # last\n", "stderr": "oops\n"}, "the log complete")
    assert took < 5, took  # live: no waiting for the hour-long partial-line flush


def test_a_subscriber_that_never_reads_stalls_nothing(slow: tuple[Path, Path]) -> None:
    root, run = slow
    fifos = logd.prepare(root / "containers" / NS / CID, max_size=64 << 20, max_file=1, keep=False, tty=False)
    shims = {stream: Shim(path) for stream, path in fifos.items()}  # one unrotated file: all of it counted
    other = root / "containers" / NS / "beef00"
    other.mkdir()
    other_fifos = logd.prepare(other, max_size=1 << 20, max_file=2, keep=False, tty=False)
    other_shim = Shim(other_fifos["stdout"])
    assert logd.notify(root, run, KEY, sync=True)
    assert logd.notify(root, run, f"{NS}/beef00", sync=True)
    stuck = logd.subscribe(run, KEY)
    reader = logd.subscribe(run, KEY)
    assert stuck is not None and reader is not None
    line = b"x" * 1023 + b"\n"
    total = 4 << 20  # far past the subscriber's socket buffer and LIVE_QUEUE
    got = 0
    reader.setblocking(False)
    for i in range(total // len(line)):
        shims["stdout"].write(line)  # blocks if the collector stalled: the test would time out
        if i % 64 == 0:
            other_shim.write(b"other %d\n" % i)
        while True:  # the reader that reads keeps up
            try:
                message = reader.recv(logd.LIVE_MESSAGE)
            except BlockingIOError:
                break
            got += len(message) - 1
    shims["stdout"].write(b"done\n")
    assert logd.notify(root, run, KEY, sync=True)
    log = root / "containers" / NS / CID / f"{CID}-json.log"
    poll(lambda: b"done" in log.read_bytes(), "everything logged")
    assert sum(len(e["log"]) for e in entries(root)) == total + 5
    other_log = other / "beef00-json.log"
    poll(lambda: b"other %d\n" % (total // len(line) - 64 - (total // len(line)) % 64) in other_log.read_bytes() or
         len(other_log.read_bytes().splitlines()) == (total // len(line) + 63) // 64, "the other container logged")
    # the stuck one was cut off: what its buffer took, then EOF
    stuck.settimeout(30)
    held = 0
    while message := stuck.recv(logd.LIVE_MESSAGE):
        held += len(message) - 1
    assert held < total
    # the reader that read got everything, then what the drain left
    rest, _ = read_until(reader, b"done\n")
    assert got + len(rest) == total + 5
    stuck.close()
    reader.close()
    for shim in (*shims.values(), other_shim):
        shim.exit()


def test_kill9_of_the_collector_ends_the_stream_and_the_log_keeps_what_waited(tmp_path: Path) -> None:
    root, run = tmp_path / "root", tmp_path / "run"
    (root / "containers" / NS / CID).mkdir(parents=True)
    run.mkdir()
    try:
        shims = start_container(root)
        assert logd.notify(root, run, KEY, sync=True)
        sock = logd.subscribe(run, KEY)
        assert sock is not None
        shims["stdout"].write(b"before\n")
        read_until(sock, b"before\n")
        pid = collector_pid(root)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        sock.settimeout(30)
        assert sock.recv(logd.LIVE_MESSAGE) == b""  # EOF: the subscriber knows at once
        poll(lambda: _zombie(pid) or not os.path.exists(f"/proc/{pid}"), "collector killed")
        shims["stdout"].write(b"while dead\n")
        assert logd.subscribe(run, KEY) is None  # nobody serves: the caller falls back to the log
        assert logd.revive(root, run)
        poll(lambda: collector_pid(root), "collector revived")
        assert logd.notify(root, run, KEY, sync=True)
        assert [e["log"] for e in entries(root)] == ["before\n", "while dead\n"]
        again = logd.subscribe(run, KEY)
        assert again is not None  # the revived one serves the stream again
        shims["stdout"].write(b"after\n")
        read_until(again, b"after\n")
        again.close()
        for shim in shims.values():
            shim.exit()
    finally:
        stop_collector(root)


def test_the_socket_takes_only_a_container_name(slow: tuple[Path, Path]) -> None:
    root, run = slow
    shims = start_container(root)
    assert logd.notify(root, run, KEY, sync=True)
    for junk in (b"../../../etc", b"ns1/../c0ffee", b"/etc/passwd", b"\xff\xfe" * 100, b"x" * 1000, KEY.encode() + b"/x",
                 b"ns1/nosuch"):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        sock.settimeout(30)
        sock.connect(logd.live_path(run))
        sock.send(junk)
        assert sock.recv(16) == b"no", junk
        assert sock.recv(16) == b"", junk
        sock.close()
    # connections that never name a container are let go (the oldest first), and take no one's place
    idle = []
    for _ in range(40):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        sock.connect(logd.live_path(run))
        idle.append(sock)
    live = logd.subscribe(run, KEY)
    assert live is not None
    shims["stdout"].write(b"served\n")
    read_until(live, b"served\n")
    idle[0].settimeout(30)
    assert idle[0].recv(16) == b""  # let go
    # a subscriber that talks past its subscription is let go; the others go on
    chatty = logd.subscribe(run, KEY)
    assert chatty is not None
    chatty.send(b"something else")
    chatty.settimeout(30)
    assert chatty.recv(16) == b""
    shims["stdout"].write(b"still\n")
    read_until(live, b"still\n")
    assert logd.notify(root, run, KEY, sync=True)
    poll(lambda: [e["log"] for e in entries(root)] == ["served\n", "still\n"], "logged")
    for sock in (*idle, live, chatty):
        sock.close()
    for shim in shims.values():
        shim.exit()


def test_every_subscriber_sees_the_end_of_the_output(slow: tuple[Path, Path]) -> None:
    root, run = slow
    shims = start_container(root)
    assert logd.notify(root, run, KEY, sync=True)
    subs = [logd.subscribe(run, KEY) for _ in range(3)]
    assert all(s is not None for s in subs)
    shims["stdout"].write(b"bye\n")
    for sock in subs:
        read_until(sock, b"bye\n")  # type: ignore[arg-type]
    for shim in shims.values():
        shim.exit()
    for sock in subs:
        sock.settimeout(30)  # type: ignore[union-attr]
        assert sock.recv(logd.LIVE_MESSAGE) == b""  # type: ignore[union-attr]
        sock.close()  # type: ignore[union-attr]
    assert logd.subscribe(run, KEY) is None  # its output is over: nothing to subscribe to


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"), reason="needs root to try as another user")
def test_another_user_cannot_subscribe(tmp_path: Path) -> None:
    import shutil
    import tempfile

    root = tmp_path / "root"
    (root / "containers" / NS / CID).mkdir(parents=True)
    # a run root anyone may enter (pytest's own directories are 0700): only the collector's modes keep others out
    run = Path(tempfile.mkdtemp(prefix="logd-", dir="/tmp"))
    run.chmod(0o755)
    proc = start_slow_collector(root, run)
    try:
        shims = start_container(root)
        assert logd.notify(root, run, KEY, sync=True)
        code = ("import _socket, sys; s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)\n"
                "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(13)\nsys.exit(0)")
        done = subprocess.run(["/usr/bin/python3", "-c", code, logd.live_path(run)], user=65534, group=65534,
                              cwd="/", capture_output=True, timeout=60)
        assert done.returncode == 13, done.stderr  # the 0700 directory and the 0600 socket keep it out
        assert stat.S_IMODE(os.stat(Path(logd.live_path(run)).parent).st_mode) == 0o700
        # and were the modes loosened, the collector itself hangs up on a peer of another uid
        os.chmod(Path(logd.live_path(run)).parent, 0o755)
        os.chmod(logd.live_path(run), 0o666)
        code = ("import _socket, sys; s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET); s.settimeout(30)\n"
                "s.connect(sys.argv[1])\ntry:\n s.send(sys.argv[2].encode()); answer = s.recv(16)\n"
                "except OSError:\n answer = b''\nprint('answered' if answer else 'cut')")
        done = subprocess.run(["/usr/bin/python3", "-c", code, logd.live_path(run), KEY], user=65534, group=65534,
                              cwd="/", capture_output=True, timeout=60)
        assert done.stdout == b"cut\n", done.stderr
        for shim in shims.values():
            shim.exit()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(run, ignore_errors=True)
