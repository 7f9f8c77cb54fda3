"""Logs of detached containers through the host's one log collector (ctrd.logd), against containerd:
no process per container, rotation, a collector or a pouchsh killed with -9, restarts by policy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.containers.helpers import opts
from tests.ctrd.test_logd import _zombie, collector_pid
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def _cmdlines() -> list[str]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out


def _records(log: Path) -> list[dict[str, Any]]:
    files = sorted(log.parent.glob(log.name + ".*[0-9]"), reverse=True) + ([log] if log.exists() else [])
    return [json.loads(line) for f in files for line in f.read_bytes().splitlines()]


def _log_of(mgr: Any, ref: str) -> Path:
    return Path(mgr.containers.inspect(ref)["log_path"])


def test_detached_containers_share_one_collector(mgr: Any, roots: tuple[Path, Path]) -> None:
    c = mgr.containers
    for i in range(3):
        c.run(opts("sh", "-c", f"echo out-{i}; echo err-{i} >&2; exec sleep 600", name=f"d{i}"), detach=True)
    for i in range(3):
        entries = poll(lambda i=i: (e := c.log_entries(f"d{i}")) and len(e) == 2 and e, f"d{i} logged")
        assert sorted((e.stream, e.text) for e in entries) == [("stderr", f"err-{i}\n"), ("stdout", f"out-{i}\n")]
    mine = [cmd for cmd in _cmdlines() if str(roots[0]) in cmd]
    assert len([cmd for cmd in mine if "logd.py" in cmd]) == 1, mine


def test_rotation_follows_log_opts(mgr: Any) -> None:
    c = mgr.containers
    script = "i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; exec sleep 600"
    c.run(opts("sh", "-c", script, name="rot", log_opt=["max-size=4k", "max-file=3"]), detach=True)
    log = _log_of(mgr, "rot")
    poll(lambda: any(e["log"].startswith("line-400-") for e in _records(log)), "the last line logged")
    files = [log, Path(f"{log}.1"), Path(f"{log}.2")]
    assert all(f.exists() for f in files) and not Path(f"{log}.3").exists()
    assert all(f.stat().st_size <= 4096 for f in files)
    numbers = [int(e["log"].split("-")[1]) for e in _records(log)]
    assert numbers == list(range(numbers[0], 401))  # the newest, in order, none lost within the window


def test_output_while_the_collector_is_dead_appears_in_logs(mgr: Any, roots: tuple[Path, Path], tmp_path: Path, pouchsh: Any) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    script = ("echo before; while [ ! -e /gate/go ]; do sleep 0.05; done; "
              "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo while-dead-$i; done; touch /gate/done; exec sleep 600")
    mgr.containers.run(opts("sh", "-c", script, name="gated", volumes=[f"{gate}:/gate"]), detach=True)
    poll(lambda: mgr.containers.log_entries("gated"), "first line logged")
    pid = collector_pid(roots[0])
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    poll(lambda: _zombie(pid) or not os.path.exists(f"/proc/{pid}"), "collector killed")
    (gate / "go").touch()
    poll(lambda: (gate / "done").exists(), "the container wrote everything into the pipe")
    assert collector_pid(roots[0]) is None
    out = pouchsh("logs gated")  # the next invocation starts the collector again and waits for it
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().splitlines() == ["before", *(f"while-dead-{i}" for i in range(1, 2001))]


def test_a_container_started_by_a_killed_pouchsh_keeps_logging(
    containerd_address: str, namespace: str, roots: tuple[Path, Path], mgr: Any
) -> None:
    """pouchsh SIGKILLed right after Tasks.Start, before it told the collector of the task: the collector
    (started before the task was created) finds the task by itself, with no pouchsh running."""
    env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1]), "POUCHSH_FAULT": "task.start.after"}
    env.pop("CONTAINERD_NAMESPACE", None)
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, "-c",
            "run -d --name orphan --network none busybox sh -c 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done'"]
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    log = next((roots[0] / "containers" / namespace).glob("*/*-json.log"), None) or (
        poll(lambda: next((roots[0] / "containers" / namespace).glob("*/*-json.log"), None), "a log file", timeout=90))
    assert isinstance(log, Path)
    poll(lambda: len(_records(log)) >= 5, "ticks logged with no pouchsh running", timeout=90)
    ticks = [int(e["log"].removeprefix("tick-")) for e in _records(log)]
    assert ticks == list(range(1, len(ticks) + 1))


def test_restarts_by_policy_keep_logging(mgr: Any) -> None:
    """containerd's restart monitor creates the next task itself, with the stdout FIFO as its log URI
    (stderr then arrives as stdout); the collector kept a reader open for it."""
    c = mgr.containers
    c.run(opts("sh", "-c", "echo run-$(cat /proc/uptime | cut -d' ' -f1); exit 3", name="again", restart="always"),
          detach=True)
    poll(lambda: len(c.log_entries("again")) >= 2, "a second run logged", timeout=120)
    runs = [e.text for e in c.log_entries("again")]
    assert all(text.startswith("run-") for text in runs) and len(set(runs)) == len(runs)
    c.remove(["again"], force=True)


def test_run_d_rm_has_no_waiting_process_and_is_removed_when_it_ends(mgr: Any, roots: tuple[Path, Path], tmp_path: Path) -> None:
    """The remover of a ``run -d --rm`` container is started by the collector when the task's output ends,
    not kept waiting beside the container."""
    gate = tmp_path / "gate"
    gate.mkdir()
    c = mgr.containers
    c.run(opts("sh", "-c", "echo up; while [ ! -e /gate/go ]; do sleep 0.05; done", name="brief", rm=True,
               volumes=[f"{gate}:/gate"]), detach=True)
    poll(lambda: c.log_entries("brief"), "running and logged")
    assert not [cmd for cmd in _cmdlines() if "managers.autoremove" in cmd and str(roots[0]) in cmd]
    (gate / "go").touch()
    poll(lambda: not mgr.ctrd.containers.list(), "removed once it ended", timeout=120)
    # the remover deletes the record first and the state directory after it (managers.lifecycle): the
    # directory's removal is its last step, so it is waited for, not expected at the record's
    states = roots[0] / "containers" / mgr.namespace
    poll(lambda: not states.exists() or not list(states.iterdir()), "its state directory removed after the record", timeout=120)


def test_start_and_restart_of_a_stopped_container_log_again(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("sh", "-c", "echo run-$(cat /proc/uptime | cut -d' ' -f1)", name="twice"), detach=True)
    poll(lambda: c.inspect("twice")["status"] == "exited" and len(c.log_entries("twice")) == 1, "first run logged")
    c.start(["twice"])
    poll(lambda: len(c.log_entries("twice")) == 2, "the start logged")
    c.restart(["twice"])
    poll(lambda: len(c.log_entries("twice")) == 3, "the restart logged")
    texts = [e.text for e in c.log_entries("twice")]
    assert len(set(texts)) == 3 and all(t.startswith("run-") for t in texts)


def test_logs_follow_sees_output_as_it_comes_and_ends_with_the_container(mgr: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    c = mgr.containers
    c.run(opts("sh", "-c", "echo one; while [ ! -e /gate/go ]; do sleep 0.05; done; echo two", name="fol",
               volumes=[f"{gate}:/gate"]), detach=True)
    lines = iter(c.logs("fol", follow=True))
    assert next(lines) == "one"
    (gate / "go").touch()
    assert list(lines) == ["two"]
