"""--enable-lxcfs against the real containerd and Debian's lxcfs: the container's own /proc view, read-only,
and its files re-attached after lxcfs stops (SIGTERM) or is killed (SIGKILL)."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from tests.support.poll import poll

pytestmark = [pytest.mark.containerd,
              pytest.mark.skipif(shutil.which("lxcfs") is None and not os.environ.get("CI"), reason="lxcfs not installed")]

RUN = "run -d --network none --enable-lxcfs"


def _meminfo(shell, name: str) -> str:
    return shell.run(f"exec {name} cat /proc/meminfo")


def _mem_total(shell, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in _meminfo(shell, name).splitlines() if line.startswith("MemTotal"))


def test_the_container_sees_its_limits(local_shell) -> None:
    local_shell.run(f"{RUN} --name lx -m 256m --cpus 1 busybox sleep 600")
    assert _mem_total(local_shell, "lx") == "262144 kB"
    cpuinfo = local_shell.run("exec lx cat /proc/cpuinfo")
    assert sum(line.startswith("processor") for line in cpuinfo.splitlines()) == 1
    assert local_shell.run("exec lx cat /sys/devices/system/cpu/online").strip() == "0"
    uptime = float(local_shell.run("exec lx cat /proc/uptime").split()[0])
    assert uptime < 300  # the container's age, not the host's
    # Read-only: the container cannot write through to lxcfs.
    local_shell.run("exec lx sh -c 'echo 1 > /proc/meminfo'")
    assert local_shell.session.rt.status != 0
    (record,) = local_shell.session.rt.managers.ctrd.containers.list()
    assert record.labels["pouchsh/lxcfs"] == "true"
    # A container without the flag keeps the host's view.
    local_shell.run("run -d --network none --name plain -m 256m busybox sleep 600")
    assert _mem_total(local_shell, "plain") != "262144 kB"


def test_the_settings_file_turns_it_on(local_shell, tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("enable-lxcfs = true\n")
    local_shell.session.rt.env["POUCHSH_CONFIG"] = str(config)
    local_shell.run("run -d --network none --name bysettings -m 128m busybox sleep 600")
    assert _mem_total(local_shell, "bysettings") == "131072 kB"


def _lxcfs_pid(shell) -> int:
    status = shell.session.rt.managers.lxcfs.status()
    assert status["own"] and status["pid"], status
    return int(status["pid"])


def _wait_gone(pid: int) -> None:
    """Until the process is gone. This test process started lxcfs (the shell's managers run in it) and
    does not reap it here: managers.lxcfs must, or it stays a zombie of its starter."""
    poll(lambda: not os.path.exists(f"/proc/{pid}"), f"lxcfs {pid} gone (exited and reaped)", 30)


def test_an_lxcfs_that_exits_is_no_zombie_of_the_process_that_started_it(local_shell) -> None:
    local_shell.run(f"{RUN} --name a busybox sleep 600")
    pid = _lxcfs_pid(local_shell)
    with open(f"/proc/{pid}/stat") as f:
        assert int(f.read().rpartition(")")[2].split()[1]) == os.getpid()  # its parent: this process
    os.kill(pid, signal.SIGTERM)  # as `system lxcfs stop` in another process would: no look at it here
    _wait_gone(pid)


def test_files_are_reattached_after_lxcfs_stops(local_shell) -> None:
    local_shell.run(f"{RUN} --name a -m 256m busybox sleep 600")
    local_shell.run(f"{RUN} --name b -m 128m busybox sleep 600")
    pid = _lxcfs_pid(local_shell)
    os.kill(pid, signal.SIGTERM)
    _wait_gone(pid)
    out = _meminfo(local_shell, "a")
    assert "not connected" in out and local_shell.session.rt.status != 0
    done = local_shell.session.rt.managers.lxcfs.refresh()
    assert done["started"] and done["containers"] == 2 and done["errors"] == [] and done["rebound"] >= 2 * 7
    assert (_mem_total(local_shell, "a"), _mem_total(local_shell, "b")) == ("262144 kB", "131072 kB")
    # Once attached, a second refresh has nothing to do.
    again = local_shell.session.rt.managers.lxcfs.refresh()
    assert (again["started"], again["rebound"]) == (False, 0)


def test_a_killed_lxcfs_is_replaced_by_the_next_run(local_shell) -> None:
    local_shell.run(f"{RUN} --name a -m 256m busybox sleep 600")
    pid = _lxcfs_pid(local_shell)
    os.kill(pid, signal.SIGKILL)  # leaves its dead mount behind
    _wait_gone(pid)
    assert "not connected" in _meminfo(local_shell, "a")
    local_shell.run(f"{RUN} --name c -m 64m busybox sleep 600")  # restarts lxcfs, re-attaches a
    assert _lxcfs_pid(local_shell) != pid
    assert (_mem_total(local_shell, "a"), _mem_total(local_shell, "c")) == ("262144 kB", "65536 kB")
    local_shell.run("system lxcfs")


def test_a_start_after_lxcfs_stopped_starts_it_again(local_shell) -> None:
    local_shell.run(f"{RUN} --name a -m 256m busybox sleep 600")
    local_shell.run("stop -t 1 a")
    assert local_shell.session.rt.managers.lxcfs.stop()
    local_shell.run("start a")
    assert _mem_total(local_shell, "a") == "262144 kB"
