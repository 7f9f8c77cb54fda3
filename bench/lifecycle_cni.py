"""Both network paths: N `run --rm busybox true` in one script vs `ctr run --rm` (`--cni` on a bridge), podman beside.

Contenders, interleaved round by round on the same containerd and busybox image (N containers each):

- ``pouchsh none``: one ``pouchsh FILE`` process running ``run --rm --network none busybox true`` N times;
- ``ctr none``: N ``ctr run --rm`` (a bare netns, no CNI);
- ``pouchsh bridge``: the same script on pouchsh's default network (``bridge``: bridge + host-local,
  portmap, firewall; managers.cni.bridge_conflist);
- ``ctr cni``: N ``ctr run --cni --rm`` with the same plugin chain, made by the same function, on a private
  bridge (``pbbench0``) and subnet (10.251.17.0/24). ctr 1.6 reads only /etc/cni/net.d and /opt/cni/bin:
  the bench writes its conflist there (named to sort first) and links Debian's plugins from /usr/lib/cni
  for the run, and puts the host back afterwards, on an error or Ctrl-C too. ``ctr --rm`` runs CNI DEL
  without the netns, which leaves the masquerade rules behind: they are removed after each round, untimed;
- ``podman none`` / ``podman bridge`` (where podman is installed): ``podman run --rm [--network none]
  busybox true`` with a private storage root and a private containers.conf (its default network
  ``podman``: bridge + host-local, portmap, firewall, tuning), the image loaded from the archive pouchsh
  saves of the bench's busybox (nothing is pulled).

Figures: per container, pouchsh / ctr and pouchsh / podman on each path; the CNI part of each tool (its
bridge run minus its none run, per round); and the plugin chain alone (ADD then DEL of the same
conflist in a bare netns, exec'd as pouchsh execs them), the floor under both tools' CNI part.
Needs root (it makes bridges and iptables rules like the tools it measures).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import Env, Figure
from bench.common import interleave, median, paired

IMAGE = "docker.io/library/busybox:latest"
NET_NAME = "pouchsh-bench-ctr"
BRIDGE = "pbbench0"
SUBNET = ipaddress.IPv4Network("10.251.17.0/24")
CONF = Path("/etc/cni/net.d/00-pouchsh-bench.conflist")
CTR_PLUGIN_DIR = Path("/opt/cni/bin")
CNI_STATE = Path("/var/lib/cni")
CTR_RESULTS = CNI_STATE / "results"
PODMAN_BRIDGE = "cni-podman0"
PODMAN_IPAM = CNI_STATE / "networks" / "podman"


def run(env: Env) -> list[Figure]:
    if os.geteuid() != 0:
        raise RuntimeError("needs root: both tools make bridges and iptables rules")
    if not env.pouchsh_available():
        raise RuntimeError("needs the pouchsh command line (pouchsh/__main__.py)")
    from managers.cni import CNI_PATH

    n = 3 if env.quick else 10
    ns = env.namespace("lifecycle-cni")
    env.compile_sources()
    folder = Path(tempfile.mkdtemp(dir=env.base))
    scripts = {}
    for path, flag in (("none", " --network none"), ("bridge", "")):
        scripts[path] = folder / f"{path}.pouch"
        scripts[path].write_text(f"for i in 1..{n} {{ run --rm{flag} busybox true }}\n")
    conflist = ctr_conflist(folder / "ctr-ipam")
    tags = iter(range(10**9))

    def per_container(action: Callable[[], object], after: Callable[[], object] | None = None) -> Callable[[], float]:
        def measure() -> float:
            start = time.perf_counter()
            action()
            took = (time.perf_counter() - start) / n
            if after is not None:
                after()
            return took

        return measure

    leaked: list[str] = []

    def ctr_runs(*flags: str) -> None:
        for _ in range(n):
            cid = f"ctr-{next(tags)}"
            if "--cni" in flags:
                leaked.append(f"{ns}-{cid}")
            env.ctr(ns, "run", *flags, "--rm", "--fifo-dir", str(env.fifo_dir), IMAGE, cid, "true")

    contenders = {
        "pouchsh none": per_container(lambda: env.pouchsh(ns, str(scripts["none"]))),
        "ctr none": per_container(lambda: ctr_runs()),
        "pouchsh bridge": per_container(lambda: env.pouchsh(ns, str(scripts["bridge"]))),
        "ctr cni": per_container(lambda: ctr_runs("--cni"), after=lambda: remove_ctr_leftovers(leaked)),
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(removed_unless_there(PODMAN_IPAM, CTR_RESULTS, PODMAN_IPAM.parent, CNI_STATE))
        stack.callback(_remove_pouchsh_network, env, ns)
        stack.enter_context(ctr_cni_host(conflist, CNI_PATH, leaked))
        podman = stack.enter_context(podman_reference(env, ns, folder)) if shutil.which("podman") else None
        if podman is not None:
            contenders["podman none"] = per_container(lambda: podman.runs(n, "--network", "none"))
            contenders["podman bridge"] = per_container(lambda: podman.runs(n))
        for measure in contenders.values():  # one untimed warm-up each: first shim, page cache, the bridges
            measure()
        samples = interleave(contenders, env.rounds)
        plugin_ms = plugin_chain_ms(conflist, CNI_PATH, folder, 3 if env.quick else 10)
        breakdown = cni_breakdown(env, ns, n)

    ms = {name: median(values) * 1000 for name, values in samples.items()}
    rounds = f"medians of {env.rounds} interleaved rounds of {n}; ratio = median of per-round ratios"
    figures = []
    for path, ctr_name, ctr_label in (("none", "ctr none", "ctr run --rm"), ("bridge", "ctr cni", "ctr run --cni --rm")):
        ours = f"pouchsh {path}"
        ratio, _ = paired(samples[ours], samples[ctr_name])
        figures.append(Figure(
            f"pouchsh script, {n}× run --rm{' --network none' if path == 'none' else ''} busybox true, per container",
            ms[ours], "ms", reference=ms[ctr_name], reference_name=ctr_label, target="≤ 0.85× ctr",
            met=ratio <= 0.85, paired_ratio=ratio, note=rounds,
        ))
        if podman is not None:
            ratio, _ = paired(samples[ours], samples[f"podman {path}"])
            figures.append(Figure(
                f"the same against podman ({path} path), per container", ms[ours], "ms",
                reference=ms[f"podman {path}"], reference_name=f"podman run --rm{' --network none' if path == 'none' else ''}",
                target="< 1× podman", met=ratio < 1.0, paired_ratio=ratio,
            ))
    cni_part = {
        tool: paired(samples[bridge], samples[none])[1] * 1000
        for tool, bridge, none in (("pouchsh", "pouchsh bridge", "pouchsh none"), ("ctr", "ctr cni", "ctr none"),
                                   ("podman", "podman bridge", "podman none"))
        if bridge in samples
    }
    figures.append(Figure(
        "the CNI part (bridge path − none path), pouchsh, per container", cni_part["pouchsh"], "ms",
        reference=cni_part["ctr"], reference_name="ctr's",
        note=f"medians of per-round differences; podman's: {cni_part.get('podman', float('nan')):.1f} ms\n"
        f"the plugin chain alone (ADD + DEL of bridge, portmap, firewall in a bare netns): {plugin_ms:.1f} ms\n"
        f"pouchsh in-process ({n} ContainerManager.run each way, one pass):\n{breakdown}",
    ))
    return figures


# -- ctr's CNI configuration --------------------------------------------------------------------------


def ctr_conflist(ipam_dir: Path) -> dict[str, Any]:
    """pouchsh's default network's chain (the function pouchsh builds it with) on the bench's bridge and
    subnet, its IPAM leases in ``ipam_dir``."""
    from managers.cni import bridge_conflist

    gateway = str(next(SUBNET.hosts()))
    return bridge_conflist({"name": NET_NAME, "bridge": BRIDGE, "subnet": str(SUBNET), "gateway": gateway}, ipam_dir)


@contextlib.contextmanager
def ctr_cni_host(conflist: dict[str, Any], plugin_dir: str, leaked: list[str]) -> Iterator[None]:
    """Where ``ctr --cni`` looks: the conflist in /etc/cni/net.d, the plugins in /opt/cni/bin (links to
    ``plugin_dir``); everything made here is undone on the way out, with what ctr's runs left (the
    containers ``leaked``, the bridge and the firewall plugin's isolation rules for it)."""
    if CONF.exists():
        raise RuntimeError(f"{CONF} exists: another bench run, or one killed before it cleaned up (remove it)")
    undo: list[Callable[[], None]] = []
    try:
        for d in (CONF.parent, CTR_PLUGIN_DIR):
            missing = [p for p in (d, *d.parents) if not p.exists()]
            for p in reversed(missing):
                p.mkdir()
                undo.append(p.rmdir)
        CONF.write_text(json.dumps(conflist, indent=1))
        undo.append(CONF.unlink)
        for plugin in conflist["plugins"]:
            link = CTR_PLUGIN_DIR / plugin["type"]
            if not link.exists():
                link.symlink_to(Path(plugin_dir) / plugin["type"])
                undo.append(link.unlink)
        yield
    finally:
        from managers.hostnet import remove_isolation_rules

        with contextlib.suppress(OSError, subprocess.SubprocessError):
            remove_ctr_leftovers(leaked)
            subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
            remove_isolation_rules(BRIDGE)
        for step in reversed(undo):
            with contextlib.suppress(OSError):
                step()


