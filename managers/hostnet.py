"""The host's side of pouchsh networks: routes, links, iptables rules and host-local's lease files.

What a CNI plugin leaves on the host that its DEL cannot always take back (a DEL run without the netns,
a network whose data root is gone), and what the network manager, the intent journal's reconcile and
``system prune`` reclaim with. Every program is run with an argument list (no shell).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

from ctrd.errors import PouchRuntimeError

__all__ = [
    "ALIAS_PREFIX", "SUBNET_LOCK", "host_routes", "lease_holder", "link_exists", "netns_id",
    "reclaim_orphan_bridges", "release_leases", "remove_isolation_rules", "remove_rules_of", "run_ip",
    "sha256_hex", "teardown_masquerade",
]

#: the start of a pouchsh bridge's alias: ``pouchsh network <name>@<data root>``
ALIAS_PREFIX = "pouchsh network "
#: host-wide, so two data roots choosing subnets at once do not pick the same one
SUBNET_LOCK = Path("/run/lock/pouchsh-subnets.lock")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_ip(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *cmd], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise PouchRuntimeError(f"ip {' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def host_routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """The host's IPv4 routes (destination, device), default route excluded."""
    proc = run_ip(["-j", "-4", "route", "show"], check=False)
    out = []
    with contextlib.suppress(ValueError):
        for r in json.loads(proc.stdout or "[]"):
            if r.get("dst") in (None, "default"):
                continue
            out.append((ipaddress.IPv4Network(r["dst"], strict=False), str(r.get("dev", ""))))
    return out


def remove_isolation_rules(bridge: str) -> None:
    """The firewall plugin adds per-bridge isolation rules that no DEL removes; the network's removal does."""
    for chain in ("CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"):
        proc = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and bridge in words and ({"-i", "-o"} & set(words)):
                subprocess.run(["iptables", "-w", "-D", *words[1:]], capture_output=True, check=False)


