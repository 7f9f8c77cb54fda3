"""The OCI runtime spec of a container: containerd 1.6's default spec, then the image config, then flags.

The base is what ``oci.WithDefaultSpec()`` plus ``WithDefaultUnixDevices`` build in containerd 1.6
(see reference/containerd-client.md §5); the image config contributes Env, Entrypoint/Cmd, WorkingDir,
User and StopSignal the way ``WithImageConfigArgs`` does; the create flags come last. Everything here is
pure: the one thing read from the image's root filesystem (``/etc/passwd`` and ``/etc/group``, to
resolve a user name) is passed in as a function.
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument
from managers.options import CreateOptions

if TYPE_CHECKING:
    from managers.images import ImageConfig

__all__ = ["ALL_CAPS", "DEFAULT_CAPS", "DEFAULT_PATH", "build_spec", "default_spec", "image_args", "merge_env", "resolve_user"]

OCI_VERSION = "1.0.2-dev"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
ALL_CAPS = sorted(
    set(DEFAULT_CAPS)
    | {
        "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_BLOCK_SUSPEND", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
        "CAP_DAC_READ_SEARCH", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_LEASE", "CAP_LINUX_IMMUTABLE",
        "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_PERFMON",
        "CAP_SYSLOG", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYS_NICE", "CAP_SYS_PACCT",
        "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
        "CAP_WAKE_ALARM",
    }
)
#: capability numbers (linux/capability.h), to read which ones this process may hand on
_CAP_NUMBERS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
_MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]
# /sys/fs/cgroup: on cgroup v1 runc mounts a tmpfs there (left writable) with each hierarchy under it
# read-only; listed here, the tmpfs is read-only too, as in docker
_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys/fs/cgroup"]
_DEFAULT_DEVICES = [  # WithDefaultUnixDevices: null, random, full, tty, zero, urandom, console, pts, ptmx
    (1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (5, 1), (136, None), (5, 2),
]
#: Devices runc creates itself; a privileged container gets every other host device on top.
_RUNC_DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/console", "/dev/ptmx"}

ReadFile = Callable[[str], "bytes | None"]


def default_spec(namespace: str, container_id: str) -> dict[str, Any]:
    """containerd 1.6's ``WithDefaultSpec`` + ``WithDefaultUnixDevices`` for ``/<namespace>/<id>``."""
    devices: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for major, minor in _DEFAULT_DEVICES:
        rule: dict[str, Any] = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:
            rule["minor"] = minor
        devices.append(rule)
    return {
        "ociVersion": OCI_VERSION,
        "root": {"path": "rootfs"},
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "env": [DEFAULT_PATH],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
            # docker's defaults, not containerd's: no rlimits (the open-files limit is the daemon's,
            # inherited through the shim), and no-new-privileges only when asked (--security-opt)
            "noNewPrivileges": False,
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            # the container's own cgroups, read-only (docker's; rw with --privileged)
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "cgroupsPath": f"/{namespace}/{container_id}",
            "resources": {"devices": devices},
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": list(_MASKED),
            "readonlyPaths": list(_READONLY),
        },
    }


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """``base`` with each ``K=V`` of ``overrides`` replacing the same key in place, or appended."""
    out = list(base)
    index = {item.partition("=")[0]: i for i, item in enumerate(out)}
    for item in overrides:
        key = item.partition("=")[0]
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def image_args(image_config: ImageConfig, args: list[str], entrypoint: list[str] | None) -> list[str]:
    """Docker's rule: the entrypoint (``--entrypoint`` or the image's) plus the user's args, or the image's
    Cmd when no args are given and the entrypoint was not overridden."""
    if entrypoint is None:
        ep = list(image_config.entrypoint or [])
        cmd = list(args) if args else list(image_config.cmd or [])
    else:
        ep = list(entrypoint)
        cmd = list(args)
    result = ep + cmd
    if not result:
        raise InvalidArgument("no command specified: the image has no Cmd or Entrypoint; give one after the image")
    return result


