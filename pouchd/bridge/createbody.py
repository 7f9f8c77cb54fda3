"""``POST /containers/create``'s body (Config, HostConfig, NetworkingConfig) as the keyword arguments of
``managers.options.CreateOptions.parse``: the same checks ``run`` makes in the shell. Every field set to
something the managers cannot do is named in one 400, so a client never gets a container that silently
differs from what it asked for. Zero values (the docker CLI sends all ~60 HostConfig fields) are fine."""

from __future__ import annotations

from typing import Any

from ctrd.errors import InvalidArgument

__all__ = ["create_kwargs"]

#: HostConfig fields with their meaningless values (what clients send when the user set nothing)
_IGNORABLE: dict[str, tuple[Any, ...]] = {
    "MemorySwappiness": (None, -1),
    "LogConfig": (None, {}, {"Type": "", "Config": {}}, {"Type": "", "Config": None}, {"Type": "json-file", "Config": {}}),
    "CgroupnsMode": (None, "", "private", "host"),
    "Isolation": (None, "", "default"),
    "OomKillDisable": (None, False),
    "MaskedPaths": (None, []),
    "ReadonlyPaths": (None, []),
    "Links": (None, []),
    "ContainerIDFile": (None, ""),
    "Cgroup": (None, ""),
    "UTSMode": (None, ""),
    "UsernsMode": (None, ""),
    "VolumeDriver": (None, "", "local"),
}
_HANDLED_HOST = {
    "Binds", "PortBindings", "AutoRemove", "RestartPolicy", "NetworkMode", "Privileged", "CapAdd", "CapDrop",
    "Memory", "NanoCpus", "PidsLimit", "Ulimits", "ShmSize", "Init", "Runtime", "ReadonlyRootfs", "Dns",
    "ExtraHosts", "Tmpfs", "VolumesFrom", "Mounts", "LogConfig", "PublishAllPorts", "Annotations",
    "ConsoleSize", "Devices", "SecurityOpt", "Sysctls", "CpusetCpus", "CpuShares", "GroupAdd", "OomScoreAdj",
    "PidMode", "IpcMode", "MemorySwap", "MemoryReservation",
}
_HANDLED_CONFIG = {
    "Image", "Cmd", "Entrypoint", "Env", "Labels", "WorkingDir", "User", "Hostname", "Tty", "OpenStdin",
    "AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "StopSignal", "StopTimeout", "ExposedPorts",
    "Volumes", "Domainname", "NetworkDisabled", "OnBuild", "ArgsEscaped", "HostConfig", "NetworkingConfig",
    "Shell", "MacAddress", "Healthcheck",
}
#: Config fields whose non-zero values pouchsh cannot honour
_UNSUPPORTED_CONFIG = {"Domainname", "OnBuild", "Shell", "MacAddress"}
_HEALTH_FIELDS = {"Test", "Interval", "Timeout", "Retries", "StartPeriod", "StartInterval"}


def _zero(value: Any) -> bool:
    return value in (None, "", 0, False, [], {})


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{field}: expected a list of strings")
    return list(value)


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field}: expected a JSON object")
    return value


