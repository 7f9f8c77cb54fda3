"""Leases name the process that made them, and ``system prune`` deletes those whose process is gone.

The verdict "gone" needs proof (ctrd.owner): a live process, a reused pid, another host or a label that
is not ours must never cost anyone their lease.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import NotFound
from ctrd.owner import OWNER_LABEL, Owner, is_gone, this_process

REPO = Path(__file__).resolve().parents[2]


# -- the verdict, without containerd ------------------------------------------------------------------


def test_this_process_reads_its_own_stat() -> None:
    me = this_process()
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    assert me.pid == os.getpid()
    assert me.host == socket.gethostname()
    assert me.start == int(stat[stat.rindex(")") + 2 :].split()[19])
    assert me.boot_id == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert Owner.parse(me.label()) == me


@pytest.mark.parametrize("label", [None, "", "ctr", "a:b:c:d:e", "host:1:2:3", "h:1:2:b:3:extra"])
def test_a_label_that_is_not_ours_is_never_gone(label: str | None) -> None:
    assert not is_gone(label)


def test_a_live_process_is_not_gone() -> None:
    assert not is_gone(this_process().label())
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as child:
        try:
            assert not is_gone(_owner_of(child.pid).label())
        finally:
            child.communicate(b"")


def test_an_exited_process_is_gone_also_before_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = _owner_of(child.pid)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie now: exited, not reaped
    assert is_gone(owner.label())
    child.wait()
    assert is_gone(owner.label())


def test_a_reused_pid_is_not_the_owner() -> None:
    me = this_process()
    assert is_gone(replace(me, start=me.start - 1).label())


def test_another_boot_is_gone_but_another_host_or_pid_namespace_cannot_tell() -> None:
    me = this_process()
    assert is_gone(replace(me, boot_id="00000000-0000-0000-0000-000000000000").label())
    dead = replace(me, start=me.start - 1)
    assert not is_gone(replace(dead, host=me.host + "-elsewhere").label())
    assert not is_gone(replace(dead, pid_ns=me.pid_ns + 1).label())


def _owner_of(pid: int) -> Owner:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return replace(this_process(), pid=pid, start=int(stat[stat.rindex(")") + 2 :].split()[19]))


# -- leases on the real containerd --------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    import ctrd
    client = ctrd.Client(sys.argv[1]).with_namespace(sys.argv[2])
    with client.lease() as leased:
        leased.content.write_blob(b"held only by a dead process's lease", "application/octet-stream")
        print(leased.lease_id, flush=True)
        sys.stdin.read()  # until killed
    """
)


@pytest.mark.containerd
def test_client_lease_carries_its_owner(ns_client: Any) -> None:
    with ns_client.lease(labels={"purpose": "test"}) as leased:
        (lease,) = [lease for lease in ns_client.leases.list() if lease.id == leased.lease_id]
        assert lease.labels[OWNER_LABEL] == this_process().label()
        assert lease.labels["purpose"] == "test"
        assert "containerd.io/gc.expire" in lease.labels
    assert ns_client.leases.list() == []


@pytest.mark.containerd
def test_prune_deletes_only_the_leases_of_dead_processes(containerd_address: str, namespace: str, ns_client: Any, tmp_path: Path) -> None:
    from managers import Managers

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, containerd_address, namespace],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
    )
    dead_lease = holder.stdout.readline().decode().strip()  # type: ignore[union-attr]
    assert dead_lease, "the holder did not create its lease"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    (blob,) = ns_client.content.list()

    # Not ours to judge: a lease without the label (as ctr makes them) and one of another host.
    ns_client.leases.create("ctr-made")
    ns_client.leases.create("elsewhere", labels={OWNER_LABEL: replace(this_process(), host="elsewhere", start=1).label()})
    facade = Managers(address=containerd_address, namespace=namespace, root=tmp_path / "root", run_root=tmp_path / "run")
    try:
        with ns_client.lease() as live:
            result = facade.system.prune()
            assert result["leases"] == {"deleted": [dead_lease], "count": 1}
            left = {lease.id for lease in ns_client.leases.list()}
            assert left == {live.lease_id, "ctr-made", "elsewhere"}
        with pytest.raises(NotFound):
            ns_client.content.info(blob.digest)  # collected with the lease that alone held it
        assert facade.system.prune()["leases"] == {"deleted": [], "count": 0}
    finally:
        facade.close()
    for lease_id in ("ctr-made", "elsewhere"):
        ns_client.leases.delete(lease_id)