def resolve_user(user: str, read_file: ReadFile) -> dict[str, Any]:
    """``uid``, ``uid:gid``, ``name``, ``name:group`` → an OCI user.

    Names are looked up by parsing the bytes of the image's ``/etc/passwd`` and ``/etc/group`` here,
    never through NSS (which would load the image's ``nsswitch.conf`` modules into this process);
    ``read_file`` reads them without following a link out of the root. An id the image gives that is not
    a number in range is refused rather than read as 0 (root)."""
    name, _, group = user.partition(":")
    passwd = _table(read_file("/etc/passwd"))
    groups = _table(read_file("/etc/group"))
    username = None
    if name.isdigit():
        uid = _id(name, f"--user {user}")
        gid = 0
        for entry in passwd:
            if entry[2:3] == [name] and len(entry) > 3:
                username, gid = entry[0], _id(entry[3], f"--user {user}: the image's /etc/passwd gid")
                break
    else:
        found = [e for e in passwd if e[0] == name and len(e) > 3]
        if not found:
            raise InvalidArgument(f"--user {user}: no user {name!r} in the image's /etc/passwd")
        what = f"--user {user}: the image's /etc/passwd"
        username, uid, gid = name, _id(found[0][2], f"{what} uid"), _id(found[0][3], f"{what} gid")
    if group:
        if group.isdigit():
            gid = _id(group, f"--user {user}")
        else:
            match = [g for g in groups if g[0] == group and len(g) > 2]
            if not match:
                raise InvalidArgument(f"--user {user}: no group {group!r} in the image's /etc/group")
            gid = _id(match[0][2], f"--user {user}: the image's /etc/group gid")
    extra = {gid}
    if username is not None and not group:
        for g in groups:
            if len(g) > 3 and username in g[3].split(",") and g[2].isdigit() and int(g[2]) < _NO_ID:
                extra.add(int(g[2]))
    return {"uid": uid, "gid": gid, "additionalGids": sorted(extra)}


_NO_ID = 0xFFFFFFFF  # (uid_t)-1 means "unchanged" to the kernel; ids are below it


def resolve_group(group: str, read_file: ReadFile) -> int:
    """``--group-add``: a gid, or a group name of the image's own /etc/group (parsed here, as for
    ``--user``)."""
    if group.isdigit():
        return _id(group, f"--group-add {group}")
    match = [g for g in _table(read_file("/etc/group")) if g[0] == group and len(g) > 2]
    if not match:
        raise InvalidArgument(f"--group-add {group}: no group {group!r} in the image's /etc/group")
    return _id(match[0][2], f"--group-add {group}: the image's /etc/group gid")


def _table(data: bytes | None) -> list[list[str]]:
    if not data:
        return []
    return [
        line.split(":") for line in data.decode(errors="replace").splitlines()
        if line and not line.startswith(("#", "+", "-"))  # NIS compat lines name no local entry
    ]


def _id(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) >= _NO_ID:
        raise InvalidArgument(f"{what} {text[:40]!r} is not a user or group id (0 to {_NO_ID - 1})")
    return int(text)


def current_caps() -> list[str]:
    """The capabilities this process can give a container (its bounding set), as containerd's
    ``WithPrivileged`` takes them: asking runc for more fails with "unable to apply caps"."""
    try:
        with open("/proc/self/status") as f:
            bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration, ValueError):
        return list(ALL_CAPS)
    return [name for bit, name in enumerate(_CAP_NUMBERS) if bounding >> bit & 1]


