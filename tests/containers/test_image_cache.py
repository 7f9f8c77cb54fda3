"""The container manager remembers images it resolved, but never creates from one that is gone or that
now names another image."""

from __future__ import annotations

from typing import Any

import pytest

from ctrd.errors import InvalidArgument, NotFound
from tests.containers.helpers import opts

pytestmark = pytest.mark.containerd


def test_a_removed_image_is_not_served_from_the_cache(mgr: Any, busybox_image: str) -> None:
    first = mgr.containers.create(opts("true"))
    mgr.containers.remove([first["id"]])
    mgr.images.remove([busybox_image], force=True)
    with pytest.raises(NotFound):
        mgr.containers.create(opts("true", pull="never"))


def test_a_retargeted_name_is_resolved_again(mgr: Any, busybox_image: str) -> None:
    mgr.containers.create(opts("true", name="before"))
    image = mgr.ctrd.images.get(busybox_image)
    # the same name now points at the image's config blob: not a manifest, so creating must fail
    config = mgr.ctrd.images.spec(image).config_descriptor
    mgr.ctrd.images.update(busybox_image, target=config)
    try:
        with pytest.raises(InvalidArgument, match="malformed"):
            mgr.containers.create(opts("true", name="after", pull="never"))
        assert "after" not in {c.labels.get("pouchsh/name") for c in mgr.ctrd.containers.list()}
    finally:
        mgr.ctrd.images.update(busybox_image, target=image.target)