def remove_ctr_leftovers(cni_ids: list[str]) -> None:
    """What ``ctr run --cni --rm`` leaves of the containers ``cni_ids`` (``<namespace>-<id>``): the bridge
    plugin's masquerade rule and chain (its DEL had no netns to read the address from; removed as
    pouchsh removes its own in that case). Three rules a container here; libcni's DEL drops its cache."""
    from managers.hostnet import teardown_masquerade

    while cni_ids:
        cni_id = cni_ids.pop()
        teardown_masquerade(NET_NAME, cni_id)


@contextlib.contextmanager
def removed_unless_there(*paths: Path) -> Iterator[None]:
    """The state folders libcni (ctr's) and podman's host-local make: those of ``paths`` (deepest first)
    that are not there now are removed on the way out (the first with its content, the rest if empty)."""
    absent = [p for p in paths if not p.exists()]
    try:
        yield
    finally:
        for p in absent:
            if p == paths[0]:
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.rmdir()


def _remove_pouchsh_network(env: Env, ns: str) -> None:
    env.pouchsh(ns, "-c", "network rm bridge", check=False)


def plugin_chain_ms(conflist: dict[str, Any], plugin_dir: str, folder: Path, times: int) -> float:
    """ADD then DEL of ``conflist`` in a bare netns, exec'd by managers.cni: median ms per attachment."""
    from managers.cni import Attachment, Plugins

    plugins = Plugins(plugin_dir)
    took = []
    for i in range(times):
        netns = f"pbbench-{os.getpid()}-{i}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        try:
            att = Attachment(f"bench-{i}", f"/run/netns/{netns}", "eth0")
            start = time.perf_counter()
            result = plugins.add(conflist, att, {})
            plugins.delete(conflist, att, {}, result)
            took.append(time.perf_counter() - start)
        finally:
            subprocess.run(["ip", "netns", "del", netns], check=False)
    return median(took) * 1000


