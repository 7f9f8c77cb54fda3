"""The create/run flags that reach into the host's kernel: ``--device``, ``--security-opt``, ``--sysctl``,
``--pid``, ``--ipc``, ``--cpuset-cpus``, ``--group-add``. Each is parsed and checked here before anything
is made (an InvalidArgument naming the flag), with docker's spellings and docker's refusals: a sysctl that
is not namespaced would change the host for every container, so it is refused, not passed on.
"""

from __future__ import annotations

import json
import os
import platform
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument

__all__ = [
    "Device",
    "Security",
    "parse_cpuset",
    "parse_device",
    "parse_group_add",
    "parse_ipc",
    "parse_pid",
    "parse_security_opts",
    "parse_sysctls",
]

#: sysctls that belong to the container's own IPC namespace (docker's list) ...
_IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced",
})
#: ... or to its UTS namespace
_UTS_SYSCTLS = frozenset({"kernel.domainname", "kernel.hostname"})
_SYSCTL_KEY = re.compile(r"^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$")
_SECCOMP_ACTIONS = frozenset({
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
})
_SECCOMP_OPS = frozenset({
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
})
_NATIVE_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "ppc64le": "SCMP_ARCH_PPC64LE",
                "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64"}
_PROFILE_MAX = 1 << 20


@dataclass(frozen=True)
class Device:
    """A host device given to the container (``--device``), as its node and its cgroup rule."""

    host: str
    path: str  # in the container
    kind: str  # "c" or "b"
    major: int
    minor: int
    mode: int
    uid: int
    gid: int
    access: str  # a subset of "rwm"


@dataclass(frozen=True)
class Security:
    """``--security-opt``: no-new-privileges, a seccomp profile (None: pouchsh's default, which is
    none; {}: unconfined), an AppArmor profile."""

    no_new_privileges: bool = False
    seccomp: dict[str, Any] | None = None
    apparmor: str | None = None


def parse_device(text: str) -> Device:
    """``--device HOST[:CONTAINER][:PERMS]``: a character or block device of the host (PERMS a subset of
    ``rwm``, default all three)."""
    what = f"--device {text}"
    parts = str(text).split(":")
    if len(parts) > 3 or not parts[0] or "\x00" in text:
        raise InvalidArgument(f"{what}: expected HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]")
    host = parts[0]
    path, access = host, "rwm"
    if len(parts) == 2:
        if _is_perms(parts[1]):
            access = parts[1]
        else:
            path = parts[1]
    elif len(parts) == 3:
        path, access = parts[1], parts[2]
    if not _is_perms(access):
        raise InvalidArgument(f"{what}: permissions {access!r} must be a combination of r, w and m")
    if not host.startswith("/") or not path.startswith("/") or ".." in path.split("/"):
        raise InvalidArgument(f"{what}: both paths must be absolute (and the container's without '..')")
    try:
        st = os.stat(host)
    except OSError as e:
        raise InvalidArgument(f"{what}: {os.strerror(e.errno or 0)}") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidArgument(f"{what}: {host} is not a character or block device")
    return Device(host=host, path=os.path.normpath(path), kind=kind, major=os.major(st.st_rdev),
                  minor=os.minor(st.st_rdev), mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                  access="".join(c for c in "rwm" if c in access))


def _is_perms(text: str) -> bool:
    return bool(text) and len(text) <= 3 and set(text) <= set("rwm") and len(set(text)) == len(text)


