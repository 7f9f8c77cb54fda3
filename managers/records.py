"""Container records: what ``ps`` and ``inspect`` return, built from a container and its task.

The record's fields (documented in docs/commands/containers.md):

    id name image command status state created ports labels networks exit_code pid mounts restart

``status`` is the state word (created, running, paused, exited) so that ``where status == exited`` reads
naturally; ``state`` is docker's human text ("Up 3 minutes", "Exited (0) 2 minutes ago"). ``ports`` are
those published while the container runs (or is paused): empty once it has stopped, as in docker. Everything
pouchsh adds to a container lives in labels under ``pouchsh/``; nothing here calls containerd.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from managers.filters import id_matches, label_matches, matches, name_matches
from managers.health import HealthConfig, health_of
from managers.labels import LABEL, RESERVED_LABEL_PREFIXES

__all__ = [
    "build_record",
    "human_ago",
    "inspect_record",
    "matches_filters",
    "ports_of",
    "short_command",
    "started_at",
    "status_of",
    "summary_labels",
]


_INTERNAL = (*RESERVED_LABEL_PREFIXES, "nerdctl/")
_DEFAULT_MOUNTS = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/run"}


#: containerd refuses a label whose key and value exceed this many bytes
_LABEL_MAX = 4096


@cache
def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


@cache
def _boot_time() -> float:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def started_at(pid: int) -> float | None:
    """When host process ``pid`` started (epoch seconds), from /proc: no containerd call needed."""
    if pid <= 0:
        return None
    # os.open/os.read, not open(): ps reads one file per running container, and a text file object
    # costs three times as much as the read itself
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # fields after the command's closing parenthesis: state is the first, starttime the twentieth
    fields = data[data.rfind(b")") + 2 :].split(b" ", 20)
    if len(fields) < 21 or not fields[19].isdigit():
        return None
    return _boot_time() + int(fields[19]) / _clock_ticks()


def human_ago(seconds: float) -> str:
    """docker's ``units.HumanDuration``: "Less than a second", "5 seconds", "About a minute", "3 hours"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is UTC:  # as ctrd gives times: isoformat is the cheaper spelling (ps formats 500)
        return dt.isoformat(timespec="microseconds")[:-6] + "Z"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch_iso(t: float | None) -> str | None:
    return None if t is None else _iso(datetime.fromtimestamp(t, UTC))


def _parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def status_of(container: Any, task: Any | None) -> str:
    """created | running | paused | exited."""
    if task is None:
        return "exited" if container.labels.get(LABEL.STARTED) == "true" else "created"
    if task.status == "running":
        return "running"
    if task.status in ("paused", "pausing"):
        return "paused"
    if task.status == "created":
        return "created"
    return "exited"


def _exit(container: Any, task: Any | None) -> tuple[int | None, float | None]:
    """The exit code and time of the last run: the stopped task's, or what pouchsh saved on task delete."""
    if task is not None and task.status == "stopped":
        at = task.exited_at.timestamp() if task.exited_at and task.exited_at.year > 1970 else None
        return task.exit_status, at
    if task is None and LABEL.EXIT_CODE in container.labels:
        try:
            code = int(container.labels[LABEL.EXIT_CODE])
        except ValueError:
            code = None
        return code, _parse_iso(container.labels.get(LABEL.FINISHED_AT))
    return None, None


def command_of(container: Any) -> list[str]:
    """The process args: from the ``pouchsh/command`` label (no spec decoding), else from the spec."""
    args = _json_label(container.labels, LABEL.COMMAND)
    if args is not None:
        return args
    return list((container.spec.get("process") or {}).get("args") or [])


def summary_labels(spec: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, str]:
    """``pouchsh/command`` and ``pouchsh/mounts`` for a container about to be created with ``spec`` and
    ``labels``: what ``ps`` shows from the spec, kept where a listing can read it without decoding
    every spec. A value too long for a containerd label is left out (``ps`` then reads the spec)."""
    out = {}
    args = list((spec.get("process") or {}).get("args") or [])
    for key, value in ((LABEL.COMMAND, args), (LABEL.MOUNTS, _spec_mounts(spec, labels))):
        text = json.dumps(value, separators=(",", ":"))
        if len(key) + len(text.encode()) <= _LABEL_MAX:
            out[key] = text
    return out