def _number(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{field}: expected an integer")
    return value


def create_kwargs(body: dict[str, Any], name: str | None) -> dict[str, Any]:
    """The arguments for ``CreateOptions.parse`` (``image`` and ``args`` among them)."""
    host = _dict(body.get("HostConfig"), "HostConfig")
    unsupported = [f"HostConfig.{k}" for k, v in host.items()
                   if k not in _HANDLED_HOST and not _zero(v) and v not in _IGNORABLE.get(k, ())]
    unsupported += [k for k, v in body.items() if k in _UNSUPPORTED_CONFIG and not _zero(v)]
    unsupported += [k for k, v in body.items() if k not in _HANDLED_CONFIG and not _zero(v)
                    and k not in ("Entrypoint", "StdinOnce")]
    health = _dict(body.get("Healthcheck"), "Healthcheck")
    unsupported += [f"Healthcheck.{k}" for k, v in health.items() if k not in _HEALTH_FIELDS and not _zero(v)]
    log = _dict(host.get("LogConfig"), "HostConfig.LogConfig")
    if log.get("Type") not in (None, "", "json-file", "local"):
        unsupported.append(f"HostConfig.LogConfig.Type={log.get('Type')}")
    restart = _dict(host.get("RestartPolicy"), "HostConfig.RestartPolicy")
    if restart.get("MaximumRetryCount") not in (None, 0):
        unsupported.append("HostConfig.RestartPolicy.MaximumRetryCount")
    if unsupported:
        raise InvalidArgument("pouchd does not support these create fields: " + ", ".join(sorted(set(unsupported))))

    image = body.get("Image")
    if not isinstance(image, str) or not image:
        raise InvalidArgument("Config.Image: an image is required")
    kwargs: dict[str, Any] = {"image": image, "args": _strings(body.get("Cmd"), "Cmd"), "name": name}
    entrypoint = body.get("Entrypoint")
    if entrypoint is not None:
        parts = _strings(entrypoint, "Entrypoint")
        # docker: an entrypoint list replaces the image's; its first element is the program, the rest
        # lead the arguments
        kwargs["entrypoint"] = parts[0] if parts else ""
        kwargs["args"] = parts[1:] + kwargs["args"]
    kwargs["env"] = _strings(body.get("Env"), "Env")
    labels = _dict(body.get("Labels"), "Labels")
    if not all(isinstance(v, str) for v in labels.values()):
        raise InvalidArgument("Labels: values must be strings")
    kwargs["label"] = [f"{k}={v}" for k, v in labels.items()]
    for field, key in (("WorkingDir", "workdir"), ("User", "user"), ("Hostname", "hostname")):
        value = body.get(field)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise InvalidArgument(f"{field}: expected a string")
            kwargs[key] = value
    kwargs["tty"] = bool(body.get("Tty"))
    kwargs["interactive"] = bool(body.get("OpenStdin"))
    if body.get("StopSignal"):
        kwargs["stop_signal"] = str(body["StopSignal"])
    if body.get("StopTimeout") is not None:
        kwargs["stop_timeout"] = _number(body["StopTimeout"], "StopTimeout")

    volumes = list(_dict(body.get("Volumes"), "Volumes"))
    binds = _strings(host.get("Binds"), "HostConfig.Binds")
    kwargs["volumes"] = binds + [v for v in volumes if not any(b.split(":")[1:2] == [v] for b in binds)]
    kwargs["mounts"] = [_mount(m) for m in host.get("Mounts") or []]
    tmpfs = _dict(host.get("Tmpfs"), "HostConfig.Tmpfs")
    kwargs["tmpfs"] = [f"{path}:{opts}" if opts else path for path, opts in tmpfs.items()]
    kwargs["volumes_from"] = _strings(host.get("VolumesFrom"), "HostConfig.VolumesFrom")
    kwargs["publish"] = _publish(_dict(host.get("PortBindings"), "HostConfig.PortBindings"))
    kwargs["publish_all"] = bool(host.get("PublishAllPorts"))
    kwargs["rm"] = bool(host.get("AutoRemove"))
    if restart.get("Name") not in (None, ""):
        kwargs["restart"] = str(restart["Name"])
    mode = host.get("NetworkMode") or "default"
    kwargs["network"] = "bridge" if mode == "default" else str(mode)
    endpoints = _dict(_dict(body.get("NetworkingConfig"), "NetworkingConfig").get("EndpointsConfig"),
                      "NetworkingConfig.EndpointsConfig")
    for endpoint in endpoints.values():
        ipam = _dict(_dict(endpoint, "EndpointsConfig").get("IPAMConfig"), "IPAMConfig")
        if ipam.get("IPv4Address"):
            kwargs["ip"] = str(ipam["IPv4Address"])
    kwargs["privileged"] = bool(host.get("Privileged"))
    kwargs["read_only"] = bool(host.get("ReadonlyRootfs"))
    kwargs["cap_add"] = _strings(host.get("CapAdd"), "HostConfig.CapAdd")
    kwargs["cap_drop"] = _strings(host.get("CapDrop"), "HostConfig.CapDrop")
    if host.get("Memory"):
        kwargs["memory"] = _number(host["Memory"], "HostConfig.Memory")
    if host.get("NanoCpus"):
        kwargs["cpus"] = _number(host["NanoCpus"], "HostConfig.NanoCpus") / 1e9
    if host.get("PidsLimit"):
        kwargs["pids_limit"] = _number(host["PidsLimit"], "HostConfig.PidsLimit")
    if host.get("ShmSize"):
        kwargs["shm_size"] = _number(host["ShmSize"], "HostConfig.ShmSize")
    kwargs["ulimit"] = [_ulimit(u) for u in host.get("Ulimits") or []]
    kwargs["init"] = bool(host.get("Init"))
    if host.get("Runtime"):
        kwargs["runtime"] = str(host["Runtime"])
    kwargs["dns"] = _strings(host.get("Dns"), "HostConfig.Dns")
    kwargs["add_host"] = _strings(host.get("ExtraHosts"), "HostConfig.ExtraHosts")
    kwargs["annotation"] = [f"{k}={v}" for k, v in _dict(host.get("Annotations"), "HostConfig.Annotations").items()]
    config = _dict(log.get("Config"), "HostConfig.LogConfig.Config")
    kwargs["log_opt"] = [f"{k}={v}" for k, v in config.items()]
    kwargs.update(_health(health))
    kwargs.update(_kernel(host))
    return kwargs


def _health(health: dict[str, Any]) -> dict[str, Any]:
    """``Config.Healthcheck`` as the ``--health-*`` options: a Test of ``["NONE"]`` disables the
    image's check, an empty one keeps the image's command with the other fields laid over it;
    durations are nanoseconds, 0 meaning the default (as in docker)."""
    out: dict[str, Any] = {}
    test = health.get("Test")
    if test == ["NONE"]:
        out["no_healthcheck"] = True
        return out
    if test:
        if not isinstance(test, list):  # a bare string is not docker's form: [CMD-SHELL, "..."] is
            raise InvalidArgument("Healthcheck.Test: expected a list of strings")
        out["health_cmd"] = _strings(test, "Healthcheck.Test")
    for field, key in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                       ("StartPeriod", "health_start_period"), ("StartInterval", "health_start_interval")):
        if health.get(field):
            value = _number(health[field], f"Healthcheck.{field}")
            if value < 0:
                raise InvalidArgument(f"Healthcheck.{field}: must not be negative")
            out[key] = value
    if health.get("Retries"):
        out["health_retries"] = _number(health["Retries"], "Healthcheck.Retries")
    return out


