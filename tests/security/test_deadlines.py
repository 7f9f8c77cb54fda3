"""A containerd that stops answering (SIGSTOP: its socket still accepts, nothing replies) costs the user
a few seconds and an ``error[unavailable]`` naming the socket, never a hang; Ctrl-C always ends the
wait; watches find the dead peer through the keepalive; and everything works again once it resumes.

The containerd here is this module's own: stopping the session's would stall every other test.
``POUCHSH_TIMEOUT_SCALE=0.2`` makes a lookup's deadline one second, so the suite stays fast; the
bound asserted is generous (a loaded CI host).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

import ctrd
from ctrd import connection, interrupt
from ctrd.daemon import Embedded, start_embedded, stop_embedded
from ctrd.errors import Interrupted, Unavailable
from ctrd.imports import import_oci_layout
from ctrd.watch import Watcher
from tests.images.conftest import registry  # noqa: F401 - the module-scoped docker-registry fixture
from tests.reliability.conftest import REPO
from tests.support.cleanup import purge_namespace
from tests.support.poll import poll

pytestmark = pytest.mark.containerd

NAMESPACE = "deadlines"
SCALE = "0.2"
#: how long a command may take to report a stopped containerd (its deadline is 1 s; start-up included)
BOUND = 30.0
REMOTE = "deadlines/busybox:1"


@dataclass(frozen=True)
class Private:
    embedded: Embedded
    pid: int
    roots: tuple[Path, Path]
    registry: str

    @property
    def socket(self) -> str:
        return str(self.embedded.socket)

    def pouchsh(self, command: str, **env: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", self.socket, "--namespace", NAMESPACE,
                "-c", command]
        environment = {**os.environ, "POUCHSH_ROOT": str(self.roots[0]), "POUCHSH_RUN": str(self.roots[1]),
                       "POUCHSH_TIMEOUT_SCALE": SCALE, **env}
        environment.pop("CONTAINERD_NAMESPACE", None)
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
                                cwd=REPO)

    def run(self, command: str, timeout: float = 120, **env: str) -> tuple[int, str, float]:
        """(exit status, stderr, seconds taken) of ``pouchsh -c command``."""
        start = time.monotonic()
        proc = self.pouchsh(command, **env)
        try:
            _out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, err.decode(errors="replace"), time.monotonic() - start


@pytest.fixture(scope="module")
def private(
    busybox_layout: Path, registry: str, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
) -> Iterator[Private]:
    base = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))  # short: the socket path must fit sun_path
    embedded = Embedded(data_root=base / "root", run_root=base / "run")
    pid = start_embedded(embedded, timeout=60)
    client = ctrd.Client(str(embedded.socket))
    roots = (tmp_path_factory.mktemp("deadline-root"), tmp_path_factory.mktemp("deadline-run"))
    try:
        import_oci_layout(client.with_namespace(NAMESPACE), busybox_layout)
        here = Private(embedded, pid, roots, registry)
        remote = f"{registry}/{REMOTE}"
        status, err, _ = here.run(f"tag busybox {remote}; push --insecure-registry {remote}; rmi {remote}")
        assert status == 0, err
        yield here
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        try:
            problems = purge_namespace(client, NAMESPACE)
        finally:
            client.close()
            stop_embedded(embedded)
            shutil.rmtree(base, ignore_errors=True)
        assert not problems


def _silent(private: Private) -> str:
    """The pattern of the message that names the socket of a containerd that does not answer."""
    return re.escape(f"containerd at {private.socket} is not answering")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@contextmanager
def stopped(private: Private) -> Iterator[None]:
    os.kill(private.pid, signal.SIGSTOP)
    try:
        poll(lambda: _state(private.pid) == "T", "containerd stopped", BOUND)
        yield
    finally:
        os.kill(private.pid, signal.SIGCONT)


def _unread(socket: str) -> int:
    """Bytes sent to containerd on accepted connections that it has not read (it reads none while stopped)."""
    listing = subprocess.run(["ss", "-xnH"], capture_output=True, text=True, check=True).stdout
    rows = (line.split() for line in listing.splitlines())
    return sum(int(f[2]) for f in rows if len(f) > 4 and f[4] == socket)


COMMANDS = [
    "ps",
    "images",
    "run -d --network none --name dl-run busybox sleep 30",
    f"pull --insecure-registry {{registry}}/{REMOTE}",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_stopped_containerd_is_reported_unavailable_naming_its_socket(
    private: Private, command: str
) -> None:
    """A fresh pouchsh: its connection waits in the stopped containerd's accept queue."""
    command = command.format(registry=private.registry)
    with stopped(private):
        status, err, took = private.run(command)
    # a container command that fails before its container's command runs exits 125, as docker's
    assert status == (125 if command.startswith("run ") else 1) and "error[unavailable]" in err, err
    assert f"containerd at {private.socket} is not answering" in err, err
    assert "Traceback" not in err, err
    assert took < BOUND, f"{command}: {took:.1f}s"
    status, err, _ = private.run(command)  # resumed: the very same command works
    assert status == 0, err
    if "dl-run" in command:
        assert private.run("rm -f dl-run")[0] == 0