def short_command(args: list[str], width: int = 20) -> str:
    text = shlex.join(args)
    return text if len(text) <= width else text[: width - 1] + "…"


@lru_cache(maxsize=1024)
def _command_text(label: str, trunc: bool) -> str | None:
    """The record's ``command`` from a ``pouchsh/command`` label's text (None if it is not a JSON
    list), remembered by that text: a listing shows few distinct commands many times."""
    args = _json_label({LABEL.COMMAND: label}, LABEL.COMMAND)
    if args is None:
        return None
    return short_command(args) if trunc else shlex.join(args)


def _command(container: Any, trunc: bool) -> str:
    label = container.labels.get(LABEL.COMMAND)
    text = _command_text(label, trunc) if label else None
    if text is not None:
        return text
    args = command_of(container)
    return short_command(args) if trunc else shlex.join(args)


def _json_label(labels: Mapping[str, str], key: str) -> list[Any] | None:
    """A JSON list label; None when it is absent or not a list."""
    text = labels.get(key)
    if not text:
        return None
    if text == "[]":
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _mounts(container: Any) -> list[dict[str, Any]]:
    mounts = _json_label(container.labels, LABEL.MOUNTS)
    if mounts is not None:
        return mounts
    return _spec_mounts(container.spec, container.labels)


