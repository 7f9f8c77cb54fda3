"""``pouchsh COMMAND ...`` from a host shell, and the exit statuses docker users script against:
125 when ``run``/``create``/``start``/``exec`` fails before the container's command runs, 126 when that
command cannot be invoked, 127 when it is not found, otherwise the container's own status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.containers.helpers import opts as _opts
from tests.containers.helpers import stdio as _quiet_stdio

pytestmark = pytest.mark.containerd

Argv = Callable[..., "subprocess.CompletedProcess[bytes]"]


@pytest.fixture
def argv(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path],
         pouchsh: object) -> Argv:
    """``pouchsh ARG...`` in a subprocess, as a host shell runs it (the ``pouchsh`` fixture cleans up)."""

    def run(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1]),
               "CONTAINERD_ADDRESS": containerd_address, "CONTAINERD_NAMESPACE": namespace}
        return subprocess.run([sys.executable, "-m", "pouchsh", *args], input=input, capture_output=True,
                              timeout=60, env=env, check=False)

    return run


def test_docker_lines_run_from_the_host_shell(argv: Argv) -> None:
    result = argv("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo \"up $HOSTNAME\"; sleep 60")
    assert result.returncode == 0, result.stderr
    assert argv("ps", "-a", "-q", "--no-trunc").stdout.decode().split() == [_field(argv, "web", "id")]
    assert argv("--json", "ps", "-a", "--filter", "name=web").returncode == 0
    logs = argv("logs", "web")
    assert logs.returncode == 0 and logs.stdout.decode().startswith("up "), logs.stderr
    assert argv("rm", "-f", "web").returncode == 0
    assert argv("ps", "-a", "-q").stdout == b""


def _field(argv: Argv, name: str, key: str) -> str:
    result = argv("--json", "inspect", name)
    return str(json.loads(result.stdout)[key])


@pytest.mark.parametrize(("script", "status", "kind"), [
    ("run --rm busybox nosuchcmd", 127, "invalid-argument"),
    ("run --rm busybox /no/such/file", 127, "invalid-argument"),
    ("run --rm busybox /etc", 126, "invalid-argument"),
    ("run --rm busybox /etc/passwd", 126, "invalid-argument"),
    ("run --rm busybox sh -c 'exit 7'", 7, None),
    ("run --rm --pull never nosuch/image:1 true", 125, "not-found"),
    ("run --rm -p 99999:80 busybox true", 125, "invalid-argument"),
    ("run --rm --name 'bad name' busybox true", 125, "invalid-argument"),
    ("run -d busybox nosuchcmd", 127, "invalid-argument"),
    ("create --pull never nosuch/image:1", 125, "not-found"),
    ("start nosuch", 125, "not-found"),
    ("exec nosuch true", 125, "not-found"),
    ("run --bogus busybox true", 2, "check"),
    ("rm nosuch", 1, "not-found"),
])
def test_exit_statuses_are_dockers(pouchsh: Any, script: str, status: int, kind: str | None) -> None:
    result = pouchsh(script)
    assert result.returncode == status, result.stderr
    if kind is None:
        assert result.stderr == b""
    else:
        assert result.stderr.startswith(f"error[{kind}]: ".encode()), result.stderr
    # a container that could not start is removed again, with or without --rm
    assert pouchsh("ps -a -q").stdout == b""


def test_a_name_taken_is_125_and_the_first_container_stays(pouchsh: Any) -> None:
    assert pouchsh("create --name dup busybox true").returncode == 0
    result = pouchsh("create --name dup busybox true")
    assert result.returncode == 125 and result.stderr.startswith(b"error[already-exists]: "), result.stderr
    assert pouchsh("run --name dup busybox true").returncode == 125
    assert len(pouchsh("ps -a -q").stdout.split()) == 1


def test_start_of_a_container_whose_command_is_missing_is_127(pouchsh: Any) -> None:
    assert pouchsh("create --name broken busybox nosuchcmd").returncode == 0
    result = pouchsh("start broken")
    assert result.returncode == 127, result.stderr
    assert b'container broken: exec: "nosuchcmd": executable file not found in $PATH' in result.stderr
    assert pouchsh("start -a broken").returncode == 127
    assert pouchsh("inspect broken | get status").stdout == b"created\n"


def test_exec_statuses(pouchsh: Any) -> None:
    assert pouchsh("run -d --name box busybox sleep 60").returncode == 0
    for script, status in (("exec box nosuchcmd", 127), ("exec box /etc", 126), ("exec -d box nosuchcmd", 127),
                            ("exec box sh -c 'exit 4'", 4), ("exec box true", 0)):
        result = pouchsh(script)
        assert result.returncode == status, (script, result.stderr)
    assert pouchsh("stop -t 0 box").returncode == 0
    result = pouchsh("exec box true")
    assert result.returncode == 125 and result.stderr.startswith(b"error[conflict]: "), result.stderr


def test_a_caught_failure_is_an_ordinary_error_value(pouchsh: Any) -> None:
    script = "try { run --rm busybox nosuchcmd } catch e { echo $e.kind }"
    result = pouchsh(script)
    assert (result.returncode, result.stdout) == (0, b"invalid-argument\n"), result.stderr


def test_the_same_statuses_from_the_host_shell(argv: Argv) -> None:
    assert argv("run", "--rm", "busybox", "nosuchcmd").returncode == 127
    assert argv("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert argv("run", "--rm", "--pull", "never", "nosuch/image:1", "true").returncode == 125


def test_inspect_of_an_exited_container_keeps_when_it_started(mgr: Any) -> None:
    """Bug 6 of issue 15: ``started_at`` was empty once the container had exited."""
    c = mgr.containers
    assert c.inspect(c.create(_opts("true"))["id"])["started_at"] is None
    assert c.run(_opts("sh", "-c", "exit 3", name="fg"), detach=False, stdio=_quiet_stdio()) == 3
    fg = c.inspect("fg")
    assert fg["status"] == "exited" and fg["started_at"] is not None
    assert fg["started_at"] <= fg["finished_at"]

    c.run(_opts("sleep", "60", name="bg"), detach=True)
    running = c.inspect("bg")["started_at"]
    assert running is not None
    c.stop(["bg"], timeout=0)
    stopped = c.inspect("bg")
    assert stopped["status"] == "exited" and stopped["started_at"] <= stopped["finished_at"]
    # /proc's start time (while it runs) and runc's (after) agree to within the boot time's second
    assert abs(_epoch(stopped["started_at"]) - _epoch(running)) < 2
    # a second start is the one kept
    c.start(["bg"])
    c.stop(["bg"], timeout=0)
    again = c.inspect("bg")
    assert stopped["finished_at"] <= again["started_at"] <= again["finished_at"]

    # exited on its own, its task not yet reaped: runc's record of the task says when
    c.run(_opts("true", name="quick"), detach=True)
    assert c.wait(["quick"]) == [0]
    quick = c.inspect("quick")
    assert quick["status"] == "exited" and quick["started_at"] is not None
    assert quick["started_at"] <= quick["finished_at"]


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()
