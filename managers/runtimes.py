"""The container runtimes this machine offers: containerd's shim v2 binaries.

containerd runs a runtime named ``io.containerd.NAME.vN`` by executing ``containerd-shim-NAME-vN`` from
its PATH (and from the directory of its own binary). ``available`` lists those found, for ``info``;
``shim_path`` is how ``run --runtime`` tells a missing runtime apart before containerd fails with a
shim start error naming nothing the user typed.
"""

from __future__ import annotations

import os
import re
import shutil

__all__ = ["available", "shim_binary", "shim_path"]

_RUNTIME = re.compile(r"io\.containerd\.([a-z0-9]+)\.(v[0-9]+)\Z")
_SHIM = re.compile(r"containerd-shim-([a-z0-9]+)-(v[0-9]+)\Z")
# containerd's own PATH may hold more than this process's: the usual system directories too.
_SEARCH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _dirs() -> list[str]:
    seen: dict[str, None] = {}
    containerd = shutil.which("containerd")
    for d in [*os.environ.get("PATH", "").split(os.pathsep), *_SEARCH,
              *([os.path.dirname(containerd)] if containerd else [])]:
        if d:
            seen.setdefault(d, None)
    return list(seen)


def shim_binary(runtime: str) -> str:
    """``io.containerd.runc.v2`` → ``containerd-shim-runc-v2``."""
    found = _RUNTIME.match(runtime)
    if found is None:
        raise ValueError(runtime)
    return f"containerd-shim-{found.group(1)}-{found.group(2)}"


def shim_path(runtime: str) -> str | None:
    return shutil.which(shim_binary(runtime), path=os.pathsep.join(_dirs()))


def available() -> list[dict[str, str]]:
    """Each runtime with a shim here: ``{name, shim}``, by name."""
    found: dict[str, str] = {}
    for d in _dirs():
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in entries:
            shim = _SHIM.match(entry)
            path = os.path.join(d, entry)
            if shim and os.access(path, os.X_OK):
                found.setdefault(f"io.containerd.{shim.group(1)}.{shim.group(2)}", path)
    return [{"name": name, "shim": path} for name, path in sorted(found.items())]
