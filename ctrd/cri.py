"""Kubernetes' view of containerd: the CRI (runtime.v1) that containerd's cri plugin serves on its socket.

``Cri(client)`` wraps the RuntimeService and ImageService stubs (ctrd/api/services/cri/v1, the subset pouchsh
uses) and returns frozen dataclasses. The plugin is off in pouchsh's embedded containerd; a containerd
without it answers UNIMPLEMENTED, which ``NotEnabled`` reports with what to change. Everything a reply
carries (names, labels, the verbose ``info`` JSON, exec output) came from a runtime that runs hostile
workloads: callers treat it as data, and sizes are bounded here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument, PouchError, Unavailable

if TYPE_CHECKING:
    from ctrd.client import Client

__all__ = ["Cri", "CriContainer", "ExecResult", "NotEnabled", "PodSandbox", "PortMapping", "SandboxSpec", "ContainerSpec"]

#: the most a verbose ``info`` value may hold before it is dropped rather than parsed (a runtime spec
#: is a few KiB; a reply bigger than this is not one we asked for)
_MAX_INFO = 1 << 20


class NotEnabled(Unavailable):
    """containerd answers, but its cri plugin is disabled (pouchsh's embedded containerd disables it)."""


@dataclass(frozen=True)
class PodSandbox:
    id: str
    name: str
    namespace: str
    uid: str
    ready: bool
    created_at: int  # ns since the epoch
    ip: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pid: int | None = None


@dataclass(frozen=True)
class CriContainer:
    id: str
    pod_id: str
    name: str
    image: str
    state: str  # created running exited unknown
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    log_path: str = ""
    reason: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    namespace: str
    uid: str
    hostname: str
    log_directory: str
    cgroup_parent: str
    labels: Mapping[str, str] = field(default_factory=dict)
    dns_servers: tuple[str, ...] = ()
    dns_searches: tuple[str, ...] = ()
    host_network: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: host ports into the pod's network: containerd hands them to CNI's portmap plugin (its
    #: ``portMappings`` capability), which needs to be in the plugin's CNI conflist
    ports: tuple[PortMapping, ...] = ()


@dataclass(frozen=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str = "tcp"  # tcp udp sctp
    host_ip: str = ""  # every address


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    log_path: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    memory: int = 0  # bytes, 0: none
    cpu_quota: int = 0  # µs per 100 ms period, 0: none
    #: own pid namespace (kubelet's default): lxcfs and `ps` inside see the container, not the pause process
    own_pid_namespace: bool = True


_STATES = {0: "created", 1: "running", 2: "exited", 3: "unknown"}
_PROTOCOLS = {"tcp": 0, "udp": 1, "sctp": 2}


def _pb() -> Any:
    from ctrd.api.services.cri.v1 import api_pb2

    return api_pb2


class Cri:
    """The CRI services on one containerd socket."""

    def __init__(self, client: Client) -> None:
        from ctrd.api.services.cri.v1 import api_pb2_grpc

        self.client = client
        self.runtime = client.stub(api_pb2_grpc.RuntimeServiceStub)
        self.images = client.stub(api_pb2_grpc.ImageServiceStub)

    def _call(self, method: Any, request: Any, what: str, timeout: float | None = None) -> Any:
        try:
            return self.client.call(method, request, what, timeout=timeout)
        except PouchError as e:
            if "unknown service runtime.v1" in e.message or "Unimplemented" in e.message:
                raise NotEnabled(
                    f"{what}: containerd at {self.client.address} does not serve the CRI (its cri plugin is disabled)",
                    hint="enable io.containerd.grpc.v1.cri in its config (docs/SCALE.md, Pods)",
                ) from None
            raise

    def status(self) -> dict[str, Any]:
        """The runtime's conditions and its cri config (``sandboxImage`` ...), as the plugin reports them."""
        reply = self._call(self.runtime.Status, _pb().StatusRequest(verbose=True), "cri status")
        config = _json(reply.info.get("config", ""))
        return {
            "conditions": {c.type: c.status for c in reply.status.conditions},
            "sandbox_image": str(config.get("sandboxImage", "")) if isinstance(config, dict) else "",
        }

    def image_present(self, ref: str) -> bool:
        reply = self._call(self.images.ImageStatus, _pb().ImageStatusRequest(image=_pb().ImageSpec(image=ref)),
                           f"cri image status {ref}")
        return bool(reply.image.id)

    def run_sandbox(self, spec: SandboxSpec) -> str:
        pb = _pb()
        mode = pb.NODE if spec.host_network else pb.POD
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=spec.name, uid=spec.uid, namespace=spec.namespace),
            hostname=spec.hostname, log_directory=spec.log_directory, labels=dict(spec.labels),
            annotations=dict(spec.annotations),
            port_mappings=[
                pb.PortMapping(protocol=_PROTOCOLS[p.protocol], container_port=p.container_port,
                               host_port=p.host_port, host_ip=p.host_ip)
                for p in spec.ports
            ],
            dns_config=pb.DNSConfig(servers=list(spec.dns_servers), searches=list(spec.dns_searches)),
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=spec.cgroup_parent,
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=pb.NamespaceOption(network=mode, pid=pb.CONTAINER, ipc=pb.POD)),
            ),
        )
        reply = self._call(self.runtime.RunPodSandbox, pb.RunPodSandboxRequest(config=config), f"pod run {spec.name}")
        return str(reply.pod_sandbox_id)

    def sandbox_config(self, pod: PodSandbox, log_directory: str) -> Any:
        """The config CreateContainer wants beside a container: the plugin takes the container log's
        directory from it."""
        pb = _pb()
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=pod.name, uid=pod.uid, namespace=pod.namespace),
            log_directory=log_directory, labels=dict(pod.labels),
        )

    def create_container(self, pod: PodSandbox, spec: ContainerSpec, log_directory: str) -> str:
        pb = _pb()
        resources = pb.LinuxContainerResources(memory_limit_in_bytes=spec.memory)
        if spec.cpu_quota:
            resources.cpu_period, resources.cpu_quota = 100_000, spec.cpu_quota
        config = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=spec.name), image=pb.ImageSpec(image=spec.image),
            command=list(spec.command), args=list(spec.args), working_dir=spec.working_dir,
            envs=[pb.KeyValue(key=k, value=v) for k, v in spec.env], labels=dict(spec.labels),
            log_path=spec.log_path,
            linux=pb.LinuxContainerConfig(
                resources=resources,
                security_context=pb.LinuxContainerSecurityContext(namespace_options=pb.NamespaceOption(
                    network=pb.POD, ipc=pb.POD, pid=pb.CONTAINER if spec.own_pid_namespace else pb.POD)),
            ),
        )
        request = pb.CreateContainerRequest(pod_sandbox_id=pod.id, config=config, sandbox_config=self.sandbox_config(pod, log_directory))
        return str(self._call(self.runtime.CreateContainer, request, f"pod {pod.name}: create {spec.name}").container_id)

    def start_container(self, container_id: str) -> None:
        self._call(self.runtime.StartContainer, _pb().StartContainerRequest(container_id=container_id),
                   f"start {container_id[:12]}")

    def stop_container(self, container_id: str, timeout: int) -> None:
        self._call(self.runtime.StopContainer, _pb().StopContainerRequest(container_id=container_id, timeout=timeout),
                   f"stop {container_id[:12]}", timeout=_runtime_deadline(timeout))

    def stop_sandbox(self, pod_id: str) -> None:
        self._call(self.runtime.StopPodSandbox, _pb().StopPodSandboxRequest(pod_sandbox_id=pod_id),
                   f"pod stop {pod_id[:12]}")

    def remove_sandbox(self, pod_id: str) -> None:
        self._call(self.runtime.RemovePodSandbox, _pb().RemovePodSandboxRequest(pod_sandbox_id=pod_id),
                   f"pod rm {pod_id[:12]}")

    def sandboxes(self, labels: Mapping[str, str] | None = None) -> list[PodSandbox]:
        pb = _pb()
        request = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(label_selector=dict(labels or {})))
        reply = self._call(self.runtime.ListPodSandbox, request, "pod ls")
        return [_sandbox(item) for item in reply.items]

    def sandbox(self, pod_id: str) -> PodSandbox:
        """One pod's status, with its IP and (from the verbose info) its pause process's pid."""
        reply = self._call(self.runtime.PodSandboxStatus, _pb().PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True),
                           f"pod inspect {pod_id[:12]}")
        info = _json(reply.info.get("info", ""))
        pid = info.get("pid") if isinstance(info, dict) else None
        return _sandbox(reply.status, ip=reply.status.network.ip,
                        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None)

    def containers(self, pod_id: str = "") -> list[CriContainer]:
        pb = _pb()
        reply = self._call(self.runtime.ListContainers,
                           pb.ListContainersRequest(filter=pb.ContainerFilter(pod_sandbox_id=pod_id)), "pod containers")
        return [
            CriContainer(id=c.id, pod_id=c.pod_sandbox_id, name=c.metadata.name, image=c.image.image,
                         state=_STATES.get(c.state, "unknown"), created_at=c.created_at, labels=dict(c.labels))
            for c in reply.containers
        ]

    def container(self, container_id: str) -> CriContainer:
        s = self._call(self.runtime.ContainerStatus, _pb().ContainerStatusRequest(container_id=container_id),
                       f"container status {container_id[:12]}").status
        return CriContainer(
            id=s.id, pod_id=s.labels.get("io.kubernetes.pod.uid", ""), name=s.metadata.name, image=s.image.image,
            state=_STATES.get(s.state, "unknown"), created_at=s.created_at, started_at=s.started_at,
            finished_at=s.finished_at, exit_code=s.exit_code, log_path=s.log_path, reason=s.reason,
            labels=dict(s.labels),
        )

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> ExecResult:
        if not cmd:
            raise InvalidArgument("pod exec: give a command")
        reply = self._call(self.runtime.ExecSync, _pb().ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout),
                           f"exec in {container_id[:12]}", timeout=_runtime_deadline(timeout))
        return ExecResult(exit_code=reply.exit_code, stdout=bytes(reply.stdout), stderr=bytes(reply.stderr))


def _runtime_deadline(seconds: int) -> float:
    """A call that waits ``seconds`` inside containerd gets those plus the runtime class's margin."""
    from ctrd.deadlines import RUNTIME

    return float(seconds) + (RUNTIME.timeout() or 120.0)


def _sandbox(s: Any, *, ip: str = "", pid: int | None = None) -> PodSandbox:
    return PodSandbox(
        id=s.id, name=s.metadata.name, namespace=s.metadata.namespace, uid=s.metadata.uid, ready=s.state == 0,
        created_at=s.created_at, ip=ip, labels=dict(s.labels), annotations=dict(s.annotations), pid=pid,
    )


def _json(text: str) -> Any:
    if not text or len(text) > _MAX_INFO:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}
