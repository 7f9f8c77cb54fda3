"""The create/run flags, parsed and validated before anything is made.

``CreateOptions.parse(...)`` turns what the command line gives (strings, lists, sizes) into a checked
value; every bad value is an InvalidArgument naming the flag, raised before the first containerd call,
so a bad flag never leaves anything behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument
from managers import runflags
from managers.health import HealthOptions
from managers.labels import validate_labels
from managers.names import validate_name
from managers.runflags import Device, Security

__all__ = [
    "CreateOptions",
    "Ulimit",
    "parse_env",
    "parse_key_values",
    "parse_signal",
    "parse_ulimit",
]

RESTART_POLICIES = ("no", "always", "unless-stopped")
PULL_POLICIES = ("always", "missing", "never")
_ENV_KEY = re.compile(r"^[^=\s]+$")
# static ones first: the binary is bind-mounted into images that may have no libc at all
_INIT_BINARIES = ("docker-init", "tini-static", "catatonit", "tini")
RUNC = "io.containerd.runc.v2"
#: a container's create options, in its state directory
OPTIONS_FILE = "create-options.json"

#: ulimit names docker accepts, and their RLIMIT_ names.
_RLIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}


@dataclass(frozen=True)
class Ulimit:
    type: str  # RLIMIT_NOFILE
    soft: int
    hard: int


def parse_signal(value: str | int, flag: str = "--signal") -> tuple[str, int]:
    """``"SIGTERM"``, ``"term"``, ``"15"`` or 15 → ("SIGTERM", 15)."""
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        try:
            return signal.Signals(num).name, num
        except ValueError:
            raise InvalidArgument(f"{flag}: unknown signal number {num}") from None
    upper = text.upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    try:
        sig = signal.Signals[upper]
    except KeyError:
        raise InvalidArgument(f"{flag}: unknown signal {value!r} (use e.g. SIGTERM, KILL, 9)") from None
    return sig.name, int(sig)


def parse_key_values(items: Iterable[str] | None, flag: str, *, need_value: bool = False) -> dict[str, str]:
    """``["a=1", "b"]`` → {"a": "1", "b": ""} (docker's label and annotation syntax); with ``need_value``
    a bare ``KEY`` is refused (driver options)."""
    out: dict[str, str] = {}
    for item in items or ():
        key, eq, value = str(item).partition("=")
        if not key or (need_value and not eq) or "\x00" in str(item):
            raise InvalidArgument(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def parse_env(items: list[str], environ: Mapping[str, str], flag: str = "--env") -> list[str]:
    """Docker's ``-e`` rules: ``K=V`` sets, ``K=`` sets empty, a bare ``K`` takes the caller's value or is
    dropped when the caller has none."""
    out = []
    for item in items:
        key, eq, value = str(item).partition("=")
        if not key or not _ENV_KEY.match(key):
            raise InvalidArgument(f"{flag} {item!r}: invalid variable name")
        if eq:
            out.append(f"{key}={value}")
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return out


def read_env_file(path: str, cwd: str, environ: Mapping[str, str]) -> list[str]:
    """An ``--env-file``: one ``K=V`` or bare ``K`` a line; blank lines and ``#`` comments skipped."""
    full = Path(cwd, path)
    try:
        text = full.read_text()
    except OSError as e:
        raise InvalidArgument(f"--env-file {path}: {e.strerror or e}") from None
    lines = [line.strip() for line in text.splitlines()]
    return parse_env([line for line in lines if line and not line.startswith("#")], environ, f"--env-file {path}")


def read_label_file(path: str, cwd: str) -> list[str]:
    """A ``--label-file``: one ``KEY=VALUE`` (or bare ``KEY``) a line; blank lines and ``#`` comments skipped."""
    try:
        text = Path(cwd, path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"--label-file {path}: {getattr(e, 'strerror', None) or e}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def parse_ulimit(text: str) -> Ulimit:
    """``nofile=1024:2048`` or ``nproc=512`` (soft = hard)."""
    name, eq, limits = str(text).partition("=")
    if not eq or name not in _RLIMITS:
        raise InvalidArgument(f"--ulimit {text!r}: expected NAME=SOFT[:HARD] with NAME one of {', '.join(sorted(_RLIMITS))}")
    soft_s, _, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"--ulimit {text!r}: limits must be integers") from None
    if soft > hard or soft < -1:
        raise InvalidArgument(f"--ulimit {text!r}: soft limit must be at most the hard limit")
    return Ulimit(_RLIMITS[name], soft, hard)


def _find_init() -> str:
    for name in _INIT_BINARIES:
        found = shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/bin", "/usr/sbin", "/usr/libexec/docker")
                                            if os.path.exists(f"{d}/{name}")), None)
        if found:
            return found
    raise InvalidArgument(
        "--init: no init binary on this host (looked for docker-init, tini, catatonit)",
        hint="install tini (apt install tini) to use --init",
    )