def _spec_mounts(spec: Mapping[str, Any], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    volumes = set(filter(None, labels.get(LABEL.VOLUMES, "").split(",")))
    out = []
    for m in spec.get("mounts") or []:
        dst = m.get("destination", "")
        if dst in _DEFAULT_MOUNTS and m.get("type") != "bind":
            continue
        if dst in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/sbin/docker-init"):
            continue
        source = m.get("source", "")
        name = os.path.basename(os.path.dirname(source)) if m.get("type") == "bind" else None
        kind = "volume" if name in volumes else m.get("type", "")
        options = m.get("options") or []
        out.append({
            "type": kind,
            "name": name if kind == "volume" else None,
            "source": source,
            "destination": dst,
            "rw": "ro" not in options,
        })
    return out


def build_record(container: Any, task: Any | None, *, now: float | None = None, trunc: bool = False) -> dict[str, Any]:
    """The ``ps`` record of one container (``task`` from the same ``Tasks.List``, None when it has none)."""
    now = time.time() if now is None else now
    labels = container.labels
    status = status_of(container, task)
    pid = task.pid if task is not None and status in ("running", "paused") else None
    exit_code, finished = _exit(container, task)
    health = health_of(labels, pid if status == "running" else None)
    if status in ("running", "paused"):
        since = started_at(pid or 0)
        up = human_ago(now - since) if since else "Less than a second"
        state = f"Up {up}" + (" (Paused)" if status == "paused" else "")
        if health is not None:
            state += " (health: starting)" if health["status"] == "starting" else f" ({health['status']})"
    elif status == "exited":
        ago = f" {human_ago(now - finished)} ago" if finished else ""
        state = f"Exited ({exit_code if exit_code is not None else 0}){ago}"
    else:
        state = "Created"
    return {
        "id": container.id[:12] if trunc else container.id,
        "name": labels.get(LABEL.NAME, ""),
        "image": container.image,
        "command": _command(container, trunc),
        "status": status,
        "state": state,
        "created": _iso(container.created_at),
        # as docker: a stopped container publishes nothing, whatever its labels plan
        "ports": ports_of(container) if pid is not None else [],
        "labels": {k: v for k, v in labels.items() if not k.startswith(_INTERNAL)},
        "networks": [n for n in labels.get(LABEL.NETWORKS, "").split(",") if n] or _network_mode(labels),
        "exit_code": exit_code if status == "exited" else None,
        "pid": pid,
        "mounts": _mounts(container),
        "restart": labels.get(LABEL.RESTART, "no"),
        "health": health["status"] if health is not None else None,
    }


def ports_of(container: Any) -> list[dict[str, Any]]:
    """The ports a container publishes while it runs (its ``pouchsh/ports`` label)."""
    return _json_label(container.labels, LABEL.PORTS) or []


def _network_mode(labels: Mapping[str, str]) -> list[str]:
    mode = labels.get(LABEL.NETWORK)
    return [mode] if mode in ("host", "none") else []


def inspect_record(
    container: Any, task: Any | None, *, now: float | None = None, task_created: str | None = None
) -> dict[str, Any]:
    """The ``ps`` record plus what ``inspect`` adds: times, the process, log path, the OCI spec.
    ``task_created``: when an exited task not yet reaped was made (Lifecycle.runc_created)."""
    record = build_record(container, task, now=now)
    labels = container.labels
    process = container.spec.get("process") or {}
    pid = record["pid"]
    _, finished = _exit(container, task)
    stop_timeout = labels.get(LABEL.STOP_TIMEOUT)
    record.update({
        "started_at": _started(record["status"], pid, task_created or labels.get(LABEL.STARTED_AT)),
        "finished_at": _epoch_iso(finished) if record["status"] == "exited" else None,
        "hostname": container.spec.get("hostname") or labels.get(LABEL.HOSTNAME, ""),
        "env": list(process.get("env") or []),
        "user": process.get("user") or {},
        "workdir": process.get("cwd", "/"),
        "tty": bool(process.get("terminal")),
        "stop_signal": labels.get(LABEL.STOP_SIGNAL, "SIGTERM"),
        "stop_timeout": int(stop_timeout) if stop_timeout and stop_timeout.lstrip("-").isdigit() else 10,
        "auto_remove": labels.get(LABEL.AUTO_REMOVE) == "true",
        "log_path": labels.get(LABEL.LOG_PATH),
        "runtime": container.runtime,
        "snapshotter": container.snapshotter,
        "snapshot_key": container.snapshot_key,
        "all_labels": dict(labels),
        "spec": dict(container.spec),
    })
    check = HealthConfig.from_labels(labels)
    record["healthcheck"] = check.to_record() if check is not None else None
    record["health_state"] = health_of(labels, pid if record["status"] == "running" else None)
    return record


def _started(status: str, pid: int | None, kept: str | None) -> str | None:
    """When the last run started: from /proc while it runs, else when runc made its task (``kept``)."""
    if pid:
        since = started_at(pid)
        if since is not None:
            return _epoch_iso(since)
    if status == "created":
        return None
    return _epoch_iso(_parse_iso(kept))


def matches_filters(record: dict[str, Any], container: Any, filters: Mapping[str, list[str]]) -> bool:
    """docker ps ``--filter`` (managers.filters.matches); the ordering keys (before, since, until)
    compare containers with each other, which the manager does."""
    ordering = ("before", "since", "until")
    return matches({k: v for k, v in filters.items() if k not in ordering},
                   lambda key, value: _match_one(key, value, record, container))


def _match_one(key: str, value: str, record: dict[str, Any], container: Any) -> bool:
    if key == "id":
        return id_matches(container.id, value)
    if key == "name":
        return name_matches(record["name"], value)
    if key == "status":
        return record["status"] == value
    if key == "label":
        return label_matches(container.labels, value)
    if key == "ancestor":
        image = container.image
        return image == value or image.endswith("/" + value) or image.split("/")[-1] in (value, value + ":latest")
    if key == "health":
        return (record["health"] or "none") == value
    if key == "exited":
        return record["status"] == "exited" and str(record["exit_code"]) == value
    if key == "volume":
        return any(m.get("name") == value or m["destination"] == value for m in record["mounts"])
    if key == "network":
        return value in record["networks"]
    return False
