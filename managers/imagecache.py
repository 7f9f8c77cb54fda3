"""The images containers are created from, resolved once per process and cached by name and target."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctrd.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from managers import Managers
    from managers.images import ImageConfig

__all__ = ["Image", "ImageCache"]


@dataclass(frozen=True)
class Image:
    """What a create needs of its image."""

    name: str
    target: str  # the digest the image record pointed at when resolved
    config: ImageConfig  # the one shape of an image's run-time defaults (the spec builder reads it)
    chain_id: str


#: Images resolved in this process, by (address, namespace, snapshotter, name, target digest): a run
#: of the same image again skips reading its manifest and config and checking its unpacked snapshot.
_IMAGES: dict[tuple[str, str, str, str, str | None], Image] = {}
_IMAGES_MAX = 64
_IMAGES_LOCK = threading.Lock()  # par-each runs creates in threads


class ImageCache:
    """Resolving the image a container is created from, through the facade's image manager (which
    pulls and unpacks), remembered for the life of the process."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    def get(self, ref: str, pull: str) -> Image:
        """The image to create from. A name already resolved in this process costs one Images.Get: the
        record must still exist and point at the same target, else it is resolved afresh (pulled,
        unpacked) as the first time."""
        key = self._key(ref) if pull != "always" else None
        client = self.facade.ctrd
        if key is not None:
            try:
                target = client.images.get(key[-1]).target.digest
            except NotFound:
                target = None
            with _IMAGES_LOCK:
                cached = _IMAGES.get((*key, target))
            if cached is not None:
                return cached
        image = self.resolve(ref, pull)
        if key is not None and image.name == key[-1]:
            with _IMAGES_LOCK:
                if len(_IMAGES) >= _IMAGES_MAX:
                    del _IMAGES[next(iter(_IMAGES))]
                _IMAGES[(*key, image.target)] = image
        return image

    def _key(self, ref: str) -> tuple[str, str, str, str] | None:
        from managers.reference import normalize  # off the `ps` path (managers.lifecycle)

        try:
            name = normalize(ref)
        except InvalidArgument:
            return None  # an image id or id prefix: resolved by the image manager each time
        return (self.facade.ctrd.address, self.facade.namespace, self.facade.images.snapshotter, name)

    def forget(self, image: Image) -> None:
        """Drop ``image`` (its unpacked layers went away): the next ``get`` resolves it afresh."""
        with _IMAGES_LOCK:
            for key in [k for k, v in _IMAGES.items() if v is image]:
                del _IMAGES[key]

    def resolve(self, ref: str, pull: str) -> Image:
        """The image, resolved (pulled and unpacked as ``pull`` says) without the cache."""
        info = self.facade.images.ensure(ref, pull=pull)
        return Image(name=info.name, target=info.target, config=info.config, chain_id=info.chain_id)
