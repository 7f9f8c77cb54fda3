"""docker's defaults and the run/create flags of issue 15, each read inside a running container (its
/proc, /sys/fs/cgroup, ids), and each bad value refused before anything is made."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import Conflict, InvalidArgument
from managers.options import CreateOptions
from managers.runflags import _apparmor_enabled
from tests.containers.helpers import stdio

pytestmark = pytest.mark.containerd


def run(mgr: Any, script: str, **flags: Any) -> str:
    """``run --rm busybox sh -c SCRIPT`` with ``flags``; its output (the test fails on a non-zero exit)."""
    flags.setdefault("network", "none")
    streams = stdio()
    code = mgr.containers.run(CreateOptions.parse("busybox", ["sh", "-c", script], rm=True, **flags),
                              detach=False, stdio=streams)
    out = streams.stdout.getvalue().decode() + streams.stderr.getvalue().decode()
    assert code == 0, out
    return out


def refused(mgr: Any, **flags: Any) -> str:
    """The flags are refused as invalid-argument before anything exists; the message."""
    flags.setdefault("network", "none")
    with pytest.raises(InvalidArgument) as caught:
        mgr.containers.run(CreateOptions.parse("busybox", ["true"], **flags), detach=True)
    assert mgr.ctrd.containers.list() == []
    return str(caught.value)


def _limit(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/limits") as f:
        return next(line for line in f if line.startswith(name))


def test_docker_defaults(mgr: Any) -> None:
    out = run(mgr, "grep ' /sys/fs/cgroup' /proc/mounts; touch /sys/fs/cgroup/x 2>&1; "
                   "grep NoNewPrivs /proc/self/status")
    visible = {}  # mount point -> options of the mount on top (the last one listed)
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] in ("tmpfs", "cgroup", "cgroup2") and fields[1].startswith("/sys/fs/cgroup"):
            visible[fields[1]] = fields[3]
    assert "/sys/fs/cgroup" in visible and [m for m, o in visible.items() if not o.startswith("ro,")] == [], out
    assert "Read-only file system" in out
    assert "NoNewPrivs:\t0" in out
    # the open-files limit is the daemon's (through its shim), not containerd's 1024 default
    c = mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "300"], network="none"), detach=True)
    pid = mgr.ctrd.tasks.get(c["id"]).pid
    with open(f"/proc/{pid}/status") as f:
        shim = int(next(line.split()[1] for line in f if line.startswith("PPid:")))
    assert _limit(pid, "Max open files") == _limit(shim, "Max open files")
    mgr.containers.remove([c["id"]], force=True)
    # privileged: the cgroups writable
    out = run(mgr, "grep ' /sys/fs/cgroup ' /proc/mounts", privileged=True)
    assert " rw," in out


def test_init_is_pid_1_and_the_command_its_child(mgr: Any) -> None:
    out = run(mgr, "tr '\\0' ' ' < /proc/1/cmdline; echo; echo parent=$PPID", init=True)
    first, second = out.splitlines()[:2]
    assert first.startswith("/sbin/docker-init -- sh"), out
    assert second == "parent=1"


def test_no_new_privileges_and_seccomp(mgr: Any, tmp_path: Path) -> None:
    assert "NoNewPrivs:\t1" in run(mgr, "grep NoNewPrivs /proc/self/status", security_opt=["no-new-privileges"])
    assert "NoNewPrivs:\t1" in run(mgr, "grep NoNewPrivs /proc/self/status", security_opt=["no-new-privileges:true"])
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
    out = run(mgr, "mkdir /tmp/d 2>&1; echo rc=$?; grep Seccomp: /proc/self/status", security_opt=[f"seccomp={profile}"])
    assert "rc=1" in out and "Seccomp:\t2" in out, out
    out = run(mgr, "mkdir /tmp/d && echo made; grep Seccomp: /proc/self/status", security_opt=["seccomp=unconfined"])
    assert "made" in out and "Seccomp:\t0" in out


def test_bad_security_opts_are_refused(mgr: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    (tmp_path / "notjson.json").write_text("{")
    for opt in ("no-new-privileges:maybe", "seccomp=/no/such/profile.json", f"seccomp={bad}",
                f"seccomp={tmp_path / 'notjson.json'}", "bogus=1", "systempaths=unconfined"):
        refused(mgr, security_opt=[opt])
    if not _apparmor_enabled():
        assert "AppArmor is not enabled" in refused(mgr, security_opt=["apparmor=docker-default"])


def test_device(mgr: Any) -> None:
    out = run(mgr, "head -c 5 /dev/myzero | wc -c; ls -l /dev/myzero", device=["/dev/zero:/dev/myzero:r"])
    assert out.splitlines()[0].strip() == "5"
    assert "1,   5" in out or "1, 5" in out, out
    # /dev/fuse is no default device: its cgroup rule is the flag's, r only, then rw
    fuse = "exec 3</dev/f && echo read-ok; (exec 4>/dev/f) 2>/dev/null && echo write-ok || echo write-denied"
    assert run(mgr, fuse, device=["/dev/fuse:/dev/f:r"]).split() == ["read-ok", "write-denied"]
    assert run(mgr, fuse, device=["/dev/fuse:/dev/f:rw"]).split() == ["read-ok", "write-ok"]
    out = run(mgr, "ls /dev/f 2>&1; echo $?")
    assert out.split()[-1] != "0"  # not there without the flag
    for bad in ("/etc/passwd", "/no/such/device", "/dev/zero:/dev/z:rwx", "/dev/zero:relative", "/dev/zero:/dev/../z", "a:b:c:d"):
        refused(mgr, device=[bad])


def test_sysctl(mgr: Any) -> None:
    out = run(mgr, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
              sysctl=["net.ipv4.ip_forward=1", "kernel.shmmni=1234"])
    assert out.split() == ["1", "1234"]
    for bad in ("kernel.panic=1", "vm.swappiness=1", "fs.file-max=10", "kernel.hostname=x", "net.ipv4.ip_forward", "../x=1"):
        assert "sysctl" in refused(mgr, sysctl=[bad])
    assert "network namespace" in refused(mgr, sysctl=["net.ipv4.ip_forward=1"], network="host")
    assert "IPC namespace" in refused(mgr, sysctl=["kernel.shmmax=1"], ipc="host")


def test_pid_and_ipc_host(mgr: Any) -> None:
    out = run(mgr, "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc", pid="host", ipc="host")
    assert out.split() == [os.readlink("/proc/self/ns/pid"), os.readlink("/proc/self/ns/ipc")]
    own = run(mgr, "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc").split()
    assert own[0] != os.readlink("/proc/self/ns/pid") and own[1] != os.readlink("/proc/self/ns/ipc")
    refused(mgr, pid="container:x")
    refused(mgr, ipc="bogus")


def test_ipc_shareable_and_container(mgr: Any) -> None:
    donor = mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "300"], network="none", name="donor",
                                                   ipc="shareable"), detach=True)
    private = mgr.containers.run(CreateOptions.parse("busybox", ["sleep", "300"], network="none", name="private"),
                                 detach=True)
    pid = mgr.ctrd.tasks.get(donor["id"]).pid
    out = run(mgr, "readlink /proc/self/ns/ipc", ipc="container:donor")
    assert out.strip() == os.readlink(f"/proc/{pid}/ns/ipc")
    before = {c.id for c in mgr.ctrd.containers.list()}
    with pytest.raises(Conflict):
        mgr.containers.run(CreateOptions.parse("busybox", ["true"], network="none", ipc="container:private"), detach=True)
    assert {c.id for c in mgr.ctrd.containers.list()} == before
    mgr.containers.remove([donor["id"], private["id"]], force=True)


def test_cpus_and_memory_in_the_cgroups(mgr: Any) -> None:
    out = run(mgr, "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpu/cpu.shares "
                   "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes "
                   "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
              cpuset_cpus="0", cpu_shares=512, memory="64m", memory_swap="128m", memory_reservation="32m")
    assert out.split() == ["0", "512", str(64 << 20), str(128 << 20), str(32 << 20)], out
    refused(mgr, cpuset_cpus="99")
    refused(mgr, cpuset_cpus="1-0")
    refused(mgr, cpuset_cpus="a")
    refused(mgr, cpu_shares=1)
    refused(mgr, memory_swap="128m")  # without -m
    refused(mgr, memory="64m", memory_swap="32m")
    refused(mgr, memory="64m", memory_reservation="128m")


def test_groups_labels_and_oom_score(mgr: Any, tmp_path: Path) -> None:
    out = run(mgr, "id -G; cat /proc/self/oom_score_adj", user="1000", group_add=["1234", "nogroup"], oom_score_adj=500)
    groups, score = out.splitlines()[:2]
    assert {"1234", "65534"} <= set(groups.split()) and score == "500", out
    refused(mgr, group_add=["no-such-group-here"])
    refused(mgr, group_add=["a:b"])
    refused(mgr, oom_score_adj=1001)
    (tmp_path / "labels").write_text("# team labels\ntier=db\nowner=ops\n\n")
    c = mgr.containers.create(CreateOptions.parse("busybox", ["true"], network="none", cwd=str(tmp_path),
                                                  label_file=["labels"], label=["owner=me"]))
    labels = mgr.ctrd.containers.get(c["id"]).labels
    assert labels["tier"] == "db" and labels["owner"] == "me"  # a --label beats the file
    mgr.containers.remove([c["id"]], force=True)
    refused(mgr, label_file=[str(tmp_path / "missing")])


def test_flags_through_the_shell(pouchsh: Any) -> None:
    result = pouchsh("run --rm --network none --sysctl net.ipv4.ip_forward=1 --cpu-shares 256 "
                     "--security-opt no-new-privileges busybox sh -c 'cat /proc/sys/net/ipv4/ip_forward; "
                     "cat /sys/fs/cgroup/cpu/cpu.shares; grep NoNewPrivs /proc/self/status'")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [b"1", b"256", b"NoNewPrivs:", b"1"]
    bad = pouchsh("run --rm --sysctl kernel.panic=1 busybox true")
    assert bad.returncode == 125 and b"error[invalid-argument]" in bad.stderr