def test_a_command_ends_although_a_call_beside_it_is_still_completing(private: Private) -> None:
    """``ps`` lists tasks in the background while it lists containers. With containerd silent both calls
    fail at once, and the process must end while grpc's thread is still completing the second: the
    interpreter's finalization used to freeze that thread inside the call's lock and then wait on the same
    lock (1 run in 20 hung for ever). Forty runs, four at a time, make the race likely."""
    from concurrent.futures import ThreadPoolExecutor

    with stopped(private), ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: private.run("ps", timeout=BOUND), range(40)))
    for status, err, _took in results:
        assert status == 1 and "error[unavailable]" in err, err


def test_a_containerd_stopped_mid_session_is_reported_unavailable(
    private: Private, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session whose connection was live when containerd stopped: without deadlines, each of these
    calls waited for ever (the socket is open, nothing answers)."""
    from managers import Managers
    from tests.reliability.conftest import Shell, detach_all

    monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", SCALE)
    facade = Managers(address=private.socket, namespace=NAMESPACE, root=private.roots[0],
                      run_root=private.roots[1])
    shell = Shell(facade, private.roots)
    try:
        shell.run("ps; images")
        with stopped(private):
            for command in COMMANDS:
                command = command.format(registry=private.registry)
                start = time.monotonic()
                with pytest.raises(Unavailable, match=_silent(private)):
                    shell.run(command)
                assert time.monotonic() - start < BOUND, command
        shell.run("run -d --network none --name dl-mid busybox sleep 30; rm -f dl-mid")
    finally:
        detach_all(facade)
        facade.close()


def test_ctrl_c_ends_a_call_waiting_on_a_stopped_containerd(private: Private) -> None:
    # With a 100 s deadline only the interrupt can end the wait quickly; the pause after `ready` is
    # the moment the test stops containerd, between the first ps and the second.
    proc = private.pouchsh("ps; echo ready; sleep 2s; ps", POUCHSH_TIMEOUT_SCALE="20")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"CONTAINER ID")  # an empty ps prints docker's header
        assert proc.stdout.readline() == b"ready\n"
        with stopped(private):
            poll(lambda: _unread(private.socket) > 0 or proc.poll() is not None, "the second ps is waiting",
                 BOUND)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "error[interrupted]" in text and "Traceback" not in text, text
    assert time.monotonic() - sent < 5, text


def test_a_stream_whose_reply_is_overdue_ends_unavailable(
    private: Private, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", "0.05")  # a content reply may be 3 s late
    client = ctrd.Client(private.socket).with_namespace(NAMESPACE)
    digest = client.content.list()[0].digest
    try:
        with stopped(private):
            start = time.monotonic()
            # the reply's deadline ends it, or the keepalive's ping, whichever comes first under load
            with pytest.raises(Unavailable, match=_silent(private) + r" \((no reply within 3s|.*ping timeout.*)\)"):
                b"".join(client.content.read_stream(digest))
            assert time.monotonic() - start < BOUND
        assert b"".join(client.content.read_stream(digest))
    finally:
        client.close()


class Issued:
    """``expect()`` gives an event that is set once the next call waits for containerd (ctrd.connection
    looks at the interrupt right after issuing a unary call, and before each wait for a stream reply)."""

    def __init__(self) -> None:
        self._next: threading.Event | None = None

    def expect(self) -> threading.Event:
        self._next = threading.Event()
        return self._next

    def noted(self) -> None:
        event, self._next = self._next, None
        if event is not None:
            event.set()


@pytest.fixture
def slow_deadlines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issued]:
    """Lookups get 100 s and content replies 1200 s: only an interrupt ends a wait soon."""
    monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", "20")
    issued = Issued()
    armed = connection._armed

    def noting() -> threading.Event | None:
        issued.noted()
        return armed()

    monkeypatch.setattr(connection, "_armed", noting)
    yield issued


def _after(event: threading.Event, action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: event.wait(BOUND) and action())
    thread.start()
    return thread


def test_the_interrupt_event_cancels_the_call_in_flight(private: Private, slow_deadlines: Issued) -> None:
    client = ctrd.Client(private.socket).with_namespace(NAMESPACE)
    digest = client.content.list()[0].digest  # and the connection is up: the calls below wait on it
    try:
        for what, call in (
            ("container list", client.containers.list),
            (f"content read {digest}", lambda: b"".join(client.content.read_stream(digest))),
        ):
            cancel = threading.Event()
            interrupt.cancel_calls_on(cancel)
            with stopped(private):
                setter = _after(slow_deadlines.expect(), cancel.set)
                start = time.monotonic()
                with pytest.raises(Interrupted, match=re.escape(f"{what}: interrupted")):
                    call()
                setter.join()
                assert time.monotonic() - start < 5, what
            # A call begun after the interrupt runs normally: it is what stops what the user interrupted.
            assert cancel.is_set() and client.version().version
    finally:
        interrupt.cancel_calls_on(None)
        client.close()


def test_keyboard_interrupt_cancels_the_call_and_propagates(private: Private, slow_deadlines: Issued) -> None:
    client = ctrd.Client(private.socket).with_namespace(NAMESPACE)
    client.version()
    main = threading.get_ident()
    try:
        with stopped(private):
            poker = _after(slow_deadlines.expect(), lambda: signal.pthread_kill(main, signal.SIGINT))
            start = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                client.containers.list()
            poker.join()
            assert time.monotonic() - start < 5
        assert client.version().version  # the channel is still good
    finally:
        client.close()


@pytest.fixture
def quick_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 2 s ping would earn GOAWAY too_many_pings from a live containerd after a few quiet seconds
    # (see ctrd.deadlines); the tests stop containerd before that.
    monkeypatch.setenv("POUCHSH_KEEPALIVE", "2")
    monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", SCALE)


def test_an_event_stream_finds_the_dead_peer_by_keepalive(private: Private, quick_keepalive: None) -> None:
    client = ctrd.Client(private.socket).with_namespace(NAMESPACE)
    try:
        subscription = client.events.subscribe()
        client.events.wait_live(subscription, timeout=BOUND)
        with stopped(private):
            start = time.monotonic()
            with pytest.raises(Unavailable, match=_silent(private)):
                for _event in subscription:
                    pass
            assert time.monotonic() - start < BOUND
    finally:
        client.close()


def test_the_watcher_surfaces_a_dead_peer(private: Private, quick_keepalive: None) -> None:
    client = ctrd.Client(private.socket).with_namespace(NAMESPACE)
    watcher = Watcher(client).start()
    try:
        watcher.wait_synced(BOUND)
        with stopped(private):
            poll(lambda: not watcher.snapshot().synced, "the watcher saw containerd stop", BOUND)
            poll(lambda: isinstance(watcher.last_error, Unavailable), "the watcher's error", BOUND)
            assert private.socket in str(watcher.last_error)
        watcher.wait_synced(BOUND)  # and it comes back by itself
    finally:
        watcher.stop()
        client.close()


def test_dialling_a_stopped_embedded_containerd_does_not_hang(private: Private, tmp_path: Path) -> None:
    with stopped(private):
        start = time.monotonic()
        with pytest.raises(Unavailable, match=f"process {private.pid} is stopped"):
            start_embedded(private.embedded, timeout=60)
        assert time.monotonic() - start < 5
        # The CLI's own dial: no --address, the data root holds the embedded containerd's files.
        env = {**os.environ, "POUCHSH_ROOT": str(private.embedded.data_root),
               "POUCHSH_RUN": str(private.embedded.run_root),
               "POUCHSH_SYSTEM_SOCKET": str(tmp_path / "none.sock")}
        env.pop("CONTAINERD_ADDRESS", None)
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pouchsh", "-c", "ps"], capture_output=True, env=env,
                              cwd=REPO, timeout=120, check=False)
        text = done.stderr.decode(errors="replace")
        assert done.returncode == 1 and "error[unavailable]" in text and private.socket in text, text
        assert time.monotonic() - start < BOUND
