"""The committed stubs are what generate.py makes of the committed protos, and the protos are containerd's."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
API = REPO / "ctrd" / "api"
CONTAINERD_SOURCES = Path("/usr/share/gocode/src/github.com/containerd/containerd")

sys.path.insert(0, str(API))
import generate

sys.path.pop(0)

# Lines that name the generator's version, not the protos: a newer grpcio-tools changes only these.
VERSION_STAMP = re.compile(
    r"^(# Protobuf Python Version: .*|GRPC_GENERATED_VERSION = .*|    \d+,|    ''?,?)$", re.MULTILINE
)


def normalised(path: Path) -> str:
    return VERSION_STAMP.sub("", path.read_text())


def generated_files(root: Path) -> set[Path]:
    api = root / "ctrd" / "api"
    return {p.relative_to(root) for pattern in ("*_pb2*.py", "*_pb2.pyi") for p in api.rglob(pattern)}


def test_committed_stubs_are_not_stale(tmp_path: Path) -> None:
    generate.generate(tmp_path)
    fresh = generated_files(tmp_path)
    committed = generated_files(REPO)
    assert fresh == committed, "stub set differs: run `make protos` and commit"
    stale = [str(p) for p in sorted(fresh) if normalised(tmp_path / p) != normalised(REPO / p)]
    assert not stale, f"stale stubs (run `make protos` and commit): {stale}"


@pytest.mark.skipif(not CONTAINERD_SOURCES.is_dir(), reason="containerd Go sources (golang-github-containerd-containerd-dev) not installed")
def test_protos_are_containerds_with_options_stripped() -> None:
    for theirs, ours in generate.SOURCES.items():
        expected = generate.strip((CONTAINERD_SOURCES / theirs).read_text(), theirs)
        assert (API / ours).read_text() == expected, f"{ours} differs from containerd's {theirs}"


def test_wire_names_are_containerds() -> None:
    from ctrd.api.runc.options import oci_pb2
    from ctrd.api.services.tasks.v1 import tasks_pb2
    from ctrd.api.types import descriptor_pb2

    assert oci_pb2.Options.DESCRIPTOR.full_name == "containerd.runc.v1.Options"
    assert tasks_pb2.DESCRIPTOR.services_by_name["Tasks"].full_name == "containerd.services.tasks.v1.Tasks"
    fields = {f.name: f.number for f in descriptor_pb2.Descriptor.DESCRIPTOR.fields}
    assert fields == {"media_type": 1, "digest": 2, "size": 3, "annotations": 5}
