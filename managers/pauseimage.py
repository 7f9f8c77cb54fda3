"""The pod sandbox (pause) image, made on this host from its static busybox: nothing is fetched.

One uncompressed layer holding ``bin/busybox`` (root-owned, 0755, with ``bin/sleep`` a link to it); the
config's entrypoint sleeps for ever, which is all a sandbox's process does (it holds the pod's
namespaces). Written as an OCI layout for ``ctrd.imports.import_oci_layout``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

__all__ = ["write_pause_layout"]

_LAYER = "application/vnd.oci.image.layer.v1.tar"
#: the kernel's machine names → OCI's (the busybox on the host is built for the host)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def _layer(busybox: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("bin")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        with open(busybox, "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sleep")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    return out.getvalue()


def write_pause_layout(directory: str | os.PathLike[str], busybox: str, name: str) -> Path:
    """Write the pause image named ``name`` as an OCI layout in ``directory``; returns its path."""
    root = Path(directory)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer = _layer(busybox)
    config = json.dumps({
        "architecture": _ARCH.get(os.uname().machine, os.uname().machine), "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox", "sleep", "2147483647"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
        "layers": [{"mediaType": _LAYER, **put(layer)}],
    }, sort_keys=True).encode()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest),
        "annotations": {"io.containerd.image.name": name},
    }]}
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return root
