"""Any payloads through ctrd's own type-URL table, and image platform selection."""

from __future__ import annotations

import pytest
from google.protobuf.any_pb2 import Any

from ctrd import typeurl
from ctrd.api.events import task_pb2
from ctrd.api.runc.options import oci_pb2
from ctrd.errors import InvalidArgument
from ctrd.images import Platform


def test_messages_use_containerds_bare_type_urls() -> None:
    packed = typeurl.pack(task_pb2.TaskExit(container_id="web", exit_status=3))
    assert packed.type_url == "containerd.events.TaskExit"
    decoded = typeurl.unpack(packed)
    assert isinstance(decoded, task_pb2.TaskExit) and decoded.exit_status == 3


def test_runc_options_round_trip() -> None:
    packed = typeurl.pack(oci_pb2.Options(systemd_cgroup=True, binary_name="runc"))
    assert packed.type_url == "containerd.runc.v1.Options"
    assert typeurl.unpack(packed).binary_name == "runc"


def test_json_payloads() -> None:
    spec = {"ociVersion": "1.0.2", "process": {"args": ["sh"]}}
    packed = typeurl.pack_json(typeurl.RUNTIME_SPEC_URL, spec)
    assert packed.type_url == "types.containerd.io/opencontainers/runtime-spec/1/Spec"
    assert typeurl.unpack(packed) == spec


def test_unknown_type_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="unknown Any type"):
        typeurl.unpack(Any(type_url="example.com/Nope", value=b""))


def test_platform_matching() -> None:
    amd64 = Platform("linux", "amd64")
    assert amd64.matches({"os": "linux", "architecture": "amd64"})
    assert not amd64.matches({"os": "linux", "architecture": "arm64"})
    assert Platform("linux", "arm64", "v8").matches({"os": "linux", "architecture": "arm64"})
    assert not Platform("linux", "arm", "v7").matches({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert not amd64.matches(None)
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"


def test_importing_errors_pulls_in_no_grpc() -> None:
    import subprocess
    import sys

    code = "import sys, ctrd.errors; assert 'grpc' not in sys.modules and 'google.protobuf' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