def parse_security_opts(items: list[str], cwd: str, *, inline_profiles: bool = False) -> Security:
    """``--security-opt``: ``no-new-privileges[:true|false]``, ``seccomp=unconfined|PROFILE.json``,
    ``apparmor=PROFILE`` (an error where AppArmor is not enabled), ``label=disable`` (pouchsh applies no
    SELinux labels; other ``label=`` options are an error where SELinux is not enabled).

    ``inline_profiles``: a seccomp profile is the JSON itself, as the Engine API carries it (the docker
    CLI reads the file and sends its content); an API client never names a file on the server's host."""
    nnp = False
    seccomp: dict[str, Any] | None = None
    apparmor: str | None = None
    for item in items:
        text = str(item)
        key, sep, value = text.partition("=")
        if not sep:
            key, sep, value = text.partition(":")
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise InvalidArgument(f"--security-opt {text}: expected no-new-privileges[:true|false]")
            nnp = value != "false"
        elif key == "seccomp" and value:
            if value == "unconfined":
                seccomp = {}
            elif inline_profiles:
                seccomp = _seccomp_doc(value.encode(), "--security-opt seccomp=<profile>")
            else:
                seccomp = _seccomp_profile(value, cwd)
        elif key == "apparmor" and value:
            if not _apparmor_enabled():
                raise InvalidArgument(
                    f"--security-opt {text}: AppArmor is not enabled on this host",
                    hint="drop the option (containers here run without an AppArmor profile)",
                )
            apparmor = None if value == "unconfined" else value
        elif key == "label" and value:
            if value != "disable" and not Path("/sys/fs/selinux/enforce").exists():
                raise InvalidArgument(f"--security-opt {text}: SELinux is not enabled on this host (label=disable is accepted)")
        else:
            raise InvalidArgument(
                f"--security-opt {text}: unknown option (use no-new-privileges, seccomp=unconfined|PROFILE.json, "
                "apparmor=PROFILE, label=disable)"
            )
    return Security(no_new_privileges=nnp, seccomp=seccomp, apparmor=apparmor)


def _apparmor_enabled() -> bool:
    try:
        return Path("/sys/module/apparmor/parameters/enabled").read_text().strip().upper().startswith("Y") and \
            Path("/sys/kernel/security/apparmor").is_dir()
    except OSError:
        return False


def _seccomp_profile(path: str, cwd: str) -> dict[str, Any]:
    """A seccomp profile in docker's JSON format (also the OCI one), as the OCI ``linux.seccomp``. The
    file is the user's, but its content is checked like any input: known actions and operators only."""
    what = f"--security-opt seccomp={path}"
    try:
        with open(Path(cwd, path), "rb") as f:
            data = f.read(_PROFILE_MAX + 1)
    except OSError as e:
        raise InvalidArgument(f"{what}: {os.strerror(e.errno or 0)}") from None
    return _seccomp_doc(data, what)