def teardown_masquerade(network: str, cni_id: str, address: str = "") -> None:
    """Remove the bridge plugin's per-container MASQUERADE chain. The plugin (1.1.1) finds the addresses to
    clean up by deleting the container's interface, so once the network namespace is gone (a container
    that exited by itself) its DEL leaves the chain behind; the chain's name is derived the same way here
    (libcni's FormatChainName: "CNI-" + sha512(network + id)[:24]).

    Given the ``address`` the ADD gave the container, the plugin's POSTROUTING rule is known (``-s
    ADDRESS/32`` with libcni's comment) and one iptables-restore removes it with its chain: with
    nf_tables each iptables change is a commit of its own (≈ 10 ms), and this runs for every container
    on a bridge that ends by itself. A restore is all or nothing, so where the rule is not as expected
    (another plugin version) nothing has changed and the listing below finds what there is."""
    chain = "CNI-" + hashlib.sha512((network + cni_id).encode()).hexdigest()[:24]
    if address and _PLAIN.fullmatch(network + cni_id) and _is_ipv4(address):
        comment = _save_quoted(f'name: "{network}" id: "{cni_id}"')
        rule = f"-D POSTROUTING -s {address}/32 -m comment --comment {comment} -j {chain}"
        if _restore("nat", [rule, f"-F {chain}", f"-X {chain}"]):
            return
    proc = subprocess.run(["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] == ["-A"] and words[-2:] == ["-j", chain]:
            subprocess.run(["iptables", "-w", "-t", "nat", "-D", *words[1:]], capture_output=True, check=False)
    for flag in ("-F", "-X"):
        subprocess.run(["iptables", "-w", "-t", "nat", flag, chain], capture_output=True, check=False)


#: what a network name and a CNI container id are made of (validated where they are made); anything else
#: (a line break would be a restore command of its own) takes the listing path
_PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _save_quoted(text: str) -> str:
    """``text`` as iptables-save quotes an argument (a comment): in double quotes, with ``\\`` and ``\"``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _restore(table: str, lines: list[str]) -> bool:
    """Apply ``lines`` (iptables-save syntax) to ``table`` in one transaction; False when any line was
    refused, and then none was applied."""
    text = "\n".join([f"*{table}", *lines, "COMMIT", ""])
    proc = subprocess.run(["iptables-restore", "-w", "--noflush"], input=text, capture_output=True, text=True, check=False)
    return proc.returncode == 0


_OWN_CHAIN = re.compile(r"CNI-(DN-)?[0-9a-f]{16,28}")


def remove_rules_of(cni_id: str) -> None:
    """Delete the iptables rules whose comment names ``cni_id`` (the bridge plugin's masquerading and
    portmap's DNAT entries carry it) and the per-container chains they jump to: what a DEL leaves when
    it is not given the port mappings or result of the ADD (a lease reclaimed without an intent)."""
    tag = f'id: "{cni_id}"'
    for table in ("nat", "filter"):
        proc = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
        chains = set()
        for line in proc.stdout.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and any(tag in w for w in words):
                subprocess.run(["iptables", "-w", "-t", table, "-D", *words[1:]], capture_output=True, check=False)
                if words[-2] == "-j" and _OWN_CHAIN.fullmatch(words[-1]):
                    chains.add(words[-1])
        for chain in chains:
            for flag in ("-F", "-X"):
                subprocess.run(["iptables", "-w", "-t", table, flag, chain], capture_output=True, check=False)


def reclaim_orphan_bridges(*, under: Path | None = None) -> list[str]:
    """Delete the bridges of pouchsh networks whose data root or network no longer exists (a removed
    test root, a deleted /var/lib/pouchsh), so their routes stop reserving subnets. A bridge that still
    has a port is left alone. Runs under SUBNET_LOCK, which every network creation holds, so a bridge
    being made right now (its root's state not yet written) is never taken for an orphan.

    ``under`` also reclaims the bridges of every data root below that folder, whatever their state says:
    a test run's roots outlive it (pytest keeps its temporary folders), their bridges must not."""
    removed = []
    for alias_file in Path("/sys/class/net").glob("*/ifalias"):
        try:
            alias = alias_file.read_text().strip()
        except OSError:
            continue
        if not alias.startswith(ALIAS_PREFIX):
            continue
        name, _, root = alias[len(ALIAS_PREFIX):].partition("@")
        dev = alias_file.parent.name
        try:
            owned = name in json.loads((Path(root) / "networks" / "state.json").read_text()).get("networks", {})
        except (OSError, ValueError):
            owned = False
        if under is not None and Path(root).is_relative_to(under):
            owned = False
        try:
            if owned or any((alias_file.parent / "brif").iterdir()):
                continue
        except OSError:
            continue  # deleted meanwhile (another root's prune or rm), or not a bridge
        run_ip(["link", "del", dev], check=False)
        remove_isolation_rules(dev)
        removed.append(dev)
    return removed


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def netns_id(path: str) -> str:
    """``dev:inode`` of a network namespace file, "" if there is none. A task's ``/proc/<pid>/ns/net``
    names another namespace (the host's, perhaps) once the pid is reused, and a CNI DEL given that path
    would delete its ``eth0``: a path is used again only while it still names the namespace attached."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}"


def release_leases(ipam_dir: Path, cni_id: str) -> None:
    """Remove host-local's lease files held by ``cni_id`` (their first line is the container id): what
    a DEL that could not run, or ran without the netns, leaves."""
    with contextlib.suppress(FileNotFoundError):
        for lease in ipam_dir.iterdir():
            if lease_holder(lease) == cni_id:
                lease.unlink(missing_ok=True)


def lease_holder(lease: Path) -> str | None:
    """The container id holding a host-local lease file; None for its other files (lock, last_reserved_ip)."""
    try:
        ipaddress.ip_address(lease.name)
        return lease.read_text().splitlines()[0].strip()
    except (ValueError, OSError, IndexError):
        return None
