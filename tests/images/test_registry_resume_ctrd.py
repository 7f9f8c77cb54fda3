"""An interrupted pull resumes: the registry goes away in the middle of the layers (its port refuses
connections), the pull fails as unavailable and keeps what it fetched in containerd's ingests (under its
lease), and the next pull of the same image, once the registry is back on the same port, asks only for the
rest (``Range: bytes=N-``) and completes with the right digests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctrd.errors import Unavailable
from tests.images.registry_front import RegistryFront
from tests.support.images import _tar, build_layout

pytestmark = pytest.mark.containerd

# Each Content.Write message carries 1 MiB and a few are in flight: what a pull cut off keeps is what
# containerd had answered for, so the layers are several of those long.
LAYER = 8 << 20


def test_a_pull_cut_by_the_registry_going_away_resumes(images, ns_client, tmp_path: Path, registry: str) -> None:
    from ctrd.imports import import_oci_layout

    contents = [_tar([("file", f"blob{i}.bin", os.urandom(LAYER))]) for i in range(3)]
    name = f"{registry}/resume/app:1"
    import_oci_layout(ns_client, build_layout(tmp_path / "layout", contents, name=name))
    pushed = images.push(name)
    images.remove([name])
    with RegistryFront(registry) as front:
        front.throttle = 8 << 20
        front.stop_after = 12 << 20  # half of the layers' bytes, then the registry is gone
        port = int(front.address.rsplit(":", 1)[1])
        ref = f"{front.address}/resume/app:1"
        with pytest.raises(Unavailable):
            images.pull(ref)
        assert front.stopped.is_set()
    assert [lease.id for lease in ns_client.leases.list() if lease.id.startswith("pouchsh-pull-")]
    with RegistryFront(registry, port=port) as back:
        pulled = images.pull(ref)
        resumed = [r for r in back.ranges if r != "bytes=0-"]
        assert resumed, back.ranges  # at least one layer went on from where the first pull stopped
    assert pulled["digest"] == pushed["digest"]
    assert ns_client.leases.list() == []
    images.ensure(ref, pull="never")
