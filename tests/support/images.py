"""Build small OCI image layouts from Debian's busybox-static, for tests that need a real image.

    build_busybox_layout(path)       one gzip layer: /bin/busybox, applet symlinks, /etc/passwd, /etc/group
    build_two_layer_layout(path)     the same plus a second layer adding /data/hello.txt and /etc/motd
    layout_tar(layout, tar_path)     the layout as a tar archive (what `images load`/`ctr import` read)

Layers are deterministic (fixed mtimes, owners and gzip header), so digests are stable across runs; the
busybox layer is built once per process.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
BUSYBOX_NAME = "docker.io/library/busybox:latest"
TWO_LAYER_NAME = "docker.io/library/busybox-two:latest"
HELLO_TEXT = b"hello from layer two\n"

APPLETS = (
    "sh", "echo", "cat", "sleep", "ls", "true", "false", "env", "wget", "httpd", "ping", "id", "hostname",
    "mkdir", "rm", "touch", "head", "tail", "wc", "grep", "ps", "kill", "printf", "test", "[", "nc", "ip",
)  # fmt: skip

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n"
DEFAULT_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _tar(entries: Iterable[tuple[str, str, Any]]) -> bytes:
    """A tar of (kind, path, payload): "dir" (payload = mode), "file" (bytes or (bytes, mode)), "link" (target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, path, payload in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = payload
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                info.mode = 0o777
                tar.addfile(info)
            else:
                data, mode = payload if isinstance(payload, tuple) else (payload, 0o644)
                info.size = len(data)
                info.mode = mode
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@lru_cache(maxsize=1)
def busybox_layer() -> bytes:
    """The uncompressed base layer tar."""
    entries: list[tuple[str, str, Any]] = [
        ("dir", d, 0o755) for d in ("bin", "etc", "root", "proc", "sys", "dev", "var", "usr", "usr/bin")
    ]
    entries.append(("dir", "tmp", 0o1777))
    entries.append(("file", "bin/busybox", (BUSYBOX.read_bytes(), 0o755)))
    entries += [("link", f"bin/{applet}", "busybox") for applet in APPLETS]
    entries += [("file", "etc/passwd", PASSWD), ("file", "etc/group", GROUP)]
    return _tar(entries)


def second_layer() -> bytes:
    return _tar([("dir", "data", 0o755), ("file", "data/hello.txt", HELLO_TEXT), ("file", "etc/motd", b"two layers\n")])


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=8)
def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def build_layout(
    path: Path,
    layers: Iterable[bytes],
    *,
    name: str,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write an OCI layout for an image of the given uncompressed ``layers`` to directory ``path``.

    ``config`` is merged into the image config's ``config`` object (Env, Cmd, Entrypoint, Labels …).
    The index entry carries ``io.containerd.image.name = name``.
    """
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = _digest(data)
        (blobs / digest.split(":", 1)[1]).write_bytes(data)
        return digest

    layers = list(layers)
    layer_descs = []
    for layer in layers:
        compressed = _gzip(layer)
        layer_descs.append({"mediaType": OCI_LAYER_GZIP, "digest": put(compressed), "size": len(compressed)})
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [DEFAULT_ENV], "Cmd": ["sh"], **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer) for layer in layers]},
        "history": [{"created_by": "tests/support/images.py"} for _ in layers],
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put(config_bytes), "size": len(config_bytes)},
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": put(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index, sort_keys=True))
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return path


def build_busybox_layout(path: Path, *, name: str = BUSYBOX_NAME, config: Mapping[str, Any] | None = None) -> Path:
    return build_layout(path, [busybox_layer()], name=name, config=config)


def build_two_layer_layout(path: Path, *, name: str = TWO_LAYER_NAME) -> Path:
    return build_layout(path, [busybox_layer(), second_layer()], name=name)


def layout_tar(layout: Path, tar_path: Path) -> Path:
    """Archive a layout directory as a tar whose members are ``oci-layout``, ``index.json``, ``blobs/…``."""
    with tarfile.open(tar_path, "w") as tar:
        for item in sorted(layout.rglob("*")):
            tar.add(item, arcname=str(item.relative_to(layout)), recursive=False)
    return tar_path


def build_extra_layer_layout(
    path: Path, entries: Iterable[tuple[str, str, Any]], *, name: str, config: Mapping[str, Any] | None = None
) -> Path:
    """busybox plus one layer of ``entries`` as ``_tar`` takes them (dirs, files, symlinks): for images
    that ship hostile links or files (tests/security)."""
    return build_layout(path, [busybox_layer(), _tar(entries)], name=name, config=config)
