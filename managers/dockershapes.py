"""Manager records in docker's JSON shapes (docker's field names, zero values where pouchsh has none).

One mapping serves both faces that speak docker: pouchd's API answers and the shell's ``--format``
templates (``inspect -f '{{.State.Status}}'``), so a field means the same in both."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from managers.records import LABEL

__all__ = [
    "DOCKER_EVENT_TYPES", "container_inspect", "container_summary", "epoch", "event_shape", "go_arch",
    "image_inspect", "image_summary", "network_shape", "volume_shape",
]

ZERO_TIME = "0001-01-01T00:00:00Z"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def go_arch() -> str:
    machine = os.uname().machine
    return _ARCH.get(machine, machine)


def epoch(stamp: str | None) -> int:
    if not stamp:
        return 0
    try:
        return int(datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        return 0


def _ports(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        item: dict[str, Any] = {"PrivatePort": int(p["container_port"]), "Type": p.get("protocol", "tcp")}
        if p.get("host_port"):
            item["IP"] = p.get("host_ip") or "0.0.0.0"
            item["PublicPort"] = int(p["host_port"])
        out.append(item)
    return out


def _mounts(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in mounts:
        kind = m.get("type") or "bind"
        rw = bool(m.get("rw", True))
        item = {"Type": kind, "Source": m.get("source", ""), "Destination": m.get("destination", ""),
                "Mode": "" if rw else "ro", "RW": rw, "Propagation": "rprivate" if kind == "bind" else ""}
        if kind == "volume":
            item.update({"Name": m.get("name") or "", "Driver": "local"})
        out.append(item)
    return out


def _network_mode(record: dict[str, Any]) -> str:
    labels = record.get("all_labels") or {}
    mode = labels.get(LABEL.NETWORK) or (record["networks"][0] if record.get("networks") else "none")
    return "default" if mode == "bridge" else mode


def container_summary(record: dict[str, Any]) -> dict[str, Any]:
    """A ``GET /containers/json`` item."""
    networks = {n: {"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                    "MacAddress": ""} for n in record.get("networks") or []}
    return {
        "Id": record["id"],
        "Names": ["/" + record["name"]] if record.get("name") else [],
        "Image": record["image"],
        "ImageID": "",
        "Command": record.get("command", ""),
        "Created": epoch(record.get("created")),
        "Ports": _ports(record.get("ports") or []),
        "Labels": record.get("labels") or {},
        "State": record["status"],
        "Status": record.get("state", ""),
        "HostConfig": {"NetworkMode": (record.get("networks") or ["default"])[0]},
        "NetworkSettings": {"Networks": networks},
        "Mounts": _mounts(record.get("mounts") or []),
    }


def _aliases(labels: dict[str, str]) -> dict[str, Any]:
    try:
        value = json.loads(labels.get(LABEL.NET_ALIASES) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _planned_ports(labels: dict[str, str]) -> list[dict[str, Any]]:
    try:
        value = json.loads(labels.get(LABEL.PORTS) or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _health_state(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"Status": state["status"], "FailingStreak": int(state.get("failing_streak") or 0),
            "Log": [{"Start": e.get("start") or ZERO_TIME, "End": e.get("end") or ZERO_TIME,
                     "ExitCode": int(e.get("exit_code") or 0), "Output": str(e.get("output") or "")}
                    for e in state.get("log") or [] if isinstance(e, dict)]}


def _healthcheck(check: dict[str, Any] | None, options: Any) -> dict[str, Any] | None:
    """The container's check (the image's with the options laid over it), or ``["NONE"]`` when it was
    disabled."""
    if check is None:
        health = getattr(options, "health", None)
        return {"Test": ["NONE"]} if health is not None and health.disable else None
    return {"Test": list(check["test"]), "Interval": check["interval"], "Timeout": check["timeout"],
            "StartPeriod": check["start_period"], "StartInterval": check.get("start_interval", 0),
            "Retries": check["retries"]}


def _security_opts(security: Any) -> list[str] | None:
    out = []
    if security.no_new_privileges:
        out.append("no-new-privileges:true")
    if security.seccomp == {}:
        out.append("seccomp=unconfined")
    elif security.seccomp:
        out.append("seccomp=" + json.dumps(security.seccomp, separators=(",", ":")))  # docker keeps the profile
    if security.apparmor:
        out.append(f"apparmor={security.apparmor}")
    return out or None


def _from_options(options: Any) -> dict[str, Any]:
    """The HostConfig fields only the create options hold (what was asked, as docker reports it)."""
    tmpfs = {}
    for item in options.tmpfs:
        path, _, opts = str(item).partition(":")
        tmpfs[path] = opts
    return {
        "Privileged": options.privileged,
        "CapAdd": list(options.cap_add) or None,
        "CapDrop": list(options.cap_drop) or None,
        "Devices": [{"PathOnHost": d.host, "PathInContainer": d.path, "CgroupPermissions": d.access}
                    for d in options.devices],
        "SecurityOpt": _security_opts(options.security),
        **({"Sysctls": dict(options.sysctls)} if options.sysctls else {}),
        "Ulimits": [{"Name": u.type.removeprefix("RLIMIT_").lower(), "Soft": u.soft, "Hard": u.hard}
                    for u in options.ulimits] or None,
        **({"Tmpfs": tmpfs} if tmpfs else {}),
        "ExtraHosts": list(options.add_host) or None,
        "Dns": list(options.dns), "DnsOptions": [], "DnsSearch": [],
        "GroupAdd": list(options.group_add) or None,
        "CpusetCpus": options.cpuset_cpus or "",
        "CpuShares": options.cpu_shares or 0,
        "OomScoreAdj": options.oom_score_adj or 0,
        "PidMode": options.pid_mode,
        "IpcMode": options.ipc_mode,
        "ShmSize": options.shm_size or 64 * 1024 * 1024,
        "MemorySwap": options.memory_swap or 0,
        "MemoryReservation": options.memory_reservation or 0,
        "Init": True if options.init_path else None,
        "ConsoleSize": list(options.console_size or [0, 0]),
        "VolumesFrom": list(options.volumes_from) or None,
        "PublishAllPorts": options.publish_all,
    }


def _create_options(record: dict[str, Any]) -> Any:
    """The record's ``create_options`` (``ContainerManager.inspect`` puts them there) as the
    ``CreateOptions`` they were; None for a record without them (an older container's, a remote one)."""
    plain = record.get("create_options")
    if not isinstance(plain, dict):
        return None
    from managers.dataclassjson import from_plain
    from managers.options import CreateOptions

    try:
        return from_plain(CreateOptions, plain)
    except (TypeError, ValueError, KeyError):
        return None


def container_inspect(record: dict[str, Any]) -> dict[str, Any]:
    """``GET /containers/{id}/json`` (and the shell's ``inspect --format``) from the manager's inspect
    record, with the create options it carries."""
    options = _create_options(record)
    labels = record.get("all_labels") or {}
    spec = record.get("spec") or {}
    process = spec.get("process") or {}
    args = list(process.get("args") or [])
    status = record["status"]
    running = status in ("running", "paused")
    user = record.get("user") or {}
    user_text = f"{user.get('uid', 0)}:{user.get('gid', 0)}" if user.get("uid") or user.get("gid") else ""
    resources = (spec.get("linux") or {}).get("resources") or {}
    cpu = resources.get("cpu") or {}
    nano = int(cpu["quota"] * 1e9 / cpu["period"]) if cpu.get("quota") and cpu.get("period") else 0
    planned = _planned_ports(labels)
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for p in planned:
        key = f"{p['container_port']}/{p.get('protocol', 'tcp')}"
        port_bindings.setdefault(key, []).append({"HostIp": p.get("host_ip", ""),
                                                  "HostPort": str(p.get("host_port") or "")})
    live_ports: dict[str, Any] = {}
    for p in record.get("ports") or []:
        key = f"{p['container_port']}/{p.get('protocol', 'tcp')}"
        live_ports.setdefault(key, []).append({"HostIp": p.get("host_ip") or "0.0.0.0",
                                               "HostPort": str(p.get("host_port") or "")})
    networks: dict[str, Any] = {}
    # a container that is not running is on the networks of its plan, with no address (as with dockerd;
    # compose reads them to decide whether to disconnect before connecting with aliases)
    planned = {} if running or not labels.get(LABEL.NETWORKS) else dict.fromkeys(record.get("networks") or [], {})
    aliases = _aliases(labels)
    for name, itf in {**planned, **(record.get("network_settings") or {})}.items():
        networks[name] = {
            "IPAMConfig": None, "Links": None, "Aliases": aliases.get(name), "NetworkID": "", "EndpointID": "",
            "Gateway": itf.get("gateway") or "", "IPAddress": itf.get("ip") or "",
            "IPPrefixLen": int(itf.get("prefix_len") or 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "MacAddress": itf.get("mac") or "", "DriverOpts": None,
        }
    first = next(iter(networks.values()), {})
    mounts = _mounts(record.get("mounts") or [])
    mode = _network_mode(record)
    health = _health_state(record.get("health_state"))
    check = _healthcheck(record.get("healthcheck"), options)
    return {
        "Id": record["id"],
        "Created": record.get("created") or ZERO_TIME,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": status, "Running": status == "running", "Paused": status == "paused",
            "Restarting": False, "OOMKilled": False, "Dead": False, "Pid": record.get("pid") or 0,
            "ExitCode": record.get("exit_code") or 0, "Error": "",
            "StartedAt": record.get("started_at") or ZERO_TIME, "FinishedAt": record.get("finished_at") or ZERO_TIME,
            **({"Health": health} if health is not None else {}),
        },
        "Image": record["image"],
        "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "",
        "LogPath": record.get("log_path") or "",
        "Name": "/" + record.get("name", ""),
        "RestartCount": 0,
        "Driver": record.get("snapshotter") or "overlayfs",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": {
            "Binds": [f"{m['Source']}:{m['Destination']}" + ("" if m["RW"] else ":ro")
                      for m in mounts if m["Type"] == "bind"] or None,
            "NetworkMode": mode,
            "PortBindings": port_bindings,
            "RestartPolicy": {"Name": record.get("restart") or "no", "MaximumRetryCount": 0},
            "AutoRemove": bool(record.get("auto_remove")),
            "Privileged": False,
            "ReadonlyRootfs": bool((spec.get("root") or {}).get("readonly")),
            "Memory": int((resources.get("memory") or {}).get("limit") or 0),
            "NanoCpus": nano,
            "PidsLimit": (resources.get("pids") or {}).get("limit"),
            "LogConfig": {"Type": "json-file", "Config": {}},
            "Runtime": record.get("runtime") or "",
            **(_from_options(options) if options is not None else {}),
        },
        "GraphDriver": {"Name": record.get("snapshotter") or "overlayfs", "Data": None},
        "Mounts": mounts,
        "Config": {
            "Hostname": record.get("hostname") or "",
            "Domainname": "",
            "User": user_text,
            "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
            "ExposedPorts": {k: {} for k in port_bindings} or None,
            "Tty": bool(record.get("tty")),
            "OpenStdin": labels.get(LABEL.INTERACTIVE) == "true",
            "StdinOnce": False,
            "Env": record.get("env") or [],
            "Cmd": args,
            "Image": record["image"],
            "Volumes": None,
            "WorkingDir": record.get("workdir") or "",
            "Entrypoint": None,
            "OnBuild": None,
            "Labels": record.get("labels") or {},
            "StopSignal": record.get("stop_signal") or "SIGTERM",
            "StopTimeout": record.get("stop_timeout"),
            **({"Healthcheck": check} if check is not None else {}),
        },
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": live_ports if running else {}, "SandboxKey": "",
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
            "Gateway": first.get("Gateway", ""), "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": first.get("IPAddress", ""), "IPPrefixLen": first.get("IPPrefixLen", 0),
            "IPv6Gateway": "", "MacAddress": first.get("MacAddress", ""), "Networks": networks,
        },
    }


