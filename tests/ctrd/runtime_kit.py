"""Helpers for the runtime tests: a minimal OCI spec and container set-up through ctrd alone.

The spec is what ``ctr oci spec`` gives (containerd's ``WithDefaultSpec``), plus PATH and a cgroup path
per container; pouchsh's own spec builder lives in managers and is not used here.
"""

from __future__ import annotations

import copy
from typing import Any

import ctrd
from ctrd.mounts import Mount

_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]  # fmt: skip

_SPEC: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "user": {"uid": 0, "gid": 0},
        "cwd": "/",
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "capabilities": {"bounding": _CAPS, "effective": _CAPS, "permitted": _CAPS},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs"},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}  # fmt: skip


def oci_spec(namespace: str, container_id: str, args: list[str], *, terminal: bool = False) -> dict[str, Any]:
    spec = copy.deepcopy(_SPEC)
    spec["process"]["args"] = args
    spec["process"]["terminal"] = terminal
    if terminal:
        spec["process"]["env"].append("TERM=xterm")
    spec["linux"]["cgroupsPath"] = f"/{namespace}/{container_id}"
    return spec


def make_container(
    client: ctrd.Client,
    image: str,
    container_id: str,
    args: list[str],
    *,
    terminal: bool = False,
    binds: dict[str, str] | None = None,
) -> list[Mount]:
    """Snapshot and container record made under one lease, as containerd's own client does; returns
    the rootfs mounts for Tasks.Create. ``binds``: host path → container path."""
    chain = client.images.spec(image).chain_id
    assert client.namespace is not None
    spec = oci_spec(client.namespace, container_id, args, terminal=terminal)
    for source, destination in (binds or {}).items():
        spec["mounts"].append(
            {"destination": destination, "type": "bind", "source": source, "options": ["rbind"]}
        )
    with client.lease() as leased:
        mounts = leased.snapshots.prepare(container_id, chain)
        leased.containers.create(container_id, spec=spec, image=image, labels={"test": "runtime"})
    return mounts


def remove_container(client: ctrd.Client, container_id: str) -> None:
    """Snapshot first, then the record (the order that does not race GC)."""
    from ctrd.errors import NotFound

    for remove in (client.snapshots.remove, client.containers.delete):
        try:
            remove(container_id)
        except NotFound:
            pass


def kill_and_remove(client: ctrd.Client, container_id: str, timeout: float = 60) -> None:
    """SIGKILL the task, wait for it, delete it, then remove snapshot and record."""
    exit_future = client.tasks.wait(container_id)
    client.tasks.kill(container_id, "SIGKILL", all=True)
    exit_future.result(timeout)
    client.tasks.delete(container_id)
    remove_container(client, container_id)
