"""``create`` and ``run -d`` on a pouchd context: their options as a ``POST /containers/create`` body."""

from __future__ import annotations

from typing import Any

from ctrd.errors import InvalidArgument
from managers.remote.served import SERVED_HINT

#: CreateOptions fields run -d sends to pouchd; any other one set away from its default is refused
_SENT = frozenset({
    "image", "args", "name", "env", "labels", "workdir", "user", "entrypoint", "hostname", "restart",
    "stop_signal", "stop_timeout", "read_only", "memory", "cpus", "pids_limit", "rm", "tty", "interactive",
    "network", "publish", "privileged", "cap_add", "cap_drop", "pull",
})



def create_body(opts: Any) -> tuple[dict[str, Any], str | None]:
    """``run -d``'s options as a ``POST /containers/create`` body; an option pouchd would not be sent
    is refused rather than dropped."""
    from dataclasses import fields

    from managers.ports import parse_ports

    default = type(opts)(image=opts.image)
    for f in fields(opts):
        if f.name not in _SENT and getattr(opts, f.name) != getattr(default, f.name):
            raise InvalidArgument(f"run on a pouchd context: --{f.name.replace('_', '-')} is not sent to pouchd yet",
                                  hint=SERVED_HINT)
    host: dict[str, Any] = {
        "NetworkMode": opts.network, "AutoRemove": opts.rm, "ReadonlyRootfs": opts.read_only,
        "Privileged": opts.privileged, "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
    }
    if opts.memory:
        host["Memory"] = int(opts.memory)
    if opts.cpus:
        host["NanoCpus"] = int(opts.cpus * 1e9)
    if opts.pids_limit:
        host["PidsLimit"] = int(opts.pids_limit)
    if opts.restart and opts.restart != "no":
        name, _, count = opts.restart.partition(":")
        host["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for m in parse_ports(opts.publish):
        key = f"{m['container_port']}/{m['protocol']}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": m["host_ip"], "HostPort": str(m["host_port"] or "")})
    if bindings:
        host["PortBindings"] = bindings
    body: dict[str, Any] = {
        "Image": opts.image, "Cmd": list(opts.args) or None, "Env": list(opts.env), "Labels": dict(opts.labels),
        "Tty": opts.tty, "OpenStdin": opts.interactive, "HostConfig": host,
    }
    for key, value in (("WorkingDir", opts.workdir), ("User", opts.user), ("Hostname", opts.hostname),
                       ("StopSignal", opts.stop_signal), ("StopTimeout", opts.stop_timeout)):
        if value:
            body[key] = value
    if opts.entrypoint is not None:
        body["Entrypoint"] = list(opts.entrypoint)
    if exposed:
        body["ExposedPorts"] = exposed
    return body, opts.name
