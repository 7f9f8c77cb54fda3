"""Networks: CNI bridge networks under the data root, attached to containers between task create and start.

State (``<root>/networks/state.json``, a ``Store``) holds the networks and, per container, what was
attached: the CNI ADD results (needed for DEL), addresses, published ports. ``<root>/networks/ipam`` is
host-local's lease directory. Every ADD and DEL runs under one lock (``<root>/networks/cni.lock``):
CNI plugins are not safe to run concurrently, and a port clash must be checked and claimed atomically.

The modes of ``--network``: a CNI network by name (``bridge``, the default one, is created on first use),
``host`` (the host's stack), ``none`` (loopback only) and ``container:NAME`` (join another container's).

A network record (``network inspect``)::

    name        the network's name
    id          64 hex digits
    driver      "bridge" (or "host" / "null" for the predefined host and none)
    subnet      IPv4 CIDR
    gateway     the bridge's address (empty for an internal network)
    ip_range    the sub-range containers get addresses from (empty: the whole subnet)
    internal    true: no gateway, no masquerading, no published ports
    bridge      the host bridge device
    mtu         the MTU (0: the plugin's default, 1500)
    labels      user labels (record)
    containers  table of {id, name, ip, mac} attached in the current namespace
    created     RFC 3339 UTC time of creation

``attach`` returns the container's networks record: network name → ``{ip, prefix_len, mac, gateway}``.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import ipaddress
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PouchError, PouchRuntimeError
from ctrd.owner import is_gone, this_process
from ctrd.private import private_dir
from managers import deferred, faults, netfiles, netns
from managers import ports as portmod
from managers.cni import CNI_VERSION, Attachment, Plugins, bridge_conflist, result_addresses
from managers.filters import id_matches, label_matches, matches, name_matches, parse_filters
from managers.hostnet import (
    ALIAS_PREFIX,
    SUBNET_LOCK,
    host_routes,
    lease_holder,
    link_exists,
    netns_id,
    reclaim_orphan_bridges,
    release_leases,
    remove_isolation_rules,
    remove_rules_of,
    run_ip,
    sha256_hex,
    teardown_masquerade,
)
from managers.intents import Intent, Journal, live_intents
from managers.labels import LABEL, validate_labels
from managers.mountspec import VOLUME_NAME_RE
from managers.objectevents import emit
from managers.store import FileLock, Store
from managers.transactions import before_connect, tag
from managers.volumes import now_rfc3339

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["DEFAULT_NETWORK", "NetworkManager", "NetworkPlan"]

DEFAULT_NETWORK = "bridge"
PREDEFINED = {"host": "host", "none": "null"}
MTU_OPTIONS = ("com.docker.network.driver.mtu", "mtu")
BRIDGE_OPTIONS = ("com.docker.network.bridge.name", "bridge")
#: ``network ls``/``network prune`` ``--filter`` keys
FILTERS = ("name", "id", "driver", "label", "type")
#: the candidate pool for automatic subnets: 10.4.0.0/24, 10.4.1.0/24, … (nerdctl's default first)
AUTO_POOL = ipaddress.IPv4Network("10.4.0.0/14")


_M = TypeVar("_M", bound=Callable[..., Any])


def _settled(method: _M) -> _M:
    """``deferred.settle`` before the method: before any lock it takes, as the work it waits for takes
    them too."""
    @functools.wraps(method)
    def settled(*args: Any, **kwargs: Any) -> Any:
        deferred.settle()
        return method(*args, **kwargs)

    return settled  # type: ignore[return-value]


@dataclass
class NetworkPlan:
    """What ``plan`` decided for a container, before anything exists.

    ``mode`` is "cni", "host", "none" or "container"; ``networks`` the CNI networks to attach (in order:
    eth0, eth1, …); ``join`` the container whose network namespace a "container" mode joins;
    ``spec_mounts`` the OCI bind mounts of its hosts, resolv.conf and hostname files; ``labels`` what the
    container manager stores on the container; ``aliases`` the names peers on a network also reach it by.
    """

    mode: str
    networks: list[str] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    ip: str | None = None
    hostname: str = ""
    dns: list[str] = field(default_factory=list)
    add_hosts: list[tuple[str, str]] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    join: str | None = None
    spec_mounts: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


class NetworkManager:
    def __init__(self, facade: Managers) -> None:
        self.facade = facade
        base = Path(facade.root) / "networks"
        self.base = base
        self.store = Store(base / "state.json")
        self.cni_lock = FileLock(base / "cni.lock")
        self.ipam_dir = base / "ipam"
        self.plugins = Plugins()
        self.journal = Journal(facade.root)

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    def _key(self, container_id: str) -> str:
        return f"{self.namespace}/{container_id}"

    def _files_dir(self, container_id: str) -> Path:
        return Path(self.facade.root) / "containers" / self.namespace / container_id

    # -- networks --------------------------------------------------------------------------------------

    def _bridge_name(self, name: str) -> str:
        if name == DEFAULT_NETWORK:
            if Path(self.facade.root) == Path("/var/lib/pouchsh"):
                return "pouch0"
            return "pouch-" + sha256_hex(str(self.facade.root))[:9]
        return "br-" + sha256_hex(f"{self.facade.root}\0{name}")[:12]

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        ip_range: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a bridge network; ``labels`` are the user's, held to the rule of every user label."""
        validate_labels(labels or {})
        if name in PREDEFINED:
            raise AlreadyExists(f"network {name} is predefined")
        if not VOLUME_NAME_RE.match(name or "") or len(name) > 64:
            raise InvalidArgument(
                f"invalid network name {name!r}: use 2-64 characters from [a-zA-Z0-9_.-], starting with a letter or digit"
            )
        if driver != "bridge":
            raise InvalidArgument(f"network driver {driver!r} is not supported (only: bridge)")
        options = dict(options or {})
        mtu = 0
        bridge = ""
        for key in list(options):
            if key in MTU_OPTIONS:
                value = options[key]
                if not value.isdigit() or not 68 <= int(value) <= 65535:
                    raise InvalidArgument(f"network option {key}: MTU {value!r} must be a number from 68 to 65535")
                mtu = int(value)
            elif key in BRIDGE_OPTIONS:
                bridge = options[key]
                if not bridge or len(bridge) > 15 or not all(c.isalnum() or c in "_.-" for c in bridge):
                    raise InvalidArgument(f"network option {key}: {bridge!r} is not a valid interface name (1-15 of [a-zA-Z0-9_.-])")
            else:
                raise InvalidArgument(
                    f"unknown network option {key!r} (supported: {', '.join(MTU_OPTIONS + BRIDGE_OPTIONS)})"
                )
        net: ipaddress.IPv4Network | None = None
        if subnet:
            net = _parse_subnet(subnet)
        elif gateway or ip_range:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        made: str | None = None
        try:
            # Every change to the store is made under cni_lock, so what is read here stays true until the
            # record is written below.
            with self.cni_lock, FileLock(SUBNET_LOCK):
                reclaim_orphan_bridges()
                networks = self.store.read().get("networks", {})
                if name in networks:
                    raise AlreadyExists(f"network {name} already exists")
                bridge = bridge or self._bridge_name(name)
                for other in networks.values():
                    if other["bridge"] == bridge:
                        raise Conflict(f"bridge {bridge} is already used by network {other['name']}")
                if link_exists(bridge):
                    if not Path("/sys/class/net", bridge, "bridge").exists():
                        raise Conflict(f"host interface {bridge} exists and is not a bridge")
                else:
                    made = bridge
                ours = {n["bridge"] for n in networks.values()} | {bridge}
                if net is None:
                    net = self._free_subnet(networks.values(), ours)
                else:
                    self._check_overlap(net, networks.values(), ours)
                # the default network is shared by everything: a transaction that happens to make it first does not own it
                mine = labels if name == DEFAULT_NETWORK else tag(self.facade, labels)
                record = _network_record(name, net, gateway, ip_range, internal, mine or {}, bridge, mtu)
                with self.journal.intent("network.create", name=name, id=record["id"], bridge=bridge,
                                         made=made is not None):
                    faults.point("network.create.bridge.before")
                    self._make_bridge(record)
                    faults.point("network.create.bridge.after")
                    with self.store.update() as doc:
                        doc.setdefault("networks", {})[name] = record
                    faults.point("network.create.recorded")
        except BaseException:
            if made and link_exists(made):
                run_ip(["link", "del", made], check=False)
            raise
        emit(self.facade, "network", "create", id=record["id"], name=name, type="bridge")
        return self._public(record, doc)

    def _check_overlap(self, net: ipaddress.IPv4Network, networks: Any, ours: set[str]) -> None:
        for other in networks:
            if net.overlaps(ipaddress.ip_network(other["subnet"])):
                raise Conflict(f"subnet {net} overlaps network {other['name']} ({other['subnet']})")
        for route, dev in host_routes():
            if dev not in ours and net.overlaps(route):
                raise Conflict(f"subnet {net} overlaps the host route {route} on {dev or 'the host'}")

    def _free_subnet(self, networks: Any, ours: set[str]) -> ipaddress.IPv4Network:
        taken = [ipaddress.IPv4Network(n["subnet"]) for n in networks]
        taken += [r for r, dev in host_routes() if dev not in ours]
        for candidate in AUTO_POOL.subnets(new_prefix=24):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
        raise Conflict(f"no free /24 subnet left in {AUTO_POOL}; give one with --subnet")

    def _make_bridge(self, record: dict[str, Any]) -> None:
        """The bridge exists (with its gateway address) from create on, so its route marks the subnet taken
        for every other data root choosing one; the bridge plugin adopts it on the first ADD. Its alias
        names the data root and network, so a bridge whose root is gone can be found and reclaimed."""
        dev = record["bridge"]
        if not link_exists(dev):
            mtu = ["mtu", str(record["mtu"])] if record["mtu"] else []
            run_ip(["link", "add", "name", dev, *mtu, "type", "bridge"])
        run_ip(["link", "set", "dev", dev, "alias", f"{ALIAS_PREFIX}{record['name']}@{self.facade.root}"])
        if record["gateway"]:
            prefix = ipaddress.ip_network(record["subnet"]).prefixlen
            have = run_ip(["-4", "addr", "show", "dev", dev]).stdout
            if f"{record['gateway']}/{prefix}" not in have:
                run_ip(["addr", "add", f"{record['gateway']}/{prefix}", "dev", dev])
        run_ip(["link", "set", dev, "up"])

    def ensure_default(self) -> dict[str, Any]:
        """The default ``bridge`` network, created on first use."""
        doc = self.store.read()
        if DEFAULT_NETWORK in doc.get("networks", {}):
            return doc["networks"][DEFAULT_NETWORK]
        try:
            self.create(DEFAULT_NETWORK)
        except AlreadyExists:
            pass  # another process made it first
        return self.store.read()["networks"][DEFAULT_NETWORK]

    def _get(self, ref: str, doc: dict[str, Any]) -> dict[str, Any]:
        networks = doc.get("networks", {})
        if ref in networks:
            return networks[ref]
        matches = [n for n in networks.values() if len(ref) >= 3 and n["id"].startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no such network: {ref}")

    def _public(self, record: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: record[k] for k in ("name", "id", "driver", "subnet", "gateway", "ip_range", "internal",
                                      "bridge", "mtu", "labels")}
        out["containers"] = [
            {"id": a["id"], "name": a["name"], "ip": itf["ip"], "mac": itf["mac"]}
            for a in doc.get("attachments", {}).values()
            if a["namespace"] == self.namespace
            for net, itf in a["interfaces"].items()
            if net == record["name"]
        ]
        out["created"] = record["created"]
        return out

    def _predefined(self, name: str) -> dict[str, Any]:
        return {"name": name, "id": sha256_hex(name), "driver": PREDEFINED[name], "subnet": "", "gateway": "",
                "ip_range": "", "internal": False, "bridge": "", "mtu": 0, "labels": {}, "containers": [],
                "created": ""}

    @_settled
    def inspect(self, ref: str) -> dict[str, Any]:
        if ref in PREDEFINED:
            return self._predefined(ref)
        doc = self.store.read()
        return self._public(self._get(ref, doc), doc)

    @_settled
    def list(self, *, filters: builtins.list[str] | None = None) -> builtins.list[dict[str, Any]]:
        wanted = parse_filters(filters, FILTERS, "networks")
        doc = self.store.read()
        records = [self._public(n, doc) for n in sorted(doc.get("networks", {}).values(), key=lambda n: n["name"])]
        records += [self._predefined(n) for n in PREDEFINED]
        return [r for r in records if _network_matches(r, wanted)]

    @_settled
    def remove(self, refs: builtins.list[str], *, force: bool = False) -> builtins.list[str]:
        """Remove networks no container is attached to (in any namespace); the bridge device and the
        IPAM leases go with them. Nothing is removed unless all can be."""
        with self.cni_lock:
            doc = self.store.read()
            known = [net for ref in refs for net in [self._find(ref, doc)] if net is not None]
            with self.journal.intent("network.rm", networks=[
                {"name": n["name"], "id": n["id"], "bridge": n["bridge"]} for n in known
            ]):
                faults.point("network.rm.before")
                targets = self._unregister(refs, force)
                faults.point("network.rm.unregistered")
                for net in targets:
                    self._destroy(net)
        for net in targets:
            emit(self.facade, "network", "destroy", id=net["id"], name=net["name"], type="bridge")
        return [n["name"] for n in targets]

    def _find(self, ref: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self._get(ref, doc)
        except NotFound:
            return None

    def _unregister(self, refs: builtins.list[str], force: bool) -> builtins.list[dict[str, Any]]:
        with self.store.update() as doc:
            targets = []
            for ref in refs:
                if ref in PREDEFINED:
                    raise InvalidArgument(f"{ref} is a predefined network and cannot be removed")
                try:
                    net = self._get(ref, doc)
                    if net not in targets:
                        targets.append(net)
                except NotFound:
                    if not force:
                        raise
            for net in targets:
                users = [f"{a['name']} ({a['namespace']})" for a in doc.get("attachments", {}).values()
                         if net["name"] in a["interfaces"] or net["name"] in a.get("adding", ())]
                if users:
                    raise Conflict(f"network {net['name']} has containers attached: {', '.join(sorted(users))}",
                                   hint="remove or disconnect them first")
            for net in targets:
                del doc["networks"][net["name"]]
        return targets

    def _destroy(self, net: dict[str, Any]) -> None:
        if link_exists(net["bridge"]):
            run_ip(["link", "del", net["bridge"]], check=False)
        remove_isolation_rules(net["bridge"])
        shutil.rmtree(self.ipam_dir / net["name"], ignore_errors=True)

    @_settled
    def prune(self, *, filters: builtins.list[str] | None = None) -> dict[str, Any]:
        """Remove every user network with no container attached (the default ``bridge`` stays)."""
        wanted = parse_filters(filters, FILTERS, "networks")
        doc = self.store.read()
        attached = {n for a in doc.get("attachments", {}).values() for n in a["interfaces"]}
        names = [
            r["name"] for r in self.list()
            if r["driver"] == "bridge" and r["name"] != DEFAULT_NETWORK and r["name"] not in attached
            and _network_matches(r, wanted)
        ]
        removed: builtins.list[str] = []
        for name in names:
            with contextlib.suppress(Conflict, NotFound):
                removed += self.remove([name])
        return {"networks_deleted": removed}

    # -- the container manager's side ------------------------------------------------------------------

    def plan(
        self,
        container_id: str,
        *,
        network: str,
        ports: builtins.list[str],
        publish_all: bool,
        exposed_ports: builtins.list[str],
        ip: str | None,
        hostname: str,
        dns: builtins.list[str],
        add_hosts: builtins.list[str],
    ) -> NetworkPlan:
        """Validate a container's network settings and write its hosts, resolv.conf and hostname files.
        No network attachment is made (``attach`` does that); ``detach`` removes the files again.

        The flags' text is parsed here, once: the plan and the labels hold the parsed shapes (port
        mappings as managers.ports records, --add-host as pairs), which ``plan_from_labels`` reads back."""
        mappings = portmod.parse_ports(ports)
        if publish_all:
            specified = {(m["container_port"], m["protocol"]) for m in mappings}
            mappings += [m for m in portmod.parse_exposed(exposed_ports)
                         if (m["container_port"], m["protocol"]) not in specified]
        return self._plan(container_id, network, mappings, ip, hostname, netfiles.parse_dns(dns),
                          netfiles.parse_add_hosts(add_hosts))

    def _plan(
        self, container_id: str, network: str, mappings: builtins.list[dict[str, Any]], ip: str | None,
        hostname: str, dns: builtins.list[str], add_hosts: builtins.list[tuple[str, str]],
    ) -> NetworkPlan:
        network = network or DEFAULT_NETWORK
        hostname = hostname or container_id[:12]
        netfiles.validate_hostname(hostname)
        plan = NetworkPlan(mode="cni", hostname=hostname, dns=dns, add_hosts=add_hosts)
        if network in PREDEFINED or network.startswith("container:"):
            if mappings:
                raise InvalidArgument(f"published ports need a bridge network, not --network {network}")
            if ip:
                raise InvalidArgument(f"--ip needs a bridge network, not --network {network}")
            plan.mode = "none" if network == "none" else "host" if network == "host" else "container"
            if plan.mode == "container":
                plan.join = self._resolve_container(network.partition(":")[2])
        else:
            if ip or mappings:
                deferred.settle()  # an address or port a --rm run of this process is giving back
            doc = self.store.read()
            net = self.ensure_default() if network == DEFAULT_NETWORK else self._get(network, doc)
            doc = self.store.read()
            plan.networks = [net["name"]]
            if ip:
                plan.ip = _check_ip(ip, net)
                for a in doc.get("attachments", {}).values():
                    if a["interfaces"].get(net["name"], {}).get("ip") == plan.ip:
                        raise Conflict(f"address {plan.ip} is in use by container {a['name']}")
            if mappings and net.get("internal"):
                raise InvalidArgument(f"network {net['name']} is internal: it cannot publish ports")
            portmod.clashes(mappings, self._published(doc, exclude=self._key(container_id)))
            taken = {p["host_port"] for _, p in self._published(doc)}
            for m in mappings:
                if m["host_port"] == 0:
                    m["host_port"] = portmod.free_port(m["protocol"], m["host_ip"], taken)
                    taken.add(m["host_port"])
                elif portmod.in_use_on_host(m):
                    raise Conflict(f"host port {m['host_port']}/{m['protocol']} is in use by a host process")
            plan.ports = mappings
        plan.labels = {
            LABEL.NETWORK: network,
            LABEL.NETWORKS: ",".join(plan.networks),
            LABEL.PORTS: json.dumps(plan.ports, separators=(",", ":")),
            LABEL.NETCONFIG: json.dumps(
                {"ip": plan.ip, "hostname": hostname, "dns": plan.dns, "add_hosts": plan.add_hosts},
                separators=(",", ":"),
            ),
        }
        plan.spec_mounts = self._write_files(container_id, plan)
        return plan

    def plan_from_labels(self, container_id: str, labels: dict[str, str]) -> NetworkPlan:
        """The plan a container was created with, rebuilt from its labels (to start it again)."""
        config = json.loads(labels.get(LABEL.NETCONFIG) or "{}")
        mappings = json.loads(labels.get(LABEL.PORTS) or "[]")
        mode = labels.get(LABEL.NETWORK) or DEFAULT_NETWORK
        plan = self._plan(
            container_id, mode, mappings, config.get("ip"), config.get("hostname") or "",
            list(config.get("dns") or []), [(n, ip) for n, ip in config.get("add_hosts") or []],
        )
        chosen = config.get("networks")
        if plan.mode == "cni" and isinstance(chosen, list):
            # connect/disconnect changed the list (it may have lost its first network, or all of them:
            # an empty label is no label to containerd, hence this copy): the --ip given at create
            # belongs to the network it was given for
            primary = plan.networks[0]
            plan.networks = [str(n) for n in chosen]
            if plan.networks[:1] != [primary]:
                plan.ip = None
            plan.labels[LABEL.NETCONFIG] = json.dumps({**json.loads(plan.labels[LABEL.NETCONFIG]), "networks": chosen},
                                                      separators=(",", ":"))
        else:
            plan.networks += [n for n in (labels.get(LABEL.NETWORKS) or "").split(",") if n and n not in plan.networks]
        plan.labels[LABEL.NETWORKS] = ",".join(plan.networks)
        plan.aliases = _aliases_label(labels)
        return plan

    @_settled
    def published(self) -> builtins.list[tuple[str, dict[str, Any]]]:
        """The host ports containers publish, with their owners ("container NAME"): what another claim
        (a pod's) checks under ``cni_lock``, which every change to them is made under."""
        return self._published(self.store.read())

    def _published(self, doc: dict[str, Any], exclude: str | None = None) -> builtins.list[tuple[str, dict[str, Any]]]:
        """Every recorded attachment's ports, a claim's too unless its process is gone (its ADD never
        ends; the next reconcile drops it)."""
        return [(f"container {a['name']}", p) for key, a in doc.get("attachments", {}).items()
                if key != exclude and not _dead_claim(a) for p in a["ports"]]

    def _resolve_container(self, ref: str) -> str:
        if not ref:
            raise InvalidArgument("--network container: needs a container name or id")
        return self.facade.containers.resolve(ref)

    def _write_files(self, container_id: str, plan: NetworkPlan) -> builtins.list[dict[str, Any]]:
        if plan.mode == "container":
            # Share the other container's files, so its /etc/hosts updates are seen here as well.
            return netfiles.spec_mounts(self._files_dir(plan.join or ""))
        # The container's state directory: the container manager keeps its log there, so it is private
        # whichever of the two makes it (the files bind-mounted from it stay readable inside the container).
        directory = private_dir(self._files_dir(container_id))
        if plan.mode == "host":
            try:
                hosts = Path("/etc/hosts").read_text()
            except OSError:
                hosts = ""
            hosts += "".join(f"{ip}\t{name}\n" for name, ip in plan.add_hosts)
        else:
            hosts = netfiles.hosts_text([], plan.add_hosts)
        netfiles.write_in_place(directory / "hosts", hosts)
        netfiles.write_in_place(directory / "resolv.conf", netfiles.resolv_text(plan.dns))
        netfiles.write_in_place(directory / "hostname", plan.hostname + "\n")
        return netfiles.spec_mounts(directory)

    def attach(self, container_id: str, netns_path: str, plan: NetworkPlan) -> dict[str, Any]:
        """CNI ADD of each planned network on ``netns_path`` (``/proc/<pid>/ns/net``). Idempotent: an
        earlier attachment of this container is deleted first. On failure everything added is deleted.

        The ADDs run outside ``cni_lock``, beside other containers' ADDs and DELs, as ctr's and nerdctl's
        do (the plugins lock what they share: host-local its range, iptables its tables). Under the lock
        the attachment is first recorded as a claim (``adding``: its ports, and its networks for ``network
        rm``), after the intents of its ADDs, and completed under the lock once they are done.
        Pending DELs of ``detach_later`` are not waited for: their records keep their addresses and ports
        claimed until they are done, and a plan that names an address or a port waited already."""
        if plan.mode != "cni":
            return {}
        key = self._key(container_id)
        entry: dict[str, Any] = {
            "namespace": self.namespace, "id": container_id, "name": self._container_name(container_id),
            "hostname": plan.hostname, "netns": netns_path, "netns_id": netns_id(netns_path),
            "ports": plan.ports, "add_hosts": plan.add_hosts, "interfaces": {},
            # a claim until the ADDs are done: of which networks, by which process (prune drops a dead one's)
            "adding": list(plan.networks), "claimant": this_process().label(),
        }
        # One intent per ADD, all cleared once the attachment is recorded.
        with contextlib.ExitStack() as intents:
            with self.cni_lock:
                self._detach_now(container_id, keep_files=True)
                doc = self.store.read()
                portmod.clashes(plan.ports, self._published(doc, exclude=key))
                adds = []
                for i, name in enumerate(plan.networks):
                    net = self._get(name, doc)
                    mappings = plan.ports if i == 0 else []
                    adds.append((net, f"eth{i}", plan.ip if i == 0 else None, mappings,
                                 *self._add_intent(entry, net, f"eth{i}", mappings, intents)))
                with self.store.update() as fresh:
                    fresh.setdefault("attachments", {})[key] = entry
            try:
                for net, ifname, ip, mappings, conflist, intent in adds:
                    self._add(entry, net, ifname, ip, mappings, conflist, intent)
                    entry["interfaces"][net["name"]]["aliases"] = plan.aliases.get(net["name"], [])
                faults.point("network.attach.before-record")
                with self.cni_lock, self.store.update() as fresh:
                    current = fresh.get("attachments", {}).get(key)
                    if current is None or not _same_attachment(current, entry):
                        raise Conflict(f"container {entry['name']} was detached while it was being attached")
                    current["interfaces"] = entry["interfaces"]
                    del current["adding"], current["claimant"]
                    entry = current  # with what changed meanwhile (a rename)
                faults.point("network.attach.recorded")
            except BaseException:
                self._delete_interfaces(entry)
                with self.cni_lock, self.store.update() as fresh:
                    attachments = fresh.get("attachments", {})
                    if _same_attachment(attachments.get(key), entry) and attachments[key].get("adding"):
                        del attachments[key]
                raise
        with self.cni_lock:
            self._refresh_hosts(set(entry["interfaces"]))
        return _networks_record(entry)

    def netns_path(self, container_id: str) -> Path:
        """Where a bridged container's network namespace is pinned before its task (managers.netns)."""
        return netns.path_for(self.facade.run_root, self.namespace, container_id)

    def attach_pinned(self, container_id: str, plan: NetworkPlan) -> Future[dict[str, Any]]:
        """Pin the container's network namespace, then ``attach`` it in a thread, so that the ADD runs
        while containerd and runc make the task that joins it; the future holds ``attach``'s answer. The
        caller waits for it before the task starts, and ``detach`` removes the namespace again."""
        path = self.netns_path(container_id)
        with self.journal.intent("network.pin", namespace=self.namespace, id=container_id):
            faults.point("network.pin.before")
            netns.pin(path)
            faults.point("network.pin.after")
        future: Future[dict[str, Any]] = Future()

        def add() -> None:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(self.attach(container_id, str(path), plan))
            except BaseException as err:  # the caller's thread raises it
                future.set_exception(err)

        threading.Thread(target=add, name="pouchsh-cni-add", daemon=True).start()
        return future

    def _container_name(self, container_id: str) -> str:
        try:
            return (self.facade.ctrd.containers.get(container_id).labels or {}).get(LABEL.NAME) or container_id[:12]
        except NotFound:
            return container_id[:12]

    def _add_intent(self, entry: dict[str, Any], net: dict[str, Any], ifname: str,
                    mappings: builtins.list[dict[str, Any]], intents: contextlib.ExitStack) -> tuple[dict[str, Any], Intent]:
        """The conflist of one interface's ADD, and its intent entered on ``intents`` (the caller clears it
        once the attachment is recorded)."""
        conflist = bridge_conflist(net, self.ipam_dir)
        intent: Intent = intents.enter_context(self.journal.intent(
            "network.attach", namespace=entry["namespace"], id=entry["id"], network=net["name"], ifname=ifname,
            netns=entry["netns"], netns_id=entry["netns_id"], ports=mappings, conflist=conflist,
        ))
        return conflist, intent

    def _add(self, entry: dict[str, Any], net: dict[str, Any], ifname: str, ip: str | None,
             mappings: builtins.list[dict[str, Any]], conflist: dict[str, Any], intent: Intent) -> None:
        """CNI ADD of one interface (its intent written by ``_add_intent``), recorded in ``entry``."""
        att = Attachment(f"{entry['namespace']}-{entry['id']}", entry["netns"], ifname,
                         (("IP", ip),) if ip else ())
        caps = {"portMappings": portmod.to_cni(mappings)} if mappings else {}
        faults.point("network.cni-add.before")
        result = self.plugins.add(conflist, att, caps, on_address=lambda r: intent.update(result=r))
        faults.point("network.cni-add.after")
        entry["interfaces"][net["name"]] = {
            **result_addresses(result, ifname), "ifname": ifname, "result": result, "ports": mappings,
            "conflist": conflist,
        }

    def _delete_interfaces(self, entry: dict[str, Any]) -> None:
        """CNI DEL of every interface of ``entry``; every one is tried, the first error is raised."""
        netns = _same_netns(entry)
        first: PouchError | None = None
        for name, itf in list(entry["interfaces"].items()):
            att = Attachment(f"{entry['namespace']}-{entry['id']}", netns, itf["ifname"])
            caps = {"portMappings": portmod.to_cni(itf.get("ports") or [])} if itf.get("ports") else {}
            try:
                self.plugins.delete(itf["conflist"], att, caps, itf["result"])
            except PouchError as e:
                first = first or e
            if not netns and itf["conflist"]["plugins"][0].get("ipMasq"):
                teardown_masquerade(name, att.container_id, itf.get("ip", ""))
        if first is not None:
            raise first

    @_settled
    def detach(self, container_id: str, *, keep_files: bool = False, removing: bool = False) -> None:
        """CNI DEL of every attachment of the container, and its hosts/resolv.conf/hostname files gone
        (kept with ``keep_files``, for a task that containerd's restart monitor recreates at once).
        Idempotent: detaching a container with nothing attached does nothing. A pinned namespace goes
        first: the caller's task has ended, and the DEL then runs as for a namespace that ended with its
        task (one iptables-restore, not the plugins' rule-by-rule removal inside the namespace).
        ``removing``: the container is being removed, so nothing attaches it again: its DELs run outside
        ``cni_lock``, beside other containers' ADDs and DELs (a bulk ``rm``)."""
        netns.unpin(self.netns_path(container_id))
        with contextlib.nullcontext() if removing else self.cni_lock:
            self._detach_now(container_id, keep_files=keep_files)

    def detach_later(self, container_id: str) -> None:
        """``detach`` in a thread, for a container whose task has ended and that is being removed (a
        foreground ``--rm`` run): its exit is reported and the next statement begins while the plugins'
        DELs run (managers.deferred: every network operation begins by waiting for them). Its intent is
        written before this returns, so a kill -9 of the process at any point leaves the DEL and the
        namespace to the next invocation's reconcile."""
        key = self._key(container_id)
        entry = self.store.read().get("attachments", {}).get(key)
        if entry is None:
            self.detach(container_id)  # nothing attached (the files, a pin): nothing slow either
            return
        intent = self.journal.begin("network.detach", key=key, networks=builtins.list(entry["interfaces"]),
                                    unpin=True)

        def run() -> None:
            try:
                netns.unpin(self.netns_path(container_id))
                self._detach_removed(container_id)
            except (PouchError, OSError):
                return  # its intent stays, and the next invocation's reconcile finishes the detach
            intent.clear()

        deferred.later(run, "pouchsh-cni-del")

    def _detach_now(self, container_id: str, *, keep_files: bool) -> None:
        """The DELs of the container's attachment under their intent, then its files (unless
        ``keep_files``): under ``cni_lock`` or outside it, as the caller chose (``_detach_entry`` drops
        the record under the lock either way)."""
        key = self._key(container_id)
        entry = self.store.read().get("attachments", {}).get(key)
        if entry is not None:
            with self.journal.intent("network.detach", key=key, networks=builtins.list(entry["interfaces"])):
                self._detach_entry(key, entry)
        if not keep_files:
            self._remove_files(container_id)

    def _detach_removed(self, container_id: str) -> None:
        """The DELs of a container being removed (``detach_later``'s thread, under the intent it wrote:
        ``_detach_now`` without one),
        outside ``cni_lock``, so that another container's ADD runs meanwhile: the plugins lock what they
        share (host-local its range, iptables its tables), and the record, which keeps the addresses and
        ports claimed, goes under the lock once the DELs are done."""
        key = self._key(container_id)
        entry = self.store.read().get("attachments", {}).get(key)
        if entry is not None:
            self._detach_entry(key, entry)
        self._remove_files(container_id)

    def _remove_files(self, container_id: str) -> None:
        directory = self._files_dir(container_id)
        for name in netfiles.FILES:
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
        with contextlib.suppress(OSError):
            directory.rmdir()

    def _detach_entry(self, key: str, entry: dict[str, Any]) -> None:
        """The DELs of ``entry``, then its record dropped (under ``cni_lock``: the caller's, or taken here)."""
        try:
            faults.point("network.cni-del.before")
            self._delete_interfaces(entry)
            faults.point("network.cni-del.after")
        finally:
            # The record goes even if a plugin complained: the bridge plugin releases the IPAM lease
            # before anything that can fail, and keeping the record would block the network forever.
            with self.cni_lock:
                with self.store.update() as doc:
                    attachments = doc.get("attachments", {})
                    # A DEL outside the lock may end after the container was attached anew (another
                    # namespace): that record stays.
                    if _same_attachment(attachments.get(key), entry):
                        attachments.pop(key)
                self._refresh_hosts(set(entry["interfaces"]))

    def _refresh_hosts(self, networks: set[str]) -> None:
        """Rewrite /etc/hosts of every container on ``networks``: itself, then its peers by name.

        Each file lists every peer, so a change rewrites a file for every member; what is computed for
        that is kept linear in them (members per network, each peer's line made once per set of shared
        networks), as a bulk run of 100 containers on one network rewrites 100 files per attach."""
        attachments = self.store.read().get("attachments", {})
        order = {key: i for i, key in enumerate(attachments)}
        members: dict[tuple[str, str], builtins.list[str]] = {}
        for key, b in attachments.items():
            for net in b["interfaces"]:
                members.setdefault((b["namespace"], net), []).append(key)
        lines: dict[tuple[str, frozenset[str]], str] = {}

        def peer_line(other: str, nets: frozenset[str]) -> str:
            line = lines.get((other, nets))
            if line is None:
                b = attachments[other]
                # one line per peer (an /etc/hosts name has one address): the first shared network's,
                # with the aliases it has on any network the two share
                shared = [itf for net, itf in b["interfaces"].items() if net in nets]
                aliases = [alias for itf in shared for alias in itf.get("aliases", [])]
                line = lines[(other, nets)] = netfiles.host_line(
                    shared[0]["ip"], [b["name"], b["hostname"], *dict.fromkeys(aliases)])
            return line

        root = os.path.join(self.facade.root, "containers")
        for key, a in attachments.items():
            if not networks & set(a["interfaces"]):
                continue
            nets = frozenset(a["interfaces"])
            groups = [members[(a["namespace"], net)] for net in a["interfaces"]]
            peers = groups[0] if len(groups) == 1 else sorted(set().union(*groups), key=order.__getitem__)
            own = [netfiles.host_line(itf["ip"], [a["hostname"], a["name"]]) for itf in a["interfaces"].values()][:1]
            text = netfiles.hosts_text(
                own + [peer_line(other, nets) for other in peers if other != key],
                [tuple(h) for h in a.get("add_hosts", [])],
            )
            with contextlib.suppress(FileNotFoundError):  # a container whose files are gone already
                netfiles.write_in_place(os.path.join(root, a["namespace"], a["id"], "hosts"), text)

    @_settled
    def rename(self, container_id: str, name: str, apply: Callable[[], None]) -> None:
        """A container is renamed by ``apply`` (its label): its peers' /etc/hosts follow. Under the lock
        an attach reads the name under, with an intent from before the label changes until the hosts
        files are rewritten, so a kill -9 between them is finished by the next invocation."""
        with self.cni_lock:
            key = self._key(container_id)
            if key not in self.store.read().get("attachments", {}):
                apply()  # not attached: the next attach reads the new name from the label
                return
            with self.journal.intent("network.rename", namespace=self.namespace, id=container_id):
                apply()
                faults.point("network.rename.labelled")
                self._sync_name(key, name)

    def _sync_name(self, key: str, name: str) -> None:
        with self.store.update() as doc:
            entry = doc.get("attachments", {}).get(key)
            if entry is None:
                return
            entry["name"] = name
            networks = set(entry["interfaces"])
        self._refresh_hosts(networks)

    @_settled
    def networks_of(self, container_id: str) -> dict[str, Any]:
        """The container's networks record (name → {ip, prefix_len, mac, gateway}); empty when detached."""
        entry = self.store.read().get("attachments", {}).get(self._key(container_id))
        return _networks_record(entry) if entry else {}

    @_settled
    def connect(self, network: str, container: str, *, ip: str | None = None,
                aliases: builtins.list[str] | None = None) -> dict[str, Any]:
        """Attach a running container to one more network (CNI ADD on its task's netns); a container
        that is not running gets the network in its plan, attached at its next start. ``aliases`` are
        more names its peers on that network reach it by (in their /etc/hosts)."""
        cid = self._resolve_container(container)
        net = self._get(network, self.store.read()) if network != DEFAULT_NETWORK else self.ensure_default()
        before_connect(self.facade, net["name"], cid)
        if ip:
            ip = _check_ip(ip, net)
        aliases = [netfiles.validate_hostname(a) for a in dict.fromkeys(aliases or [])]
        process = self._live_task(cid)
        if process is None:
            if ip:
                raise InvalidArgument(f"container {container} is not running: give --ip at create, or connect it "
                                      "once it runs")
            self._replan(cid, container, net["name"], aliases)
            return {}
        key = self._key(cid)
        with self.cni_lock:
            doc = self.store.read()
            entry = doc.get("attachments", {}).get(key)
            if entry is None:
                raise Conflict(f"container {container} has no bridge network to add to (host, none or container mode)")
            if entry.get("adding"):
                raise Conflict(f"container {container} is being attached to its networks", hint="try again")
            if net["name"] in entry["interfaces"]:
                raise AlreadyExists(f"container {container} is already connected to {net['name']}")
            used = {itf["ifname"] for itf in entry["interfaces"].values()}
            ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
            entry["netns"] = f"/proc/{process.pid}/ns/net"
            entry["netns_id"] = netns_id(entry["netns"])
            with contextlib.ExitStack() as intents:
                self._add(entry, net, ifname, ip, [], *self._add_intent(entry, net, ifname, [], intents))
                entry["interfaces"][net["name"]]["aliases"] = aliases
                try:
                    with self.store.update() as fresh:
                        fresh.setdefault("attachments", {})[key] = entry
                except BaseException:
                    self._delete_interfaces({**entry, "interfaces": {net["name"]: entry["interfaces"][net["name"]]}})
                    raise
            self._refresh_hosts(set(entry["interfaces"]))
        self._set_networks_label(cid, list(entry["interfaces"]), net["name"], aliases)
        emit(self.facade, "network", "connect", id=net["id"], name=net["name"], type="bridge", container=cid)
        return _networks_record(entry)

    @_settled
    def disconnect(self, network: str, container: str, *, force: bool = False) -> dict[str, Any]:
        """Detach a running container from one network; a container that is not running loses it from
        its plan."""
        cid = self._resolve_container(container)
        key = self._key(cid)
        if self._live_task(cid) is None:
            name = self._network_name(network)
            try:
                self._replan(cid, container, name, None)
            except NotFound:
                if not force:
                    raise
            return {}
        with self.cni_lock:
            entry = self.store.read().get("attachments", {}).get(key)
            name = network if entry is None or network in entry["interfaces"] else None
            if entry is None or name is None:
                if force:
                    return _networks_record(entry) if entry else {}
                raise NotFound(f"container {container} is not connected to network {network}")
            itf = entry["interfaces"].pop(name)
            with self.journal.intent("network.detach", key=key, networks=[name]):
                try:
                    self._delete_interfaces({**entry, "interfaces": {name: itf}})
                finally:
                    with self.store.update() as doc:
                        if entry["interfaces"]:
                            doc.setdefault("attachments", {})[key] = entry
                        else:
                            doc.get("attachments", {}).pop(key, None)
                    self._refresh_hosts(set(entry["interfaces"]) | {name})
                    if not entry["interfaces"]:
                        netfiles.write_in_place(self._files_dir(cid) / "hosts", netfiles.hosts_text([], []))
        self._set_networks_label(cid, list(entry["interfaces"]), name, None)
        left = self._find(name, self.store.read())
        emit(self.facade, "network", "disconnect", id=left["id"] if left else "", name=name, type="bridge",
             container=cid)
        return _networks_record(entry)

    def _live_task(self, container_id: str) -> Any | None:
        try:
            process = self.facade.ctrd.tasks.get(container_id)
        except NotFound:
            return None
        return process if process.status in ("running", "paused", "created") and process.pid else None

    def _network_name(self, ref: str) -> str:
        if ref == DEFAULT_NETWORK:
            return ref
        try:
            return str(self._get(ref, self.store.read())["name"])
        except NotFound:
            return ref  # a network removed since: the plan may still name it

    def _replan(self, container_id: str, ref: str, network: str, aliases: builtins.list[str] | None) -> None:
        """Add (``aliases`` a list) or drop (None) ``network`` in the plan of a container that is not
        running: the labels its next start reads (plan_from_labels)."""
        labels = dict(self.facade.ctrd.containers.get(container_id).labels or {})
        mode = labels.get(LABEL.NETWORK) or DEFAULT_NETWORK
        if LABEL.NETCONFIG not in labels or mode in PREDEFINED or mode.startswith("container:"):
            raise Conflict(f"container {ref} has no bridge network to change (host, none or container mode)")
        names = _planned_networks(labels)
        if aliases is not None and network in names:
            raise AlreadyExists(f"container {ref} is already connected to {network}")
        if aliases is None and network not in names:
            raise NotFound(f"container {ref} is not connected to network {network}")
        names = names + [network] if aliases is not None else [n for n in names if n != network]
        self._set_networks_label(container_id, names, network, aliases)

    def _set_networks_label(self, container_id: str, names: builtins.list[str], network: str,
                            aliases: builtins.list[str] | None) -> None:
        """Store the container's networks, and ``network``'s aliases (None: the network is gone)."""
        with contextlib.suppress(NotFound):
            labels = self.facade.ctrd.containers.get(container_id).labels or {}
            table = _aliases_label(labels)
            table.pop(network, None)
            if aliases:
                table[network] = aliases
            update = {LABEL.NETWORKS: ",".join(names), LABEL.NET_ALIASES: json.dumps(table, separators=(",", ":"))}
            if LABEL.NETCONFIG in labels:
                config = {**json.loads(labels[LABEL.NETCONFIG]), "networks": names}
                update[LABEL.NETCONFIG] = json.dumps(config, separators=(",", ":"))
            self.facade.ctrd.containers.update(container_id, labels=update)

    # -- crash safety ------------------------------------------------------------------------------------

    @_settled
    def reconcile_intent(self, record: dict[str, Any]) -> None:
        """Finish or undo the step of a killed pouchsh (managers.intents), under the lock the step held."""
        kind = record["kind"]
        with self.cni_lock:
            if kind == "network.attach":
                self._undo_attach(record)
            elif kind == "network.pin":
                self._undo_pin(record)
            elif kind == "network.detach":
                self._finish_detach(record)
            elif kind == "network.create":
                with FileLock(SUBNET_LOCK):
                    self._undo_create(record)
            elif kind == "network.rm":
                self._finish_remove(record)
            elif kind == "network.rename":
                # the container's label is the truth: whatever name it has now, the hosts files show
                try:
                    c = self.facade.ctrd.containers.get(record["id"])
                except NotFound:
                    return
                name = (c.labels or {}).get(LABEL.NAME) or record["id"][:12]
                self._sync_name(f"{record['namespace']}/{record['id']}", name)
            else:
                raise PouchRuntimeError(f"unknown network intent {kind!r}")

    def _undo_attach(self, record: dict[str, Any]) -> None:
        """An ADD whose attachment was never recorded: DEL it (lease, veth, iptables rules); the lease
        file goes by hand if the DEL cannot run."""
        key = f"{record['namespace']}/{record['id']}"
        entry = self.store.read().get("attachments", {}).get(key)
        if entry is not None and record["network"] in entry["interfaces"] and not entry.get("adding"):
            return  # recorded: the step was done (the attachment is released by detach as usual)
        if entry is not None and entry.get("adding") and _same_attachment(entry, record):
            with self.store.update() as doc:  # the claim of an attach that never completed
                doc.get("attachments", {}).pop(key, None)
        self._release(record["conflist"], f"{record['namespace']}-{record['id']}", record["ifname"],
                      netns=_same_netns(record), ports=record.get("ports") or [], result=record.get("result"))

    def _undo_pin(self, record: dict[str, Any]) -> None:
        """A namespace pinned by a process killed before its task existed: removed unless a task lives in
        it now (it is the container's then, and goes with its reaping)."""
        if not self._task_netns(f"{record['namespace']}-{record['id']}"):
            netns.unpin(netns.path_for(self.facade.run_root, record["namespace"], record["id"]))

    def _release(self, conflist: dict[str, Any], cni_id: str, ifname: str, *, netns: str = "",
                 ports: builtins.list[dict[str, Any]] | None = None, result: dict[str, Any] | None = None) -> None:
        caps = {"portMappings": portmod.to_cni(ports)} if ports else {}
        with contextlib.suppress(PouchError):
            self.plugins.delete(conflist, Attachment(cni_id, netns, ifname), caps, result)
        if not netns and conflist["plugins"][0].get("ipMasq"):
            teardown_masquerade(conflist["name"], cni_id)
        remove_rules_of(cni_id)
        release_leases(self.ipam_dir / conflist["name"], cni_id)

    def _finish_detach(self, record: dict[str, Any]) -> None:
        """A detach (``rm``, a reap, ``network disconnect``) killed between its DEL and its record: DEL
        what is still recorded of the named networks, and drop it."""
        key = record["key"]
        if record.get("unpin"):  # a detach_later's: the container's namespace goes too, once no task is in it
            namespace, _, cid = key.partition("/")
            if not self._task_netns(f"{namespace}-{cid}"):
                netns.unpin(netns.path_for(self.facade.run_root, namespace, cid))
        entry = self.store.read().get("attachments", {}).get(key)
        if entry is None:
            return
        doomed = {n: itf for n, itf in entry["interfaces"].items() if n in record["networks"]}
        with contextlib.suppress(PouchError):
            self._delete_interfaces({**entry, "interfaces": doomed})
        with self.store.update() as doc:
            current = doc.get("attachments", {}).get(key)
            if current is not None:
                for name in doomed:
                    current["interfaces"].pop(name, None)
                if not current["interfaces"]:
                    doc["attachments"].pop(key)
        self._refresh_hosts(set(entry["interfaces"]))

    def _undo_create(self, record: dict[str, Any]) -> None:
        """``network create`` killed before its record was written: delete the bridge it made."""
        networks = self.store.read().get("networks", {})
        if networks.get(record["name"], {}).get("id") == record["id"]:
            return
        bridge = record["bridge"]
        if record["made"] and link_exists(bridge) and not any(n["bridge"] == bridge for n in networks.values()):
            run_ip(["link", "del", bridge], check=False)
            remove_isolation_rules(bridge)

    def _finish_remove(self, record: dict[str, Any]) -> None:
        """``network rm`` killed after its records were dropped: delete the bridges and leases too."""
        networks = self.store.read().get("networks", {})
        for net in record["networks"]:
            if net["name"] in networks:
                continue  # not unregistered (the kill came first), or made again since: it stays
            if not any(n["bridge"] == net["bridge"] for n in networks.values()):
                self._destroy(net)
            else:
                shutil.rmtree(self.ipam_dir / net["name"], ignore_errors=True)

    @_settled
    def reclaim(self) -> dict[str, builtins.list[str]]:
        """``system prune``'s part, without intents: host-local leases held by no recorded attachment
        (released with a DEL, which takes the iptables rules with them), lease directories of networks
        that do not exist, and bridges of networks or data roots that are gone. Leases named by the
        intent of a running pouchsh are in flight and stay, and so are those of an attach whose claim a
        running pouchsh recorded (under cni_lock, held here, before its ADDs); a claim whose process is
        gone is dropped."""
        leases: builtins.list[str] = []
        with self.cni_lock:
            with self.store.update() as doc:
                attachments = doc.get("attachments", {})
                for key in [k for k, a in attachments.items() if _dead_claim(a)]:
                    del attachments[key]
            networks = doc.get("networks", {})
            attached = {f"{a['namespace']}-{a['id']}" for a in doc.get("attachments", {}).values()}
            attached |= {f"{r['namespace']}-{r['id']}" for r in live_intents(self.facade.root)
                         if r.get("kind") == "network.attach"}
            with contextlib.suppress(FileNotFoundError):
                for directory in sorted(self.ipam_dir.iterdir()):
                    net = networks.get(directory.name)
                    if net is None:
                        shutil.rmtree(directory, ignore_errors=True)
                        leases.append(directory.name)
                        continue
                    for lease in sorted(directory.iterdir()):
                        holder = lease_holder(lease)
                        if holder is None or holder in attached:
                            continue
                        ifname = _lease_ifname(lease)
                        self._release(bridge_conflist(net, self.ipam_dir), holder, ifname,
                                      netns=self._task_netns(holder), result=_lease_result(net, lease.name, ifname))
                        lease.unlink(missing_ok=True)
                        leases.append(f"{directory.name}/{lease.name}")
            with FileLock(SUBNET_LOCK):
                bridges = reclaim_orphan_bridges()
        return {"leases": leases, "bridges": bridges, "netns": self._reclaim_pins()}

    def _reclaim_pins(self) -> builtins.list[str]:
        """Namespaces pinned for containers of this namespace that no longer exist (removed behind
        pouchsh's back: a start pins only for a container whose record is there)."""
        directory = Path(self.facade.run_root) / netns.DIRECTORY / self.namespace
        try:
            pinned = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        existing = {c.id for c in self.facade.ctrd.containers.list()}
        gone = []
        for cid in pinned:
            if cid not in existing:
                with contextlib.suppress(InvalidArgument):  # not a file pouchsh makes: left alone
                    netns.unpin(self.netns_path(cid))
                    gone.append(cid)
        return gone

    def _task_netns(self, cni_id: str) -> str:
        """The netns of the live task of the container a CNI id (``<namespace>-<id>``) names, so that a
        DEL also removes the interface from it; "" when there is none."""
        namespace, cid = cni_id[:-65], cni_id[-64:]
        if cni_id[-65:-64] != "-" or not namespace:
            return ""
        try:
            task = self.facade.client.with_namespace(namespace).tasks.get(cid)
        except PouchError:
            return ""
        return f"/proc/{task.pid}/ns/net" if task.pid and task.status in ("created", "running", "paused") else ""

    @_settled
    def ipam_leases(self, network: str) -> builtins.list[str]:
        """The addresses host-local holds for ``network`` (a test and ``system df`` aid)."""
        directory = self.ipam_dir / network
        if not directory.is_dir():
            return []
        out = []
        for p in directory.iterdir():
            with contextlib.suppress(ValueError):
                out.append(str(ipaddress.ip_address(p.name)))
        return sorted(out)


def _dead_claim(attachment: dict[str, Any]) -> bool:
    """Whether ``attachment`` is the claim of an attach whose process is gone (its ADDs never end)."""
    return bool(attachment.get("adding")) and is_gone(attachment.get("claimant"))


def _same_attachment(current: dict[str, Any] | None, entry: dict[str, Any]) -> bool:
    """Whether the record ``current`` is still the attachment ``entry`` (the same network namespace: its
    path may change, as ``connect`` names the task's)."""
    return current is not None and current.get("netns_id") == entry.get("netns_id")


def _same_netns(attached: dict[str, Any]) -> str:
    """The recorded netns path if it still names the namespace that was attached (see ``netns_id``);
    "" otherwise, which makes the plugins skip the container side (gone with its namespace anyway)."""
    path = attached.get("netns") or ""
    if not path:
        return ""
    if "netns_id" not in attached:  # recorded before netns ids were kept
        return path if os.path.exists(path) else ""
    return path if attached["netns_id"] and netns_id(path) == attached["netns_id"] else ""


def _lease_ifname(lease: Path) -> str:
    """The interface of a host-local lease file (its second line; eth0 in files of older plugins)."""
    try:
        lines = lease.read_text().splitlines()
    except OSError:
        return "eth0"
    return lines[1].strip() if len(lines) > 1 and lines[1].strip() else "eth0"


def _lease_result(net: dict[str, Any], ip: str, ifname: str) -> dict[str, Any]:
    """The ADD result a lease stands for, as far as the DEL needs it: the firewall plugin removes its
    per-address rules by the result's addresses (a DEL without one leaves them)."""
    prefix = ipaddress.ip_network(net["subnet"]).prefixlen
    address = {"address": f"{ip}/{prefix}", "interface": 0, **({"gateway": net["gateway"]} if net["gateway"] else {})}
    return {"cniVersion": CNI_VERSION, "interfaces": [{"name": ifname, "sandbox": ""}], "ips": [address]}


def _parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"--subnet {text!r} is not a CIDR subnet (e.g. 10.10.0.0/24)") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument("--subnet: only IPv4 subnets are supported")
    if ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidArgument(f"--subnet {text}: host bits are set (did you mean {net}?)")
    if net.prefixlen > 30:
        raise InvalidArgument(f"--subnet {text}: too small for a gateway and a container (/30 at most)")
    return net


def _network_record(
    name: str,
    net: ipaddress.IPv4Network,
    gateway: str | None,
    ip_range: str | None,
    internal: bool,
    labels: dict[str, str],
    bridge: str,
    mtu: int,
) -> dict[str, Any]:
    hosts = (net.network_address + 1, net.broadcast_address - 1)
    if gateway:
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError:
            raise InvalidArgument(f"--gateway {gateway!r} is not an IP address") from None
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"--gateway {gateway} is not a host address of {net}")
    else:
        gw = hosts[0]
    record: dict[str, Any] = {
        "name": name, "id": secrets.token_hex(32), "driver": "bridge", "subnet": str(net),
        "gateway": "" if internal else str(gw), "ip_range": "", "internal": internal, "labels": labels,
        "bridge": bridge, "mtu": mtu, "created": now_rfc3339(),
    }
    if ip_range:
        try:
            rng = ipaddress.ip_network(ip_range, strict=True)
        except ValueError:
            raise InvalidArgument(f"--ip-range {ip_range!r} is not a CIDR range inside the subnet") from None
        if not rng.subnet_of(net):  # type: ignore[arg-type]
            raise InvalidArgument(f"--ip-range {ip_range} is not inside --subnet {net}")
        start = max(rng.network_address, hosts[0])
        end = min(rng.broadcast_address, hosts[1])
        record["ip_range"] = str(rng)
        record["ip_range_bounds"] = [str(start), str(end)]
    return record