def _caps(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    def norm(cap: str, flag: str) -> str:
        c = cap.strip().upper()
        if c == "ALL":
            return c
        c = c if c.startswith("CAP_") else "CAP_" + c
        if c not in ALL_CAPS:
            raise InvalidArgument(f"{flag} {cap}: unknown capability")
        return c

    adds = [norm(c, "--cap-add") for c in add]
    drops = [norm(c, "--cap-drop") for c in drop]
    caps = current_caps() if privileged or "ALL" in adds else list(DEFAULT_CAPS)
    if "ALL" in drops:
        caps = []
    caps = [c for c in caps if c not in drops]
    caps += [c for c in adds if c != "ALL" and c not in caps]
    return caps


def _host_devices() -> list[dict[str, Any]]:
    devices = []
    for entry in sorted(os.scandir("/dev"), key=lambda e: e.name):
        path = entry.path
        if path in _RUNC_DEVICES:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else None
        if kind is None:
            continue
        devices.append({
            "path": path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
        })
    return devices


def build_spec(
    opts: CreateOptions,
    *,
    namespace: str,
    container_id: str,
    image_config: ImageConfig,
    read_file: ReadFile,
    hostname: str,
    mounts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    network_mode: str = "cni",
) -> dict[str, Any]:
    """The complete spec for ``opts`` on an image whose config is ``image_config``.

    ``mounts`` (volumes, tmpfs, the network's /etc files) replace default mounts at the same destination.
    With ``network_mode`` "host" the network namespace is shared with the host.
    """
    spec = default_spec(namespace, container_id)
    process = spec["process"]
    linux = spec["linux"]
    process["env"] = merge_env(list(image_config.env or [DEFAULT_PATH]), [f"HOSTNAME={hostname}"])
    if opts.tty:
        process["env"] = merge_env(process["env"], ["TERM=xterm"])
    process["env"] = merge_env(process["env"], opts.env)
    args = image_args(image_config, opts.args, opts.entrypoint)
    if opts.init_path is not None:
        args = ["/sbin/docker-init", "--", *args]
    process["args"] = args
    process["cwd"] = opts.workdir or image_config.working_dir or "/"
    if not process["cwd"].startswith("/"):
        raise InvalidArgument(f"--workdir {process['cwd']}: must be an absolute path")
    process["terminal"] = opts.tty
    if opts.tty and opts.console_size:
        # runc sizes the pty before the process runs: a full-screen program draws at the right size
        # from its first frame, before any resize reaches it
        process["consoleSize"] = {"height": opts.console_size[0], "width": opts.console_size[1]}
    user = opts.user if opts.user is not None else image_config.user
    if user:
        process["user"] = resolve_user(user, read_file)
    if opts.group_add:
        extra_gids = set(process["user"].get("additionalGids") or [process["user"]["gid"]])
        extra_gids |= {resolve_group(g, read_file) for g in opts.group_add}
        process["user"] = {**process["user"], "additionalGids": sorted(extra_gids)}
    spec["hostname"] = hostname

    caps = _caps(opts.cap_add, opts.cap_drop, opts.privileged)
    process["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    if opts.ulimits:
        by_type: dict[str, dict[str, Any]] = {}
        for u in opts.ulimits:
            by_type[u.type] = {"type": u.type, "hard": u.hard, "soft": u.soft}
        process["rlimits"] = list(by_type.values())
    security = opts.security
    process["noNewPrivileges"] = security.no_new_privileges
    if security.seccomp:  # {} is seccomp=unconfined: no filter, as without the option
        linux["seccomp"] = copy.deepcopy(security.seccomp)
    if security.apparmor:
        process["apparmorProfile"] = security.apparmor
    if opts.oom_score_adj is not None:
        process["oomScoreAdj"] = opts.oom_score_adj

    resources = linux["resources"]
    memory: dict[str, Any] = {}
    if opts.memory is not None:
        memory["limit"] = opts.memory
    if opts.memory_swap is not None:
        memory["swap"] = opts.memory_swap
    if opts.memory_reservation is not None:
        memory["reservation"] = opts.memory_reservation
    if memory:
        resources["memory"] = memory
    cpu: dict[str, Any] = {}
    if opts.cpus is not None:
        cpu.update(quota=int(opts.cpus * 100_000), period=100_000)
    if opts.cpu_shares is not None:
        cpu["shares"] = opts.cpu_shares
    if opts.cpuset_cpus is not None:
        cpu["cpus"] = opts.cpuset_cpus
    if cpu:
        resources["cpu"] = cpu
    if opts.pids_limit is not None:
        resources["pids"] = {"limit": opts.pids_limit}
    for d in opts.devices:
        linux.setdefault("devices", []).append({
            "path": d.path, "type": d.kind, "major": d.major, "minor": d.minor, "fileMode": d.mode,
            "uid": d.uid, "gid": d.gid,
        })
        resources["devices"].append({"allow": True, "type": d.kind, "major": d.major, "minor": d.minor, "access": d.access})
    if opts.sysctls:
        linux["sysctl"] = dict(opts.sysctls)
    if opts.privileged:
        resources["devices"] = [{"allow": True, "access": "rwm"}]
        linux["devices"] = _host_devices()
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
        for m in spec["mounts"]:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"]
    if opts.read_only:
        spec["root"]["readonly"] = True
    shared = {"network"} if network_mode == "host" else set()
    if opts.pid_mode == "host":
        shared.add("pid")
    if opts.ipc_mode == "host":
        shared.add("ipc")
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in shared]

    extra = list(mounts)
    if opts.shm_size is not None:
        extra.append({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={max(opts.shm_size // 1024, 1)}k"],
        })
    if opts.init_path is not None:
        extra.append({"destination": "/sbin/docker-init", "type": "bind", "source": opts.init_path, "options": ["rbind", "ro"]})
    spec["mounts"] = _merge_mounts(spec["mounts"], extra)
    if opts.annotations:
        spec["annotations"] = dict(opts.annotations)
    return spec


def _merge_mounts(defaults: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    taken = {os.path.normpath(m["destination"]) for m in extra}
    kept = [m for m in defaults if os.path.normpath(m["destination"]) not in taken]
    return kept + [copy.deepcopy(m) for m in extra]