def cni_breakdown(env: Env, ns: str, n: int) -> str:
    """Where pouchsh's CNI part goes: ``n`` in-process runs on each path, with NetworkManager.attach and
    detach and every plugin exec timed (ms per container)."""
    from managers.cni import Plugins
    from managers.console import Stdio
    from managers.deferred import settle
    from managers.networks import NetworkManager
    from managers.options import CreateOptions

    facade = env.managers(ns)
    timings: dict[str, float] = {}

    def timed(key: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                name = key(*args)
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    def runs(network: str) -> float:
        start = time.perf_counter()
        for _ in range(n):
            opts = CreateOptions.parse("busybox", ["true"], rm=True, network=network)
            out = io.BytesIO()
            if facade.containers.run(opts, detach=False, stdio=Stdio(stdin=None, stdout=out, stderr=out)) != 0:
                raise RuntimeError(f"run --rm --network {network} busybox true failed: {out.getvalue()[-500:]!r}")
        return time.perf_counter() - start

    originals = (Plugins._exec, NetworkManager.attach, NetworkManager._detach_entry)
    Plugins._exec = timed(lambda _self, command, _conf, plugin, *_: f"exec {command} {plugin['type']}", Plugins._exec)  # type: ignore[method-assign]
    NetworkManager.attach = timed(  # type: ignore[method-assign]
        lambda *_: "NetworkManager.attach (its ADDs; in a thread while the task is made)", NetworkManager.attach)
    NetworkManager._detach_entry = timed(  # type: ignore[method-assign]
        lambda *_: "NetworkManager._detach_entry (its DELs; in a thread after the exit)", NetworkManager._detach_entry)
    try:
        runs("bridge")  # warm: the default network exists, the modules are imported
        timings.clear()
        start = time.perf_counter()
        runs("bridge")
        settle()  # the last run's DELs: timed with the bridge path, not the none path
        bridge = time.perf_counter() - start
        none = runs("none")
    finally:
        Plugins._exec, NetworkManager.attach, NetworkManager._detach_entry = originals  # type: ignore[method-assign]
    lines = [f"  bridge {bridge * 1000 / n:.1f} ms, none {none * 1000 / n:.1f} ms a container"]
    lines += [f"  {name}: {took * 1000 / n:.1f} ms" for name, took in sorted(timings.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


# -- podman -------------------------------------------------------------------------------------------


class Podman:
    """podman with its own storage and configuration under the bench's folder."""

    def __init__(self, folder: Path) -> None:
        conf = folder / "containers.conf"
        # The VM cannot raise RLIMIT_NOFILE to podman's default ulimits; no systemd here; the network
        # configuration is private (the in-memory default network ``podman``), so the host's is not read.
        conf.write_text(
            '[containers]\ndefault_ulimits = []\n'
            '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'[network]\nnetwork_config_dir = "{folder / "podman-net"}"\ncni_plugin_dirs = ["/usr/lib/cni"]\n'
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.argv = ["podman", "--root", str(folder / "podman-root"), "--runroot", str(folder / "podman-run")]

    def __call__(self, *args: str) -> None:
        proc = subprocess.run([*self.argv, *args], capture_output=True, env=self.env, stdin=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-1000:]}")

    def runs(self, n: int, *flags: str) -> None:
        for _ in range(n):
            self("run", "--rm", *flags, IMAGE, "true")


@contextlib.contextmanager
def podman_reference(env: Env, ns: str, folder: Path) -> Iterator[Podman]:
    """A private podman with busybox loaded from the archive pouchsh saves; its storage is reset and its
    default bridge deleted (if this run made it) on the way out."""
    had_bridge = Path("/sys/class/net", PODMAN_BRIDGE).exists()
    podman = Podman(folder)
    try:
        archive = folder / "busybox.tar"
        env.pouchsh(ns, "-c", f"save -o {archive} {IMAGE}")
        podman("load", "-q", "-i", str(archive))
        yield podman
    finally:
        with contextlib.suppress(RuntimeError):
            podman("system", "reset", "--force")
        if not had_bridge:
            subprocess.run(["ip", "link", "del", PODMAN_BRIDGE], capture_output=True, check=False)
