"""runc keeps the state of pouchsh's containers under pouchsh's run root, never under /run/containerd
(runc's default root, which belongs to the system's containerd)."""

from __future__ import annotations

from typing import Any

import pytest

from ctrd.api.runc.options import oci_pb2
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd


def test_runc_state_lives_under_the_run_root(mgr: Any, namespace: str, roots: Any) -> None:
    cid = mgr.containers.run(opts("sleep", "60"), detach=True)["id"]
    _, run_root = roots
    assert (run_root / "runc" / namespace / cid / "state.json").is_file()
    container = mgr.ctrd.containers.get(cid)
    assert container.runtime == "io.containerd.runc.v2"
    mgr.containers.remove([cid], force=True)
    assert not (run_root / "runc" / namespace / cid).exists()


def test_the_runc_root_goes_with_a_runtime_binary(mgr: Any, roots: Any, tmp_path: Any) -> None:
    import shutil

    from ctrd.api.services.containers.v1 import containers_pb2 as pb

    runc = shutil.which("runc")
    cid = mgr.containers.create(opts("true", runtime=runc))["id"]
    client = mgr.ctrd
    raw = client.call(client.containers.stub.Get, pb.GetContainerRequest(id=cid), "container get")
    options = oci_pb2.Options.FromString(raw.container.runtime.options.value)
    assert options.root == str(roots[1] / "runc")
    assert options.binary_name == runc
