"""The CNI exec protocol (libcni's, without libcni): config lists in, plugin binaries run, results out.

A network's configuration is a *conflist*: a name, a CNI version and an ordered list of plugins. ADD runs
the plugins in order, each receiving the previous one's result as ``prevResult``; DEL runs them in reverse
with the cached ADD result. Capability arguments (port mappings) reach only plugins that declare the
capability, as ``runtimeConfig``. Plugins are found in ``CNI_PATH`` (Debian installs them in /usr/lib/cni).

CNI plugins are not safe to run concurrently on one network (nerdctl issues #2908, #3518); the caller
holds a lock around ``add``/``delete``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctrd.errors import PouchRuntimeError, Unavailable

__all__ = ["CNI_PATH", "Attachment", "CNIError", "Plugins", "bridge_conflist", "result_addresses"]

CNI_PATH = os.environ.get("POUCHSH_CNI_PATH") or "/usr/lib/cni"
CNI_VERSION = "1.0.0"
PLUGIN_TIMEOUT = 60.0


class CNIError(PouchRuntimeError):
    """A plugin failed; the message carries the plugin's own error text."""


@dataclass(frozen=True)
class Attachment:
    """Where one interface goes: the container's CNI id (``<namespace>-<id>``), netns and interface."""

    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...] = ()


def bridge_conflist(network: dict[str, Any], ipam_dir: Path) -> dict[str, Any]:
    """The conflist of a pouchsh bridge network record (bridge + host-local, portmap, firewall).

    An internal network has no gateway address on the host, no masquerading, no default route and no
    port publishing, like nerdctl's ``--internal``.
    """
    internal = bool(network.get("internal"))
    ipam_range: dict[str, Any] = {"subnet": network["subnet"]}
    if network.get("gateway") and not internal:
        ipam_range["gateway"] = network["gateway"]
    if network.get("ip_range"):
        start, end = network["ip_range_bounds"]
        ipam_range["rangeStart"], ipam_range["rangeEnd"] = start, end
    ipam: dict[str, Any] = {"type": "host-local", "dataDir": str(ipam_dir), "ranges": [[ipam_range]]}
    if not internal:
        ipam["routes"] = [{"dst": "0.0.0.0/0"}]
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": network["bridge"],
        "isGateway": not internal,
        "ipMasq": not internal,
        "hairpinMode": True,
        "ipam": ipam,
    }
    if network.get("mtu"):
        bridge["mtu"] = int(network["mtu"])
    plugins: list[dict[str, Any]] = [bridge]
    if not internal:
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
    plugins.append({"type": "firewall", "ingressPolicy": "same-bridge"})
    return {"cniVersion": CNI_VERSION, "name": network["name"], "plugins": plugins}


