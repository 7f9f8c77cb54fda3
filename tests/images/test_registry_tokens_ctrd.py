"""Long transfers with short-lived tokens, and layers moving in parallel.

Debian's docker-registry in token-auth mode trusts the tests' own token service (tests/images/token_server.py),
whose tokens live 5 s; a throttling loopback front makes a push and a pull take longer than that, and the
token service counts how often each scope was granted: renewal shows as a second grant. The registry
itself accepts a token until 60 s past its expiry, so the 401-in-the-middle path is shown by the front,
whose tokens are refused strictly after 3 s although it announces 300.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.images.conftest import run_registry
from tests.images.registry_front import RegistryFront
from tests.images.token_server import TokenServer
from tests.support.images import _tar, build_layout

pytestmark = pytest.mark.containerd

LAYER = 512 << 10
RATE = 256 << 10  # bytes a second, each way: four layers one at a time take 8 s


def import_image(ns_client, tmp_path: Path, name: str, layers: int = 4, size: int = LAYER) -> str:
    from ctrd.imports import import_oci_layout

    contents = [_tar([("file", f"data{i}.bin", os.urandom(size))]) for i in range(layers)]
    (image,) = import_oci_layout(ns_client, build_layout(tmp_path / "layout", contents, name=name))
    return image.name


def test_push_and_pull_outlive_five_second_tokens(images, ns_client, tmp_path: Path) -> None:
    with (
        TokenServer(tmp_path, lifetime=5, credentials=("ci", "tok-pw")) as tokens,
        run_registry(tmp_path, tokens.registry_config()) as upstream,
        RegistryFront(upstream) as front,
    ):
        front.pass_auth = True
        front.throttle = RATE
        name = import_image(ns_client, tmp_path, f"{front.address}/slow/app:1")
        images.login(front.address, "ci", "tok-pw")
        started = time.monotonic()
        pushed = images.push(name, max_concurrent_uploads=1)
        assert time.monotonic() - started > tokens.lifetime
        assert tokens.issued["repository:slow/app:pull,push"] >= 2  # renewed before it ran out
        images.remove([name])
        started = time.monotonic()
        pulled = images.pull(name, max_concurrent_downloads=1)
        assert time.monotonic() - started > tokens.lifetime
        assert tokens.issued["repository:slow/app:pull"] >= 2
        assert pulled["digest"] == pushed["digest"]


def test_a_token_refused_in_the_middle_is_renewed(images, ns_client, tmp_path: Path, registry: str) -> None:
    with RegistryFront(registry, auth="bearer") as front:
        front.token_lifetime = 3.0
        front.announced_lifetime = 300  # the client believes it; the front refuses it after 3 s
        front.throttle = RATE  # a layer a second: one request never outlives a token, four layers do
        name = import_image(ns_client, tmp_path, f"{front.address}/strict/app:1", layers=5, size=RATE)
        images.push(name, max_concurrent_uploads=1)
        refused_in_push = front.refused_tokens
        assert refused_in_push >= 1
        images.remove([name])
        images.pull(name, max_concurrent_downloads=1)
        assert front.refused_tokens > refused_in_push
        assert images.inspect(name)["name"] == name


def test_layers_download_in_parallel_up_to_the_bound(images, ns_client, tmp_path: Path, registry: str) -> None:
    name = f"{registry}/parallel/app:1"
    import_image(ns_client, tmp_path, name, layers=5)
    images.push(name)
    images.remove([name])
    with RegistryFront(registry) as front:
        front.gate = 3  # downloads wait until three were in flight together: only a parallel pull does that
        images.pull(f"{front.address}/parallel/app:1")
        assert front.max_in_flight == 3
    images.remove([f"{front.address}/parallel/app:1"])
    with RegistryFront(registry) as front:
        images.pull(f"{front.address}/parallel/app:1", max_concurrent_downloads=1)
        assert front.max_in_flight == 1


def test_layers_are_applied_while_later_ones_still_download(images, ns_client, tmp_path: Path, registry: str) -> None:
    from ctrd.errors import NotFound

    name = f"{registry}/overlap/app:1"
    import_image(ns_client, tmp_path, name, layers=3, size=64 << 10)
    spec = ns_client.images.spec(ns_client.images.get(name))
    first_chain, last = spec.diff_ids[0], spec.layers[-1].digest
    images.push(name)
    images.remove([name])
    with RegistryFront(registry) as front:
        front.hold_blob = last  # the last layer waits until the first one is applied
        outcome: list[object] = []
        puller = threading.Thread(target=lambda: outcome.append(images.pull(f"{front.address}/overlap/app:1")))
        puller.start()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    ns_client.snapshots.stat(first_chain)
                    break
                except NotFound:
                    assert time.monotonic() < deadline, "layer 0 was not applied while the last one was held"
                    time.sleep(0.05)
        finally:
            front.release.set()
            puller.join(120)
        assert outcome and outcome[0]["name"] == f"{front.address}/overlap/app:1"
