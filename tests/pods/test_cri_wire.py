"""ctrd's CRI subset keeps the CRI's wire names and numbers (k8s.io/cri-api runtime.v1), which the plugin
matches by number: a renumbered field would be silently dropped, not refused."""

from __future__ import annotations

from ctrd.api.services.cri.v1 import api_pb2


def _numbers(message: type) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_services_are_runtime_v1() -> None:
    assert api_pb2.DESCRIPTOR.services_by_name["RuntimeService"].full_name == "runtime.v1.RuntimeService"
    assert api_pb2.DESCRIPTOR.services_by_name["ImageService"].full_name == "runtime.v1.ImageService"


def test_field_numbers() -> None:
    assert _numbers(api_pb2.PodSandboxConfig) == {
        "metadata": 1, "hostname": 2, "log_directory": 3, "dns_config": 4, "port_mappings": 5, "labels": 6, "annotations": 7, "linux": 8}
    assert _numbers(api_pb2.PortMapping) == {"protocol": 1, "container_port": 2, "host_port": 3, "host_ip": 4}
    assert [(v.name, v.number) for v in api_pb2.Protocol.DESCRIPTOR.values] == [("TCP", 0), ("UDP", 1), ("SCTP", 2)]
    assert _numbers(api_pb2.ContainerConfig) == {
        "metadata": 1, "image": 2, "command": 3, "args": 4, "working_dir": 5, "envs": 6, "labels": 9,
        "annotations": 10, "log_path": 11, "linux": 15}
    assert _numbers(api_pb2.LinuxContainerSecurityContext) == {"namespace_options": 3}
    assert _numbers(api_pb2.LinuxContainerResources) == {
        "cpu_period": 1, "cpu_quota": 2, "cpu_shares": 3, "memory_limit_in_bytes": 4}
    assert _numbers(api_pb2.ContainerStatus)["log_path"] == 15
    assert _numbers(api_pb2.PodSandboxStatus) == {
        "id": 1, "metadata": 2, "state": 3, "created_at": 4, "network": 5, "labels": 7, "annotations": 8,
        "runtime_handler": 9}
    assert [(v.name, v.number) for v in api_pb2.NamespaceMode.DESCRIPTOR.values] == [
        ("POD", 0), ("CONTAINER", 1), ("NODE", 2), ("TARGET", 3)]