def image_summary(record: dict[str, Any]) -> dict[str, Any]:
    tags = [f"{record['repository']}:{record['tag']}"] if record.get("tag") not in (None, "", "<none>") else []
    return {
        "Containers": -1, "Created": epoch(record.get("created")), "Id": record.get("id") or record.get("digest"),
        "Labels": record.get("labels") or {}, "ParentId": "", "RepoDigests": [], "RepoTags": tags,
        "SharedSize": -1, "Size": record.get("size", 0), "VirtualSize": record.get("size", 0),
    }


def image_inspect(r: dict[str, Any]) -> dict[str, Any]:
    """``GET /images/{name}/json`` from the manager's inspect record."""
    config = r.get("config") or {}
    return {
        "Id": r["id"], "RepoTags": r.get("repo_tags") or [], "RepoDigests": r.get("repo_digests") or [],
        "Parent": "", "Comment": "", "Created": r.get("created") or "", "Container": "",
        "DockerVersion": "", "Author": r.get("author") or "",
        "Config": _image_config(config), "Architecture": r.get("architecture") or "",
        "Os": r.get("os") or "", "Size": r.get("size", 0), "VirtualSize": r.get("size", 0),
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "RootFS": {"Type": "layers", "Layers": (r.get("rootfs") or {}).get("diff_ids") or []},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def _image_config(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "Env": config.get("env") or [], "Cmd": config.get("cmd"), "Entrypoint": config.get("entrypoint"),
        "WorkingDir": config.get("working_dir") or "", "User": config.get("user") or "",
        "Labels": config.get("labels") or {}, "ExposedPorts": {p: {} for p in config.get("exposed_ports") or []} or None,
        "Volumes": {v: {} for v in config.get("volumes") or []} or None, "StopSignal": config.get("stop_signal") or "",
    }


def volume_shape(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "CreatedAt": record.get("created", ""), "Driver": record.get("driver", "local"),
        "Labels": record.get("labels") or {}, "Mountpoint": record.get("mountpoint", ""),
        "Name": record["name"], "Options": record.get("options") or {}, "Scope": record.get("scope", "local"),
    }


def network_shape(record: dict[str, Any]) -> dict[str, Any]:
    config = []
    if record.get("subnet"):
        entry = {"Subnet": record["subnet"]}
        if record.get("gateway"):
            entry["Gateway"] = record["gateway"]
        if record.get("ip_range"):
            entry["IPRange"] = record["ip_range"]
        config.append(entry)
    containers = {c["id"]: {"Name": c.get("name", ""), "EndpointID": "", "MacAddress": c.get("mac", ""),
                            "IPv4Address": c.get("ip", ""), "IPv6Address": ""}
                  for c in record.get("containers") or []}
    return {
        "Name": record["name"], "Id": record["id"], "Created": record.get("created") or ZERO_TIME,
        "Scope": "local", "Driver": record.get("driver", "bridge"), "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": bool(record.get("internal")), "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": {"com.docker.network.bridge.name": record["bridge"]} if record.get("bridge") else {},
        "Labels": record.get("labels") or {},
    }


#: the event attributes docker clients read, by their pouchsh names
_ATTRIBUTES = {"image": "image", "name": "name", "exit_code": "exitCode", "signal": "signal", "exec_id": "execID",
               "driver": "driver", "container": "container", "type": "type"}
#: what else a container event record's attributes hold besides its labels (containerd's payload)
_PAYLOAD_KEYS = {"namespace", "topic", "id", "container_id", "exit_status", "exited_at", "pid", "exec_id",
                 "runtime", "rootfs", "io", "checkpoint", "bundle", "labels", "spec", "snapshot_key", "snapshotter",
                 "timestamp", "exit_code"}
#: the event types docker knows (pouchsh also reports snapshots, content and namespaces)
DOCKER_EVENT_TYPES = ("container", "image", "volume", "network")


def event_shape(record: dict[str, Any]) -> dict[str, Any]:
    """A pouchsh event record as docker's event message."""
    stamp = record["time"]
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        moment = datetime.now(UTC)
    nanos = int(moment.timestamp() * 1e9)
    given = record["attributes"]
    if record["type"] == "container":
        # the container's labels (pouchsh's record carries them beside the payload's own fields)
        attributes = {k: v for k, v in given.items() if k not in _PAYLOAD_KEYS}
    else:
        attributes = {}
    attributes.update({docker: given[ours] for ours, docker in _ATTRIBUTES.items() if ours in given})
    if record.get("name"):
        attributes["name"] = record["name"]
    out: dict[str, Any] = {"Type": record["type"], "Action": record["action"],
                           "Actor": {"ID": record["id"], "Attributes": attributes},
                           "scope": "local", "time": nanos // 10**9, "timeNano": nanos}
    if record["type"] in ("container", "image"):
        out.update({"status": record["action"], "id": record["id"], "from": attributes.get("image", "")})
    return out