class Plugins:
    """Runs the plugins of a conflist from ``path``."""

    def __init__(self, path: str = CNI_PATH) -> None:
        self.path = path

    def check(self, conflist: dict[str, Any]) -> None:
        """Every plugin binary exists (nerdctl checks this too, before touching anything)."""
        for plugin in conflist["plugins"]:
            binary = Path(self.path) / plugin["type"]
            if not os.access(binary, os.X_OK):
                raise Unavailable(
                    f"CNI plugin {plugin['type']!r} not found in {self.path}",
                    hint="install Debian's containernetworking-plugins (apt-get install containernetworking-plugins)",
                )

    def add(
        self,
        conflist: dict[str, Any],
        att: Attachment,
        capabilities: dict[str, Any],
        on_address: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """CNI ADD of every plugin in order; returns the final result. On a failure the plugins that
        already ran are deleted again (best effort) before the error is raised.

        ``on_address`` gets the first plugin's result (the interface and its address, which the later
        plugins only pass on) as soon as it exists: the caller journals it, so that a DEL after a crash
        can give the firewall and portmap plugins the ``prevResult`` they clean up by."""
        self.check(conflist)
        result: dict[str, Any] | None = None
        done: list[dict[str, Any]] = []
        try:
            for plugin in conflist["plugins"]:
                result = self._exec("ADD", conflist, plugin, att, capabilities, result)
                done.append(plugin)
                if on_address is not None and len(done) == 1:
                    on_address(result)
        except BaseException:
            for plugin in reversed(done):
                try:
                    self._exec("DEL", conflist, plugin, att, capabilities, result)
                except PouchRuntimeError:
                    pass
            raise
        return result or {}

    def delete(
        self,
        conflist: dict[str, Any],
        att: Attachment,
        capabilities: dict[str, Any],
        prev_result: dict[str, Any] | None,
    ) -> None:
        """CNI DEL of every plugin in reverse order. Every plugin runs even if one fails, so the IPAM
        lease (released by the bridge plugin) is never kept because another plugin complained; the first
        error is raised at the end."""
        self.check(conflist)
        first: PouchRuntimeError | None = None
        for plugin in reversed(conflist["plugins"]):
            try:
                self._exec("DEL", conflist, plugin, att, capabilities, prev_result)
            except PouchRuntimeError as e:
                first = first or e
        if first is not None:
            raise first

    def _exec(
        self,
        command: str,
        conflist: dict[str, Any],
        plugin: dict[str, Any],
        att: Attachment,
        capabilities: dict[str, Any],
        prev_result: dict[str, Any] | None,
    ) -> dict[str, Any]:
        config = dict(plugin)
        config["name"] = conflist["name"]
        config["cniVersion"] = conflist["cniVersion"]
        wanted = {k: v for k, v in capabilities.items() if plugin.get("capabilities", {}).get(k)}
        if wanted:
            config["runtimeConfig"] = wanted
        if prev_result is not None:
            config["prevResult"] = prev_result
        cni_args = ";".join(["IgnoreUnknown=1", *(f"{k}={v}" for k, v in att.args)])
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": att.container_id,
            "CNI_NETNS": att.netns,
            "CNI_IFNAME": att.ifname,
            "CNI_ARGS": cni_args,
            "CNI_PATH": self.path,
        }
        try:
            proc = subprocess.run(
                [str(Path(self.path) / plugin["type"])],
                input=json.dumps(config).encode(),
                env=env,
                capture_output=True,
                timeout=PLUGIN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise CNIError(f"CNI {command} {plugin['type']} on {conflist['name']}: no answer in {PLUGIN_TIMEOUT:g}s") from e
        if proc.returncode != 0:
            raise CNIError(f"CNI {command} {plugin['type']} on {conflist['name']}: {_plugin_error(proc)}")
        if command == "DEL" or not proc.stdout.strip():
            return prev_result or {}
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            raise CNIError(f"CNI {command} {plugin['type']}: unreadable result {proc.stdout[:200]!r}") from e


def _plugin_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    """The ``msg``/``details`` of a CNI error object on stdout, else stderr."""
    try:
        err = json.loads(proc.stdout)
        text = err.get("msg", "") + (f": {err['details']}" if err.get("details") else "")
        if text:
            return text
    except ValueError:
        pass
    return (proc.stderr or proc.stdout).decode(errors="replace").strip() or f"exit status {proc.returncode}"


def result_addresses(result: dict[str, Any], ifname: str) -> dict[str, str]:
    """``{ip, prefix_len, mac, gateway}`` of the container interface ``ifname`` in an ADD result."""
    interfaces = result.get("interfaces") or []
    index = next((i for i, itf in enumerate(interfaces) if itf.get("name") == ifname and itf.get("sandbox")), None)
    mac = interfaces[index]["mac"] if index is not None else ""
    for ip in result.get("ips") or []:
        if index is None or ip.get("interface") == index:
            address, _, prefix = ip["address"].partition("/")
            return {"ip": address, "prefix_len": prefix, "mac": mac, "gateway": ip.get("gateway", "")}
    raise CNIError(f"CNI result has no address for {ifname}")
