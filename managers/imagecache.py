"""The images containers are created from, resolved once per process and cached by name and target."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ctrd.errors import InvalidArgument, NotFound
from managers.containerbase import ContainerBase


@dataclass(frozen=True)
class _Image:
    name: str
    target: str  # the digest the image record pointed at when resolved
    config: dict[str, Any]  # the OCI image config's "config" section (Env, Cmd, Entrypoint, ...)
    chain_id: str


#: Images resolved in this process, by (address, namespace, snapshotter, name, target digest): a run
#: of the same image again skips reading its manifest and config and checking its unpacked snapshot.
_IMAGES: dict[tuple[str, str, str, str, str | None], _Image] = {}
_IMAGES_MAX = 64
_IMAGES_LOCK = threading.Lock()  # par-each runs creates in threads


class ImageCache(ContainerBase):
    """Resolving the image a container is created from."""

    def _image(self, ref: str, pull: str) -> _Image:
        """The image to create from. A name already resolved in this process costs one Images.Get: the
        record must still exist and point at the same target, else it is resolved afresh (pulled,
        unpacked) as the first time."""
        key = self._image_key(ref) if pull != "always" else None
        if key is not None:
            try:
                target = self.client.images.get(key[-1]).target.digest
            except NotFound:
                target = None
            with _IMAGES_LOCK:
                cached = _IMAGES.get((*key, target))
            if cached is not None:
                return cached
        image = self._resolve_image(ref, pull)
        if key is not None and image.name == key[-1]:
            with _IMAGES_LOCK:
                if len(_IMAGES) >= _IMAGES_MAX:
                    del _IMAGES[next(iter(_IMAGES))]
                _IMAGES[(*key, image.target)] = image
        return image

    def _image_key(self, ref: str) -> tuple[str, str, str, str] | None:
        from managers.reference import normalize

        try:
            name = normalize(ref)
        except InvalidArgument:
            return None  # an image id or id prefix: resolved by the image manager each time
        return (self.client.address, self.namespace, self.facade.images.snapshotter, name)

    def _forget_image(self, image: _Image) -> None:
        with _IMAGES_LOCK:
            for key in [k for k, v in _IMAGES.items() if v is image]:
                del _IMAGES[key]

    def _resolve_image(self, ref: str, pull: str) -> _Image:
        info = self.facade.images.ensure(ref, pull=pull)
        cfg = info.config
        # The OCI image-spec spelling, which the spec builder reads (as containerd's WithImageConfig does).
        config: dict[str, Any] = {
            "Env": list(cfg.env),
            "Cmd": list(cfg.cmd) if cfg.cmd is not None else None,
            "Entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
            "WorkingDir": cfg.working_dir,
            "User": cfg.user,
            "StopSignal": cfg.stop_signal,
            "ExposedPorts": {p: {} for p in cfg.exposed_ports},
            "Volumes": {v: {} for v in cfg.volumes},
        }
        return _Image(name=info.name, target=info.target, config=config, chain_id=info.chain_id)
