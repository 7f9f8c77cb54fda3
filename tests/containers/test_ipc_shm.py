"""``--ipc container:NAME`` shares the donor's /dev/shm as docker's does (managers.ipcshm): a file one
writes in /dev/shm the other reads, both ways; the tmpfs is the host's, of the donor's ``--shm-size``, with
docker's options, and goes with the donor. ``--ipc host`` binds the host's /dev/shm."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from managers.options import CreateOptions
from tests.containers.helpers import stdio

pytestmark = pytest.mark.containerd


def _mounts_under(path: Path) -> list[tuple[str, str, str]]:
    """(mount point, type, options) of the host's mounts at or below ``path``."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            point = fields[4].replace("\\040", " ")
            if point == str(path) or point.startswith(f"{path}/"):
                found.append((point, fields[dash + 1], fields[5]))
    return found


def _sh(mgr: Any, container: str, script: str) -> str:
    streams = stdio()
    code = mgr.containers.exec(container, ["sh", "-c", script], stdio=streams)
    out = streams.stdout.getvalue().decode() + streams.stderr.getvalue().decode()
    assert code == 0, out
    return out


def _run(mgr: Any, script: str, **flags: Any) -> str:
    streams = stdio()
    code = mgr.containers.run(CreateOptions.parse("busybox", ["sh", "-c", script], rm=True, network="none", **flags),
                              detach=False, stdio=streams)
    out = streams.stdout.getvalue().decode() + streams.stderr.getvalue().decode()
    assert code == 0, out
    return out


def test_a_joiner_shares_the_donors_dev_shm_both_ways(mgr: Any, roots: tuple[Path, Path]) -> None:
    donor = mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "300"], network="none", name="shmdonor",
                                                   ipc="shareable", shm_size="8m"), detach=True)
    state = mgr.containers.paths.state_dir(donor["id"])
    (mount,) = _mounts_under(state)
    assert mount[0] == str(state / "shm") and mount[1] == "tmpfs"
    assert {"nosuid", "nodev", "noexec"} <= set(mount[2].split(","))
    token = secrets.token_hex(8)
    _sh(mgr, "shmdonor", f"echo {token} > /dev/shm/from-donor")
    # a joiner reads what the donor wrote, writes back, and sees the donor's size
    out = _run(mgr, "cat /dev/shm/from-donor; echo joined > /dev/shm/from-joiner; df -k /dev/shm | tail -1",
               ipc="container:shmdonor")
    lines = out.splitlines()
    assert lines[0] == token
    assert lines[1].split()[1] == "8192", lines[1]
    assert _sh(mgr, "shmdonor", "cat /dev/shm/from-joiner").strip() == "joined"
    # nothing the containers wrote is a file of the host's /dev/shm
    assert not os.path.exists("/dev/shm/from-donor")
    # a private container keeps its own
    assert _run(mgr, "ls /dev/shm").strip() == ""
    mgr.containers.remove(["shmdonor"], force=True)
    assert _mounts_under(state) == [] and not state.exists()


def test_ipc_host_binds_the_hosts_dev_shm(mgr: Any) -> None:
    name = f"pouchsh-test-{secrets.token_hex(6)}"
    host_file = Path("/dev/shm") / name
    host_file.write_text("from the host\n")
    try:
        assert _run(mgr, f"cat /dev/shm/{name}", ipc="host").strip() == "from the host"
    finally:
        host_file.unlink()


def test_a_start_after_the_tmpfs_went_makes_it_again_with_its_size(mgr: Any) -> None:
    """A reboot takes the host's tmpfs away and leaves its mount point: the next start mounts it again."""
    from managers import ipcshm

    donor = mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "300"], network="none", name="shmboot",
                                                   ipc="shareable", shm_size="4m"), detach=True)
    state = mgr.containers.paths.state_dir(donor["id"])
    mgr.containers.stop(["shmboot"], timeout=0)
    ipcshm.unmount(state)
    assert _mounts_under(state) == [] and (state / "shm").is_dir()
    mgr.containers.start(["shmboot"])
    assert [m[:2] for m in _mounts_under(state)] == [(str(state / "shm"), "tmpfs")]
    assert _sh(mgr, "shmboot", "df -k /dev/shm | tail -1").split()[1] == "4096"
    mgr.containers.remove(["shmboot"], force=True)
    assert _mounts_under(state) == []