def _seccomp_doc(data: bytes, what: str) -> dict[str, Any]:
    """A seccomp profile's JSON (docker's format, or the OCI one), checked."""
    if len(data) > _PROFILE_MAX:
        raise InvalidArgument(f"{what}: larger than {_PROFILE_MAX} bytes")
    try:
        doc = json.loads(data)
    except RecursionError:  # nesting deeper than the parser's stack: no profile is shaped like that
        raise InvalidArgument(f"{what}: not JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"{what}: not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("defaultAction") not in _SECCOMP_ACTIONS:
        raise InvalidArgument(f"{what}: defaultAction must be one of {', '.join(sorted(_SECCOMP_ACTIONS))}")
    arch = _NATIVE_ARCH.get(platform.machine(), "")
    out: dict[str, Any] = {"defaultAction": doc["defaultAction"]}
    if isinstance(doc.get("defaultErrnoRet"), int):
        out["defaultErrnoRet"] = doc["defaultErrnoRet"]
    arches: list[str] = []
    for entry in doc.get("archMap") or []:
        if isinstance(entry, dict) and entry.get("architecture") == arch:
            arches = [arch, *[a for a in entry.get("subArchitectures") or [] if isinstance(a, str)]]
    arches = arches or [a for a in doc.get("architectures") or [] if isinstance(a, str)]
    if arches:
        out["architectures"] = arches
    syscalls = []
    for rule in doc.get("syscalls") or []:
        if not isinstance(rule, dict):
            raise InvalidArgument(f"{what}: each syscalls entry must be an object")
        if not _applies(rule, arch):
            continue
        names = rule.get("names") or ([rule["name"]] if isinstance(rule.get("name"), str) else [])
        if not names or not all(isinstance(n, str) for n in names):
            raise InvalidArgument(f"{what}: a syscalls entry without names")
        if rule.get("action") not in _SECCOMP_ACTIONS:
            raise InvalidArgument(f"{what}: unknown action {str(rule.get('action'))[:40]!r}")
        converted: dict[str, Any] = {"names": list(names), "action": rule["action"]}
        if isinstance(rule.get("errnoRet"), int):
            converted["errnoRet"] = rule["errnoRet"]
        args = []
        for arg in rule.get("args") or []:
            if not isinstance(arg, dict) or arg.get("op") not in _SECCOMP_OPS:
                raise InvalidArgument(f"{what}: a syscall argument rule needs an op of {', '.join(sorted(_SECCOMP_OPS))}")
            args.append({k: arg[k] for k in ("index", "value", "valueTwo", "op") if k in arg})
        if args:
            converted["args"] = args
        syscalls.append(converted)
    if syscalls:
        out["syscalls"] = syscalls
    return out


def _applies(rule: dict[str, Any], arch: str) -> bool:
    """docker's ``includes``/``excludes`` on architectures (capabilities are not known at this point:
    a rule that depends on one is kept when it includes, dropped when it excludes)."""
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    return not (excludes.get("arches") and arch in excludes["arches"])


def parse_pid(value: str | None) -> str:
    if not value:
        return ""
    if value != "host":
        raise InvalidArgument(f"--pid {value!r}: expected host (the default is the container's own)")
    return "host"


def parse_ipc(value: str | None) -> str:
    """``--ipc``: private (the default), shareable (others may join it), host, container:REF."""
    if not value:
        return "private"
    if value in ("private", "shareable", "host"):
        return value
    if value.startswith("container:") and len(value) > len("container:"):
        return value
    raise InvalidArgument(f"--ipc {value!r}: expected private, shareable, host or container:NAME")


def parse_sysctls(items: list[str], *, network: str, ipc: str) -> dict[str, str]:
    """``--sysctl KEY=VALUE``: only what the container's own namespaces hold (net.* in its network
    namespace, the IPC ones and fs.mqueue.* in its IPC namespace); anything else is the host's."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = str(item).partition("=")
        key = key.strip().replace("/", ".")
        if not eq or not _SYSCTL_KEY.match(key) or "\x00" in value or "\n" in value:
            raise InvalidArgument(f"--sysctl {item!r}: expected KEY=VALUE (net.ipv4.ip_forward=1)")
        if key.startswith("net."):
            if network == "host" or network.startswith("container:"):
                raise InvalidArgument(f"--sysctl {key}: the container shares another network namespace ({network})")
        elif key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if ipc == "host" or ipc.startswith("container:"):
                raise InvalidArgument(f"--sysctl {key}: the container shares another IPC namespace ({ipc})")
        elif key in _UTS_SYSCTLS:
            raise InvalidArgument(f"--sysctl {key}: set it with --hostname (or the container's own tools)")
        else:
            raise InvalidArgument(
                f"--sysctl {key}: not a namespaced sysctl; it would change the host for everything on it",
                hint="allowed: net.* (not with --network host), kernel.msg*/sem/shm* and fs.mqueue.*",
            )
        out[key] = value.strip()
    return out


def parse_cpuset(value: str | None) -> str | None:
    """``--cpuset-cpus 0-1,3``: CPUs that exist here."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    if not re.match(r"^\d+(-\d+)?(,\d+(-\d+)?)*$", text):
        raise InvalidArgument(f"--cpuset-cpus {value!r}: expected a list like 0-2,4")
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if first > last:
            raise InvalidArgument(f"--cpuset-cpus {value!r}: range {part} goes backwards")
        missing = [c for c in range(first, last + 1) if c not in available]
        if missing:
            raise InvalidArgument(
                f"--cpuset-cpus {value}: CPU {missing[0]} is not available here (CPUs: {_ranges(sorted(available))})")
    return text


def _ranges(cpus: list[int]) -> str:
    out: list[str] = []
    for c in cpus:
        if out and out[-1].split("-")[-1] == str(c - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{c}"
        else:
            out.append(str(c))
    return ",".join(out)


def parse_group_add(items: list[str]) -> list[str]:
    """``--group-add GID|NAME``: numbers as they are; names are looked up later in the image's own
    /etc/group, parsed as bytes (managers.spec.resolve_group), never through the host's NSS."""
    out = []
    for item in items:
        text = str(item).strip()
        if not text or "\x00" in text or ":" in text or "\n" in text:
            raise InvalidArgument(f"--group-add {item!r}: expected a group id or name")
        if text.isdigit() and int(text) >= 0xFFFFFFFF:
            raise InvalidArgument(f"--group-add {item}: not a group id (0 to 4294967294)")
        out.append(text)
    return out
