"""``attach`` against the real containerd: a running container's output from now on and its exit status,
hostile escape sequences escaped on a terminal, Ctrl-C with and without the signal proxy."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from managers.attach import printable
from tests.containers.conftest import spawned

LOOP = ('trap "echo got-int; exit 7" INT; i=0; while [ ! -e /stop ]; do echo tick $i; i=$((i+1)); sleep 0.2; done; '
        'printf "\\033]0;pwned\\007\\n"; echo err >&2; exit 3')


def test_printable_escapes_control_characters() -> None:
    assert printable("plain line\n") == "plain line\n"
    assert printable("\x1b[2J\x1b]0;t\x07tab\there\r\n\x9b") == "\\x1b[2J\\x1b]0;t\\x07tab\there\\x0d\n\\x9b"


class _Attached:
    """``pouchsh -c SCRIPT`` with its stdout on a pty (a terminal, as at the prompt)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        self.seen = b""

    def read_until(self, needle: bytes, deadline: float = 60) -> bytes:
        end = time.monotonic() + deadline
        while needle not in self.seen:
            left = end - time.monotonic()
            assert left > 0, f"{needle!r} never came: {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    chunk = b""
                assert chunk, f"{needle!r} never came before the end: {self.seen[-500:]!r}"
                self.seen += chunk
        return self.seen

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        os.close(self.master)


@pytest.fixture
def attached(busybox_image: str, invocation: Any) -> Any:
    with spawned(invocation, _Attached) as start:
        yield start


@pytest.mark.containerd
def test_attach_follows_output_until_the_exit(pouchsh: Any, attached: Any) -> None:
    assert pouchsh(f"run -d --name talk busybox sh -c '{LOOP}'").returncode == 0
    a = attached("attach talk; echo status=$status")
    a.read_until(b"tick")  # following now
    assert pouchsh("exec talk touch /stop").returncode == 0
    out = a.read_until(b"status=3")
    assert b"\\x1b]0;pwned\\x07" in out and b"\x1b]0;pwned" not in out  # escaped on a terminal
    assert a.proc.wait(30) == 0 and b"err" in a.proc.stderr.read()  # type: ignore[union-attr]


@pytest.mark.containerd
def test_ctrl_c_detaches_and_proxies_sigint(pouchsh: Any, attached: Any) -> None:
    assert pouchsh(f"run -d --name a busybox sh -c '{LOOP}'; run -d --name b busybox sh -c '{LOOP}'").returncode == 0
    quiet = attached("attach --sig-proxy=false a")
    quiet.read_until(b"tick")
    quiet.proc.send_signal(signal.SIGINT)
    assert quiet.proc.wait(60) == 130
    loud = attached("attach b")
    loud.read_until(b"tick")
    loud.proc.send_signal(signal.SIGINT)
    assert loud.proc.wait(60) == 130
    # a keeps running; b got SIGINT, and its trap ended it with 7.
    result = pouchsh("wait b; (ps -a | where name == a).0.status", extra=["--json"])
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [7, "running"]


class _Typed:
    """``pouchsh -c SCRIPT`` with its stdin on a pty (the user's terminal) and its stdout a pipe."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        os.close(slave)
        self.seen = b""

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, needle: bytes, deadline: float = 60) -> bytes:
        assert self.proc.stdout is not None
        end = time.monotonic() + deadline
        while needle not in self.seen:
            left = end - time.monotonic()
            assert left > 0, f"{needle!r} never came: {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"{needle!r} never came before the end: {self.seen[-500:]!r}"
                self.seen += chunk
        return self.seen

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        os.close(self.master)


@pytest.fixture
def typed(busybox_image: str, tmp_path: Path, invocation: Any) -> Any:
    made: list[_Typed] = []
    config = tmp_path / "config.toml"
    config.write_text('detach-keys = "ctrl-a,x"\n')

    def start(script: str, *, with_config: bool = False) -> _Typed:
        argv, env = invocation(script)
        env["POUCHSH_CONFIG"] = str(config) if with_config else str(tmp_path / "none.toml")
        made.append(_Typed(argv, env))
        return made[-1]

    yield start
    for t in made:
        t.close()


@pytest.mark.containerd
def test_a_dit_shell_stays_up_takes_input_and_the_detach_keys_leave_it(pouchsh: Any, typed: Any) -> None:
    # -i -t detached: the shim holds its stdin open, so the shell waits for input instead of exiting.
    result = pouchsh("run -dit --name box busybox sh; exec box true; (ps | where name == box).0.status", extra=["--json"])
    assert result.returncode == 0 and json.loads(result.stdout.splitlines()[-1]) == "running", result.stderr
    t = typed("attach box")
    t.type(b"echo hi-$((6*7))\n")
    # and the next prompt, a line without its newline (live: ctrd.logd.subscribe)
    t.read_until(b"hi-42\r\n/ # ")
    t.type(b"\x10\x11")  # ctrl-p ctrl-q
    assert t.proc.wait(60) == 0
    # The keys from the config file; a key that only starts the sequence is passed on.
    t = typed("attach box", with_config=True)
    t.type(b"echo a-\x01b-ok\n")
    t.read_until(b"b-ok")
    t.type(b"\x01x")
    assert t.proc.wait(60) == 0
    assert json.loads(pouchsh("(ps | where name == box).0.status", extra=["--json"]).stdout) == "running"
    # Its exit status when the input ends it.
    t = typed("attach --detach-keys ctrl-x box")
    t.type(b"exit 5\n")
    assert t.proc.wait(60) == 5


@pytest.mark.containerd
def test_attach_bad_input(pouchsh: Any) -> None:
    assert pouchsh("run --name done busybox true; run -d -i --name inter busybox sleep 60").returncode == 0
    assert pouchsh("run -dit --name box busybox sh").returncode == 0
    for script, kind in [("attach nosuch", "not-found"), ("attach done", "conflict"),
                         ("attach inter", "invalid-argument"), ("attach --detach-keys ctrl-1 box", "invalid-argument")]:
        result = pouchsh(script)
        assert result.returncode != 0 and f"error[{kind}]" in result.stderr.decode(), (script, result.stderr)