@dataclass
class CreateOptions:
    """Everything ``create``/``run`` need, checked. Field names follow the flags' ``dest`` names."""

    image: str
    args: list[str] = field(default_factory=list)
    name: str | None = None
    interactive: bool = False
    tty: bool = False
    rm: bool = False
    env: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    user: str | None = None
    entrypoint: list[str] | None = None
    hostname: str | None = None
    restart: str = "no"
    stop_signal: str | None = None
    stop_timeout: int | None = None
    read_only: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    memory: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    ulimits: list[Ulimit] = field(default_factory=list)
    shm_size: int | None = None
    init_path: str | None = None
    runtime: str = RUNC
    runtime_binary: str | None = None
    pull: str = "missing"
    log_max_size: int | None = None
    log_max_file: int = 1
    annotations: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)
    publish_all: bool = False
    network: str = "bridge"
    ip: str | None = None
    dns: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    security: Security = field(default_factory=Security)
    sysctls: dict[str, str] = field(default_factory=dict)
    pid_mode: str = ""  # "" (its own) or "host"
    ipc_mode: str = "private"  # private, shareable, host, container:REF
    cpuset_cpus: str | None = None
    cpu_shares: int | None = None
    group_add: list[str] = field(default_factory=list)
    oom_score_adj: int | None = None
    memory_swap: int | None = None  # -1: unlimited
    memory_reservation: int | None = None
    # healthcheck (managers.health): None leaves the image's HEALTHCHECK as it is
    health: HealthOptions | None = None
    #: lxcfs's /proc files bound in (managers.lxcfs); the flag, else the settings' enable-lxcfs
    enable_lxcfs: bool = False
    #: a -t container's first terminal size, [rows, columns] (an API client's ConsoleSize); None: runc's
    console_size: list[int] | None = None

    @classmethod
    def parse(
        cls,
        image: str,
        args: list[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str = ".",
        env: list[str] | None = None,
        env_file: list[str] | None = None,
        label: list[str] | None = None,
        annotation: list[str] | None = None,
        entrypoint: str | None = None,
        restart: str | None = None,
        stop_signal: str | None = None,
        stop_timeout: Any = None,
        memory: Any = None,
        cpus: Any = None,
        pids_limit: Any = None,
        ulimit: list[str] | None = None,
        shm_size: Any = None,
        init: bool = False,
        runtime: str | None = None,
        pull: str | None = None,
        log_opt: list[str] | None = None,
        label_file: list[str] | None = None,
        device: list[str] | None = None,
        security_opt: list[str] | None = None,
        sysctl: list[str] | None = None,
        pid: str | None = None,
        ipc: str | None = None,
        cpuset_cpus: str | None = None,
        cpu_shares: Any = None,
        group_add: list[str] | None = None,
        oom_score_adj: Any = None,
        memory_swap: Any = None,
        memory_reservation: Any = None,
        health_cmd: Any = None,
        health_interval: Any = None,
        health_timeout: Any = None,
        health_retries: Any = None,
        health_start_period: Any = None,
        health_start_interval: Any = None,
        no_healthcheck: bool = False,
        seccomp_inline: bool = False,
        **rest: Any,
    ) -> CreateOptions:
        environ = environ if environ is not None else {}
        if not image or not isinstance(image, str):
            raise InvalidArgument("an image is required")
        opts = cls(image=image, args=[str(a) for a in (args or [])])
        for key, value in rest.items():
            if not hasattr(opts, key):
                raise InvalidArgument(f"unknown create option {key!r}")
            if value is not None:
                setattr(opts, key, list(value) if isinstance(value, (list, tuple)) else value)
        if opts.name is not None:
            validate_name(opts.name)
        merged: list[str] = []
        for path in env_file or []:
            merged += read_env_file(path, cwd, environ)
        opts.env = merged + parse_env(list(env or []), environ)
        from_files: list[str] = []
        for path in label_file or []:
            from_files += read_label_file(path, cwd)
        opts.labels = parse_key_values(from_files + list(label or []), "--label")
        validate_labels(opts.labels)
        opts.annotations = parse_key_values(list(annotation or []), "--annotation")
        if entrypoint is not None:
            opts.entrypoint = [entrypoint] if entrypoint else []
        opts.restart = _restart(restart)
        if stop_signal:
            opts.stop_signal = parse_signal(stop_signal, "--stop-signal")[0]
        if stop_timeout is not None:
            opts.stop_timeout = _int(stop_timeout, "--stop-timeout", minimum=-1)
        opts.memory = _bytes(memory, "--memory")
        if opts.memory is not None and opts.memory < 6 * 1024 * 1024:
            raise InvalidArgument("--memory: the minimum is 6 MiB")
        if cpus is not None and cpus != "":
            try:
                opts.cpus = float(cpus)
            except (TypeError, ValueError):
                raise InvalidArgument(f"--cpus {cpus!r}: not a number") from None
            if not 0.01 <= opts.cpus <= (os.cpu_count() or 1):
                raise InvalidArgument(f"--cpus {cpus}: must be between 0.01 and {os.cpu_count()} (the CPUs here)")
        if pids_limit is not None:
            opts.pids_limit = _int(pids_limit, "--pids-limit", minimum=-1)
        opts.ulimits = [parse_ulimit(u) for u in ulimit or []]
        opts.shm_size = _bytes(shm_size, "--shm-size")
        if init:
            opts.init_path = _find_init()
        opts.runtime, opts.runtime_binary = _runtime(runtime)
        opts.pull = pull or "missing"
        if opts.pull not in PULL_POLICIES:
            raise InvalidArgument(f"--pull {pull!r}: expected one of {', '.join(PULL_POLICIES)}")
        _log_opts(opts, log_opt or [])
        opts.health = HealthOptions.parse(
            cmd=health_cmd, interval=health_interval, timeout=health_timeout, retries=health_retries,
            start_period=health_start_period, disable=no_healthcheck, start_interval=health_start_interval,
        )
        for item in opts.add_host:
            host, sep, addr = str(item).partition(":")
            if not sep or not host or not addr:
                raise InvalidArgument(f"--add-host {item!r}: expected HOST:IP")
        if opts.rm and opts.restart != "no":
            raise InvalidArgument("--rm and --restart cannot be combined")
        opts.devices = [runflags.parse_device(d) for d in device or []]
        opts.security = runflags.parse_security_opts(list(security_opt or []), cwd, inline_profiles=seccomp_inline)
        if opts.console_size is not None:
            rows_cols = list(opts.console_size)
            if len(rows_cols) != 2 or not all(isinstance(n, int) and 0 <= n <= 0xFFFF for n in rows_cols):
                raise InvalidArgument("console size: expected [ROWS, COLUMNS], each 0 to 65535")
            opts.console_size = rows_cols if all(rows_cols) and opts.tty else None
        opts.pid_mode = runflags.parse_pid(pid)
        opts.ipc_mode = runflags.parse_ipc(ipc)
        opts.sysctls = runflags.parse_sysctls(list(sysctl or []), network=opts.network, ipc=opts.ipc_mode)
        opts.cpuset_cpus = runflags.parse_cpuset(cpuset_cpus)
        if cpu_shares is not None and cpu_shares != "":
            opts.cpu_shares = _int(cpu_shares, "--cpu-shares", minimum=2)
            if opts.cpu_shares > 262144:
                raise InvalidArgument(f"--cpu-shares {cpu_shares}: must be at most 262144")
        opts.group_add = runflags.parse_group_add(list(group_add or []))
        if oom_score_adj is not None and oom_score_adj != "":
            opts.oom_score_adj = _int(oom_score_adj, "--oom-score-adj", minimum=-1000)
            if opts.oom_score_adj > 1000:
                raise InvalidArgument(f"--oom-score-adj {oom_score_adj}: must be between -1000 and 1000")
        opts.memory_reservation = _bytes(memory_reservation, "--memory-reservation")
        if opts.memory_reservation is not None and opts.memory is not None and opts.memory_reservation > opts.memory:
            raise InvalidArgument("--memory-reservation: must be at most --memory")
        if memory_swap is not None and memory_swap != "":
            if str(memory_swap).strip() == "-1":
                opts.memory_swap = -1
            else:
                opts.memory_swap = _bytes(memory_swap, "--memory-swap")
            if opts.memory is None:
                raise InvalidArgument("--memory-swap needs --memory (it is the limit of memory and swap together)")
            if opts.memory_swap != -1 and (opts.memory_swap or 0) < opts.memory:
                raise InvalidArgument("--memory-swap: must be at least --memory (memory and swap together), or -1")
        return opts

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CreateOptions:
        """The options ``to_json`` wrote (upgrade reads a container's own back). Nested options come back
        by the field types (managers.dataclassjson), which name classes imported into this module."""
        from managers.dataclassjson import from_plain

        return from_plain(cls, json.loads(text))

    @property
    def stop_signal_or_default(self) -> str:
        return self.stop_signal or "SIGTERM"


def _restart(value: str | None) -> str:
    policy = (value or "no").strip()
    base = policy.split(":", 1)[0]
    if base == "on-failure":
        raise InvalidArgument(
            "--restart on-failure is not supported on containerd 1.6",
            hint="containerd 1.6's restart monitor only restarts unconditionally: use always or unless-stopped",
        )
    if policy not in RESTART_POLICIES:
        raise InvalidArgument(f"--restart {value!r}: expected one of {', '.join(RESTART_POLICIES)}")
    return policy


def _runtime(value: str | None) -> tuple[str, str | None]:
    if not value or value in ("runc", RUNC):
        return RUNC, None
    if value.startswith("/"):
        if not os.access(value, os.X_OK):
            raise InvalidArgument(f"--runtime {value}: not an executable file")
        return RUNC, value
    if re.match(r"^io\.containerd\.[a-z0-9]+\.v[0-9]+$", value):
        from managers.runtimes import available, shim_binary, shim_path

        if shim_path(value) is None:
            names = ", ".join(r["name"] for r in available()) or "none"
            raise InvalidArgument(f"--runtime {value}: its shim {shim_binary(value)} is not installed (runtimes here: {names})")
        return value, None
    raise InvalidArgument(f"--runtime {value!r}: expected runc, a containerd runtime name (io.containerd.runc.v2) or a path to an OCI runtime")


def _log_opts(opts: CreateOptions, items: list[str]) -> None:
    for key, value in parse_key_values(items, "--log-opt").items():
        if key == "max-size":
            opts.log_max_size = _bytes(value, "--log-opt max-size")
            if not opts.log_max_size:
                raise InvalidArgument("--log-opt max-size: must be greater than zero")
        elif key == "max-file":
            opts.log_max_file = _int(value, "--log-opt max-file", minimum=1)
        else:
            raise InvalidArgument(f"--log-opt {key}: unknown option (max-size and max-file are supported)")
    if opts.log_max_file > 1 and opts.log_max_size is None:
        raise InvalidArgument("--log-opt max-file needs max-size")


def _int(value: Any, flag: str, *, minimum: int) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise InvalidArgument(f"{flag} {value!r}: not an integer") from None
    if n < minimum:
        raise InvalidArgument(f"{flag} {value}: must be at least {minimum}")
    return n


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$", re.IGNORECASE)


def _bytes(value: Any, flag: str) -> int | None:
    """A size: an int of bytes (the language's Size) or docker's ``64m``/``1g``/``512k`` (binary units)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        n = int(value)
    else:
        m = _SIZE.match(str(value).strip())
        if not m:
            raise InvalidArgument(f"{flag} {value!r}: not a size (use e.g. 512k, 64m, 1g)")
        power = "_kmgt".index(m.group(2).lower() or "_")
        si = power > 0 and m.group(3).lower() == "b"  # kB, MB: SI, like the language's size literals
        n = int(float(m.group(1)) * (1000 if si else 1024) ** power)
    if n < 0:
        raise InvalidArgument(f"{flag}: must not be negative")
    return n