def _kernel(host: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig fields of the flags that reach into the host's kernel (managers.runflags checks
    their values): devices, security options, sysctls, namespaces, CPU and memory tunables."""
    out: dict[str, Any] = {
        "device": [_device(d) for d in host.get("Devices") or []],
        # the docker CLI sends a seccomp profile's content, never a path (seccomp_inline)
        "security_opt": _strings(host.get("SecurityOpt"), "HostConfig.SecurityOpt"),
        "seccomp_inline": True,
        "group_add": _strings(host.get("GroupAdd"), "HostConfig.GroupAdd"),
    }
    sysctls = _dict(host.get("Sysctls"), "HostConfig.Sysctls")
    if not all(isinstance(v, str) for v in sysctls.values()):
        raise InvalidArgument("HostConfig.Sysctls: values must be strings")
    out["sysctl"] = [f"{k}={v}" for k, v in sysctls.items()]
    for field, key in (("PidMode", "pid"), ("IpcMode", "ipc"), ("CpusetCpus", "cpuset_cpus")):
        value = host.get(field)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise InvalidArgument(f"HostConfig.{field}: expected a string")
            out[key] = value
    for field, key in (("CpuShares", "cpu_shares"), ("OomScoreAdj", "oom_score_adj"),
                       ("MemoryReservation", "memory_reservation")):
        if host.get(field):
            out[key] = _number(host[field], f"HostConfig.{field}")
    swap = host.get("MemorySwap")
    if swap:
        swap = _number(swap, "HostConfig.MemorySwap")
        # -1 without a memory limit is what clients send for "unlimited" anyway: nothing to set
        if swap != -1 or host.get("Memory"):
            out["memory_swap"] = swap
    size = host.get("ConsoleSize")
    if size not in (None, [], [0, 0]):
        if not isinstance(size, list) or len(size) != 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in size):
            raise InvalidArgument("HostConfig.ConsoleSize: expected [ROWS, COLUMNS]")
        out["console_size"] = size
    return out


def _device(d: Any) -> str:
    d = _dict(d, "HostConfig.Devices[]")
    host = d.get("PathOnHost")
    if not isinstance(host, str) or not host:
        raise InvalidArgument("HostConfig.Devices[]: PathOnHost is required")
    path = d.get("PathInContainer") or host
    perms = d.get("CgroupPermissions") or "rwm"
    if not isinstance(path, str) or not isinstance(perms, str) or ":" in host + path:
        raise InvalidArgument("HostConfig.Devices[]: PathInContainer and CgroupPermissions are strings, no ':'")
    return f"{host}:{path}:{perms}"


def _publish(bindings: dict[str, Any]) -> list[str]:
    out = []
    for port, hosts in bindings.items():
        if not isinstance(port, str):
            raise InvalidArgument("HostConfig.PortBindings: keys are PORT/PROTO")
        for binding in hosts or [{}]:
            binding = _dict(binding, f"HostConfig.PortBindings[{port}]")
            ip = str(binding.get("HostIp") or "")
            host_port = str(binding.get("HostPort") or "")
            if ip and ":" in ip:
                ip = f"[{ip}]"
            out.append(f"{ip}:{host_port}:{port}" if ip else (f"{host_port}:{port}" if host_port else port))
    return out


def _mount(m: Any) -> str:
    m = _dict(m, "HostConfig.Mounts[]")
    kind = str(m.get("Type") or "volume")
    parts = [f"type={kind}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    if not m.get("Target"):
        raise InvalidArgument("HostConfig.Mounts[]: Target is required")
    parts.append(f"target={m['Target']}")
    if m.get("ReadOnly"):
        parts.append("readonly")
    return ",".join(parts)


def _ulimit(u: Any) -> str:
    u = _dict(u, "HostConfig.Ulimits[]")
    return f"{u.get('Name')}={_number(u.get('Soft'), 'Ulimits.Soft')}:{_number(u.get('Hard'), 'Ulimits.Hard')}"
