"""Proxies from the environment: with ``HTTP_PROXY`` set, a pull goes through the proxy (a loopback front
that forwards absolute-form requests, as a forward proxy does); with the host in ``NO_PROXY`` it does not."""

from __future__ import annotations

import pytest

from tests.images.registry_front import RegistryFront

pytestmark = pytest.mark.containerd


def test_a_pull_goes_through_the_proxy_unless_no_proxy_names_the_host(
    images, busybox_image: str, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"{registry}/proxied/bb:1"
    images.tag("busybox", name)
    images.push(name)
    images.remove([name, "busybox"])
    with RegistryFront(registry) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.address}")
        monkeypatch.setenv("NO_PROXY", "")
        images.pull(name)
        assert proxy.max_in_flight >= 1  # the layers came through the proxy
    images.remove([name])
    with RegistryFront(registry) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.address}")
        monkeypatch.setenv("NO_PROXY", registry.split(":")[0])
        images.pull(name)
        assert proxy.max_in_flight == 0
