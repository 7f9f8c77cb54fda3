"""Pods through containerd's CRI: a sandbox (the pause process holding the network namespace, its
network from CNI) and its containers, made the way kubelet makes them (ctrd.cri), so ``crictl`` and
Kubernetes tooling see the same pods.

Pods pouchsh makes carry the label ``pouchsh/pod`` (their name, unique among them) and are the ones
``pod`` commands act on by name; others (a kubelet's) are listed and inspected, and changed only with
``--force``. Their containers' logs go to ``<data root>/pods/<uid>/<container>.log``, where ``uid`` is
one pouchsh generated (32 hex digits, checked again when read back from the runtime), so a path
taken from a reply can never point a log elsewhere.

The sandbox image is the one the cri plugin is configured with (``sandbox_image``). When that is
``PAUSE_IMAGE`` and absent, pouchsh builds it from the host's static busybox (one layer: /bin/busybox,
entrypoint ``sleep``) and imports it into ``k8s.io``: nothing is fetched. Container images must be in
the ``k8s.io`` namespace, where the CRI looks for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PouchError

if TYPE_CHECKING:
    from ctrd.cri import Cri, CriContainer, PodSandbox
    from managers.console import Stdio

__all__ = ["K8S_NAMESPACE", "PAUSE_IMAGE", "PodManager"]

K8S_NAMESPACE = "k8s.io"
PAUSE_IMAGE = "pouchsh.local/pause:1"
POD_LABEL = "pouchsh/pod"
PORTS_ANNOTATION = "pouchsh/ports"
_UID = re.compile(r"[0-9a-f]{32}\Z")
#: kubelet's own cgroup parent is per QoS class; pouchsh's pods get one of their own, so they never mix
#: with (or land in the shared /k8s.io of) another CRI client's
CGROUP_PARENT = "/pouchsh-pods"
_BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")


class PodManager:
    def __init__(self, facade: Any) -> None:
        self.facade = facade

    @property
    def cri(self) -> Cri:
        found: Cri | None = self.__dict__.get("_cri")
        if found is None:
            from ctrd.cri import Cri

            found = self.__dict__["_cri"] = Cri(self.facade.client)
        return found

    # -- the verbs -------------------------------------------------------------------------------

    def run(
        self, name: str, image: str, command: list[str], *, containers: list[str] | None = None,
        env: list[str] | None = None, memory: int | None = None, cpus: float | None = None,
        host_network: bool = False, hostname: str | None = None, publish: list[str] | None = None,
    ) -> dict[str, Any]:
        """A pod ``name`` with a container ``name`` running ``image command``, and one more per
        ``containers`` entry (``IMAGE [ARGS...]``, split like a shell line; named ``NAME-2`` ...).
        ``publish``: ``-p`` specs (managers.ports) made host ports into the pod's network by CNI's
        portmap plugin. Undone if any step fails."""
        import shlex

        from managers.names import validate_name
        from managers.options import parse_key_values

        validate_name(name)
        if self._find(name, required=False) is not None:
            raise AlreadyExists(f"pod {name} already exists", hint=f"pod rm -f {name}")
        environment = tuple(parse_key_values(env or [], "--env").items())
        quota = 0
        if cpus is not None:
            if cpus <= 0:
                raise InvalidArgument("--cpus must be more than 0")
            quota = int(cpus * 100_000)
        if memory is not None and memory < 6 * 1024 * 1024:
            raise InvalidArgument("--memory must be at least 6MiB (runc's minimum)")
        extra = []
        for entry in containers or []:
            words = shlex.split(entry)
            if not words:
                raise InvalidArgument("--container needs an image (IMAGE [ARGS...])")
            extra.append((words[0], tuple(words[1:])))
        runs = [(image, tuple(command)), *extra]
        images = [ref for ref, _ in runs]
        from managers.ports import parse_ports

        wanted = parse_ports(publish or [])
        if wanted and host_network:
            raise InvalidArgument("-p with --host-network: the pod's ports are the host's already")
        self.ensure_sandbox_image()
        for ref in dict.fromkeys(images):
            if not self.cri.image_present(ref):
                raise NotFound(f"image {ref} is not in containerd's {K8S_NAMESPACE} namespace, where pods take images",
                               hint=f"pouchsh -n {K8S_NAMESPACE} load -i IMAGE.tar (or pull it there)")
        from ctrd.cri import ContainerSpec, PortMapping, SandboxSpec

        uid = uuid.uuid4().hex
        log_dir = self._log_dir(uid)
        from ctrd.private import private_dir

        # The host ports are claimed under the lock containers' -p is (managers.networks' cni_lock), held
        # until the sandbox that records them (its annotation) exists: otherwise two `pod run -p` racing
        # both pass the check, and portmap's DNAT of one silently shadows the other's.
        with self.facade.networks.cni_lock if wanted else contextlib.nullcontext():
            mappings = self._claim_ports(wanted)
            spec = SandboxSpec(
                name=name, namespace=self.facade.namespace, uid=uid, hostname=hostname or name,
                log_directory=str(log_dir), cgroup_parent=CGROUP_PARENT, labels={POD_LABEL: name},
                host_network=host_network, annotations={PORTS_ANNOTATION: json.dumps(mappings)} if mappings else {},
                ports=tuple(PortMapping(host_port=m["host_port"], container_port=m["container_port"],
                                        protocol=m["protocol"], host_ip=m["host_ip"]) for m in mappings),
            )
            private_dir(log_dir)
            try:
                pod_id = self.cri.run_sandbox(spec)
            except BaseException:
                with contextlib.suppress(PouchError):  # the sandbox's own failure is the one to report
                    self._remove_logs(uid)
                raise
        try:
            pod = self.cri.sandbox(pod_id)
            for i, (ref, args) in enumerate(runs):
                cname = name if i == 0 else f"{name}-{i + 1}"
                cid = self.cri.create_container(pod, ContainerSpec(
                    name=cname, image=ref, args=args, env=environment,
                    log_path=f"{cname}.log", memory=memory or 0, cpu_quota=quota, labels={POD_LABEL: name},
                ), str(log_dir))
                self.cri.start_container(cid)
        except BaseException:
            self._remove(pod_id, uid)
            raise
        return self.inspect(name)

    def list(self, *, all: bool = False) -> list[dict[str, Any]]:
        """pouchsh's pods (every CRI pod with ``all``), with their containers' states."""
        pods = self.cri.sandboxes()
        containers = self.cri.containers()
        rows = []
        for pod in pods:
            if not all and POD_LABEL not in pod.labels:
                continue
            mine = [c for c in containers if c.pod_id == pod.id]
            rows.append(_pod_row(pod, mine))
        return sorted(rows, key=lambda r: r["created"])

    def inspect(self, ref: str, *, force: bool = False) -> dict[str, Any]:
        pod = self.cri.sandbox(self._resolve(ref, force=True).id)
        # The CRI lists in no set order: the pod's own container first, the others as they were added.
        listed = sorted(self.cri.containers(pod.id), key=lambda c: (c.created_at, c.name))
        containers = [self.cri.container(c.id) for c in listed]
        row = _pod_row(pod, containers)
        row.update({
            "ports": _published(pod) if POD_LABEL in pod.labels else [],
            "ip": pod.ip, "uid": pod.uid, "labels": dict(pod.labels), "namespace": pod.namespace,
            "containers": [_container_row(c) for c in containers],
        })
        return row

    def stop(self, ref: str, *, timeout: int = 10, force: bool = False) -> dict[str, Any]:
        pod = self._resolve(ref, force=force)
        for c in self.cri.containers(pod.id):
            if c.state == "running":
                self.cri.stop_container(c.id, timeout)
        self.cri.stop_sandbox(pod.id)
        return self.inspect(pod.id, force=True)

    def remove(self, ref: str, *, force: bool = False, foreign: bool = False) -> str:
        """Remove a pod and its containers; a running one only with ``force``."""
        pod = self._resolve(ref, force=foreign)
        if pod.ready and not force:
            raise Conflict(f"pod {pod.name} is running", hint=f"pod stop {pod.name}, or pod rm -f {pod.name}")
        self._remove(pod.id, pod.uid if POD_LABEL in pod.labels else None)
        return pod.name

    def exec(self, ref: str, command: list[str], *, container: str | None = None, timeout: int = 60) -> dict[str, Any]:
        pod = self._resolve(ref, force=True)
        target = self._container(pod, container)
        result = self.cri.exec_sync(target.id, command, timeout)
        return {"exit_code": result.exit_code, "stdout": result.stdout.decode("utf-8", "replace"),
                "stderr": result.stderr.decode("utf-8", "replace")}

    def exec_attached(self, ref: str, command: list[str], *, stdio: Stdio, container: str | None = None,
                      interactive: bool = False, tty: bool = False) -> int:
        """``pod exec -i``/``-t``: the command attached to ``stdio`` (a terminal with ``tty``); its exit status.

        Through containerd's task API on the pod container (it is an ordinary container in ``k8s.io``),
        the path ``exec -it`` takes, not the CRI's Exec: that returns a URL of the cri plugin's streaming
        server (SPDY or websocket ``v4.channel.k8s.io``, both served by containerd 1.6), which needs that
        server reachable from here and a second terminal protocol kept beside the one ``exec`` has; both
        paths start the process in ~30 ms here (docs/SCALE.md). Either way the process runs in the
        container's namespaces: nothing is run or read in its root on the host."""
        pod = self._resolve(ref, force=True)
        target = self._container(pod, container)
        k8s = self.facade.for_namespace(K8S_NAMESPACE)
        return int(k8s.containers.exec(target.id, command, interactive=interactive, tty=tty, stdio=stdio))

    def logs(self, ref: str, *, container: str | None = None) -> str:
        """The container's output as the CRI wrote it (``TIME STREAM TAG MESSAGE`` lines), messages only."""
        pod = self._resolve(ref, force=True)
        if POD_LABEL not in pod.labels or not _UID.match(pod.uid):
            raise InvalidArgument(f"pod {pod.name} was not made by pouchsh: its logs are where its maker put them")
        target = self._container(pod, container)
        path = self._log_dir(pod.uid) / f"{target.name}.log"
        data = _read_log(path)
        out = []
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4:
                out.append(parts[3] + ("\n" if parts[2] == "F" else ""))
        return "".join(out)

    # -- helpers ---------------------------------------------------------------------------------

    def _claim_ports(self, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The parsed ``-p`` mappings with every host port chosen, none published by another of pouchsh's
        pods or by a container, nor bound by a host process; under ``cni_lock``. (portmap's DNAT rules
        would win over a host listener silently, and the CRI takes a host port of 0 as "no mapping", so
        free ones are chosen here.)"""
        from managers.ports import clashes, free_port, in_use_on_host

        if not wanted:
            return wanted
        published = [(f"pod {p.name}", m) for p in self.cri.sandboxes() if POD_LABEL in p.labels
                     for m in _published(p)]
        published += self.facade.networks.published()
        clashes(wanted, published)
        taken = {m["host_port"] for _, m in published}
        for m in wanted:
            if not m["host_port"]:
                m["host_port"] = free_port(m["protocol"], m["host_ip"], taken)
                taken.add(m["host_port"])
            elif in_use_on_host(m):
                raise Conflict(f"host port {m['host_port']}/{m['protocol']} is in use by a host process",
                               hint="choose another host port, or -p CONTAINER for a free one")
        return wanted

    def _log_dir(self, uid: str) -> Any:
        if not _UID.match(uid):
            raise InvalidArgument(f"pod uid {uid!r} is not one pouchsh made")
        return self.facade.root / "pods" / uid

    def _find(self, name: str, *, required: bool = True) -> PodSandbox | None:
        found = [p for p in self.cri.sandboxes({POD_LABEL: name}) if p.labels.get(POD_LABEL) == name]
        if not found:
            if required:
                raise NotFound(f"no pod named {name}", hint="pod ls")
            return None
        return max(found, key=lambda p: p.created_at)

    def _resolve(self, ref: str, *, force: bool) -> PodSandbox:
        """A pouchsh pod by name, or any CRI pod by id or unique id prefix; one pouchsh did not make
        only with ``force`` (it is Kubernetes' to change)."""
        pod = self._find(ref, required=False)
        if pod is None:
            matches = [p for p in self.cri.sandboxes() if p.id == ref or (len(ref) >= 4 and p.id.startswith(ref))]
            if not matches:
                raise NotFound(f"no pod named {ref}", hint="pod ls -a")
            if len(matches) > 1:
                raise Conflict(f"multiple pods match {ref}")
            pod = matches[0]
        if POD_LABEL not in pod.labels and not force:
            raise Conflict(f"pod {pod.name} ({pod.id[:12]}) was not made by pouchsh: it is Kubernetes' to change",
                           hint="add --force to act on it anyway")
        return pod

    def _container(self, pod: PodSandbox, name: str | None) -> CriContainer:
        containers = self.cri.containers(pod.id)
        wanted = name or (pod.labels.get(POD_LABEL) or (containers[0].name if containers else ""))
        for c in containers:
            if c.name == wanted:
                return c
        raise NotFound(f"pod {pod.name} has no container {wanted}", hint=", ".join(c.name for c in containers))

    def _remove(self, pod_id: str, uid: str | None) -> None:
        try:
            self.cri.stop_sandbox(pod_id)
        except NotFound:
            pass
        try:
            self.cri.remove_sandbox(pod_id)
        except NotFound:
            pass
        if uid is not None and _UID.match(uid):
            self._remove_logs(uid)

    def _remove_logs(self, uid: str) -> None:
        import shutil

        try:
            shutil.rmtree(self._log_dir(uid))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise PouchError(f"pod removed, but not its logs: {e}") from None

    def ensure_sandbox_image(self) -> None:
        """The sandbox image the cri plugin uses, built (when it is pouchsh's) if missing: before any
        RunPodSandbox, which would otherwise try to pull it from the network."""
        status = self.cri.status()
        ref = status["sandbox_image"] or PAUSE_IMAGE
        if self.cri.image_present(ref):
            return
        if ref != PAUSE_IMAGE:
            raise NotFound(f"the sandbox image {ref} (containerd's cri sandbox_image) is not in {K8S_NAMESPACE}",
                           hint=f'set sandbox_image = "{PAUSE_IMAGE}" and pouchsh builds it from the host\'s busybox')
        self._build_pause()

    def _build_pause(self) -> None:
        import tempfile

        from ctrd.imports import import_oci_layout
        from ctrd.private import private_dir
        from managers.pauseimage import write_pause_layout

        busybox = next((p for p in _BUSYBOX if os.path.isfile(p)), None)
        if busybox is None:
            raise NotFound("no static busybox on this host to build the pause image from",
                           hint="apt-get install busybox-static")
        private_dir(self.facade.run_root)
        with tempfile.TemporaryDirectory(dir=self.facade.run_root, prefix="pause-") as tmp:
            layout = write_pause_layout(tmp, busybox, PAUSE_IMAGE)
            import_oci_layout(self.facade.client.with_namespace(K8S_NAMESPACE), layout)


def _read_log(path: Any, limit: int = 64 << 20) -> bytes:
    """The log file containerd wrote in pouchsh's 0700 pod directory; not followed if a link, its
    last ``limit`` bytes at most."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            os.lseek(fd, size - limit, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _published(pod: PodSandbox) -> list[dict[str, Any]]:
    """The mappings pouchsh recorded on its pod (an annotation it wrote, read back from the runtime:
    kept only when well-formed)."""
    try:
        items = json.loads(pod.annotations.get(PORTS_ANNOTATION, "[]"))
    except ValueError:
        return []
    out = []
    for m in items if isinstance(items, list) else []:
        if (isinstance(m, dict) and isinstance(m.get("host_ip"), str) and m.get("protocol") in ("tcp", "udp", "sctp")
                and all(type(m.get(k)) is int and 0 < m[k] < 65536 for k in ("host_port", "container_port"))):
            out.append({k: m[k] for k in ("host_ip", "host_port", "container_port", "protocol")})
    return out


def _pod_row(pod: PodSandbox, containers: list[CriContainer]) -> dict[str, Any]:
    running = sum(c.state == "running" for c in containers)
    return {
        "name": pod.name, "id": pod.id, "status": "ready" if pod.ready else "notready",
        "containers": f"{running}/{len(containers)}", "created": _iso(pod.created_at),
        "pouchsh": POD_LABEL in pod.labels,
    }


def _container_row(c: CriContainer) -> dict[str, Any]:
    return {"name": c.name, "id": c.id, "image": c.image, "status": c.state, "exit_code": c.exit_code,
            "started": _iso(c.started_at) if c.started_at else ""}


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))
