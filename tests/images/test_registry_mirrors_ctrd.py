"""``registry-mirrors`` of the settings file: a docker.io name is pulled from the mirrors in order, a failing
mirror is passed over. The mirrors are loopback (a front on Debian's docker-registry); the tests only
assert what a mirror served, so nothing here reaches docker.io."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.registry_front import RegistryFront

pytestmark = pytest.mark.containerd


def test_a_docker_hub_name_is_pulled_from_the_first_mirror_that_works(
    images, busybox_image: str, registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images.tag("busybox", f"{registry}/library/busybox:mirrored")
    pushed = images.push(f"{registry}/library/busybox:mirrored")
    images.remove([f"{registry}/library/busybox:mirrored", "busybox"])  # its blobs leave the store
    with RegistryFront(registry) as broken, RegistryFront(registry) as mirror:
        broken.corrupt_blobs = True  # the first mirror lies: its content is refused, the next is tried
        config = tmp_path / "config.toml"
        config.write_text(
            f'registry-mirrors = ["http://127.0.0.1:9", "https://{broken.address}/", "{mirror.address}"]\n'
        )
        monkeypatch.setenv("POUCHSH_CONFIG", str(config))
        pulled = images.pull("busybox:mirrored")
        assert pulled["name"] == "docker.io/library/busybox:mirrored"
        assert pulled["digest"] == pushed["digest"]
        assert broken.max_in_flight >= 1 and mirror.max_in_flight >= 1  # both were asked for blobs