def _check_ip(ip: str, net: dict[str, Any]) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidArgument(f"--ip {ip!r} is not an IP address") from None
    subnet = ipaddress.ip_network(net["subnet"])
    if addr not in subnet or addr in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"--ip {ip} is not a host address of network {net['name']} ({subnet})")
    if net.get("gateway") and str(addr) == net["gateway"]:
        raise Conflict(f"--ip {ip} is the gateway of network {net['name']}")
    return str(addr)


def _network_matches(record: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    def test(key: str, value: str) -> bool:
        if key == "name":
            return name_matches(record["name"], value)
        if key == "id":
            return id_matches(record["id"], value)
        if key == "driver":
            return record["driver"] == value
        if key == "label":
            return label_matches(record["labels"], value)
        builtin = record["name"] in PREDEFINED or record["name"] == DEFAULT_NETWORK  # type
        return value == ("builtin" if builtin else "custom")

    return matches(filters, test)


def _planned_networks(labels: dict[str, str]) -> builtins.list[str]:
    """The networks a container not running is to be attached to at its start."""
    try:
        chosen = json.loads(labels.get(LABEL.NETCONFIG) or "{}").get("networks")
    except (ValueError, AttributeError):
        chosen = None
    if isinstance(chosen, list):
        return [str(n) for n in chosen]
    return [n for n in (labels.get(LABEL.NETWORKS) or "").split(",") if n]


def _aliases_label(labels: dict[str, str]) -> dict[str, builtins.list[str]]:
    try:
        table = json.loads(labels.get(LABEL.NET_ALIASES) or "{}")
    except ValueError:
        return {}
    if not isinstance(table, dict):
        return {}
    # they are written into peers' /etc/hosts: only what connect validated gets through
    return {str(n): [a for a in v if isinstance(a, str) and netfiles.HOSTNAME_RE.match(a)]
            for n, v in table.items() if isinstance(v, list)}


def _networks_record(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: itf[k] for k in ("ip", "prefix_len", "mac", "gateway")}
        for name, itf in entry["interfaces"].items()
    }
