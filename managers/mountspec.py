"""Mount requests as users write them, parsed and validated before anything is created.

    -v NAME:/dst[:opts]       a named volume (created if missing)
    -v /host:/dst[:opts]      a bind mount; the host path must be absolute and exist
    -v /dst                   an anonymous volume
    --mount type=volume|bind|tmpfs,src=..,dst=..,readonly,...
    --tmpfs /dst[:size=64m,mode=1777,...]

Each becomes one ``MountRequest``. Volume names follow docker's restricted rule, so nothing that could
leave the volume root (``..``, ``/``, NUL, an absolute path) is ever accepted as a name, and mount options
are checked against a fixed list: a mount option is never passed through from user text unchecked
(CVE-2024-9407 was an unvalidated ``bind-propagation``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ctrd.errors import InvalidArgument

__all__ = [
    "MountRequest",
    "parse_mount",
    "parse_tmpfs",
    "parse_volume",
    "validate_destination",
    "validate_volume_name",
]

VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
VOLUME_NAME_MAX = 255
PROPAGATIONS = frozenset({"private", "rprivate", "shared", "rshared", "slave", "rslave"})
_TMPFS_FLAGS = frozenset({"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime"})
_SIZE_RE = re.compile(r"^(\d+)([kKmMgG]?)$")


@dataclass(frozen=True)
class MountRequest:
    """One requested mount. ``kind`` is "volume" (``source`` a name, or "" for an anonymous one),
    "bind" (``source`` an absolute host path) or "tmpfs" (``options`` its mount options)."""

    kind: str
    source: str
    destination: str
    readonly: bool = False
    propagation: str = "rprivate"
    options: tuple[str, ...] = field(default=())
    #: a volume not seeded from the image (``-v NAME:/dst:nocopy``, ``volume-nocopy``)
    nocopy: bool = False


def validate_volume_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgument("volume name must not be empty")
    if "\x00" in name or "/" in name or name.startswith(".") or not VOLUME_NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid volume name {name!r}: use at least 2 characters from [a-zA-Z0-9_.-], "
            "starting with a letter or digit",
            hint="to mount a host directory, give its absolute path",
        )
    if len(name) > VOLUME_NAME_MAX:
        raise InvalidArgument(f"volume name {name[:20]!r}... is longer than {VOLUME_NAME_MAX} characters")
    return name


def validate_destination(dst: str, what: str = "mount") -> str:
    """An absolute, normalised container path that is not ``/`` and has no ``..`` component."""
    if not dst:
        raise InvalidArgument(f"{what}: the container path is missing")
    if "\x00" in dst:
        raise InvalidArgument(f"{what}: the container path contains a NUL byte")
    if not dst.startswith("/"):
        raise InvalidArgument(f"{what}: container path {dst!r} must be absolute")
    if ".." in dst.split("/"):
        raise InvalidArgument(f"{what}: container path {dst!r} must not contain '..'")
    clean = posixpath.normpath(dst)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/":
        raise InvalidArgument(f"{what}: cannot mount over the container's root '/'")
    return clean


def _validate_bind_source(src: str, what: str) -> str:
    if "\x00" in src:
        raise InvalidArgument(f"{what}: host path contains a NUL byte")
    if not src.startswith("/"):
        raise InvalidArgument(f"{what}: host path {src!r} must be absolute")
    return posixpath.normpath(src)


def parse_volume(spec: str) -> MountRequest:
    """``-v`` / ``--volume``: ``/dst``, ``NAME:/dst[:opts]`` or ``/host:/dst[:opts]``."""
    what = f"-v {spec}"
    if not spec or "\x00" in spec:
        raise InvalidArgument(f"invalid volume spec {spec!r}")
    parts = spec.split(":")
    if len(parts) == 1:
        return MountRequest("volume", "", validate_destination(parts[0], what))
    if len(parts) > 3:
        raise InvalidArgument(f"{what}: too many ':' (expected SOURCE:DEST[:OPTIONS])")
    src, dst = parts[0], parts[1]
    readonly, propagation, nocopy = False, "rprivate", False
    if len(parts) == 3:
        for opt in parts[2].split(","):
            if opt in ("ro", "rw"):
                readonly = opt == "ro"
            elif opt in PROPAGATIONS:
                propagation = opt
            elif opt == "nocopy":
                nocopy = True
            elif opt in ("z", "Z"):
                continue  # SELinux relabelling: nothing to do on a host without SELinux labels
            else:
                raise InvalidArgument(
                    f"{what}: unknown option {opt!r} (use ro, rw, nocopy, or a propagation: "
                    f"{', '.join(sorted(PROPAGATIONS))})"
                )
    dst = validate_destination(dst, what)
    if src.startswith("/"):
        if nocopy:
            raise InvalidArgument(f"{what}: nocopy applies to volumes, not bind mounts")
        return MountRequest("bind", _validate_bind_source(src, what), dst, readonly, propagation)
    if not src:
        raise InvalidArgument(f"{what}: the source before ':' is empty")
    validate_volume_name(src)
    return MountRequest("volume", src, dst, readonly, propagation, nocopy=nocopy)


def _truthy(key: str, value: str | None, what: str) -> bool:
    if value is None or value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise InvalidArgument(f"{what}: {key} takes true or false, not {value!r}")


def _tmpfs_size(value: str, what: str) -> str:
    m = _SIZE_RE.match(value)
    if not m:
        raise InvalidArgument(f"{what}: tmpfs size {value!r} is not a size (e.g. 64m, 1g, 65536)")
    return f"size={m.group(1)}{m.group(2).lower()}"


def _tmpfs_mode(value: str, what: str) -> str:
    if not re.match(r"^[0-7]{3,4}$", value):
        raise InvalidArgument(f"{what}: tmpfs mode {value!r} is not an octal mode (e.g. 1777)")
    return f"mode={value}"


def parse_mount(spec: str) -> MountRequest:
    """``--mount type=volume|bind|tmpfs,source=..,target=..,readonly,...`` (docker's keys)."""
    what = f"--mount {spec}"
    fields: dict[str, str | None] = {}
    for item in spec.split(","):
        if not item:
            continue
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key in fields:
            raise InvalidArgument(f"{what}: {key} given twice")
        fields[key] = value if eq else None
    kind = fields.pop("type", None) or "volume"
    if kind not in ("volume", "bind", "tmpfs"):
        raise InvalidArgument(f"{what}: type must be volume, bind or tmpfs, not {kind!r}")
    src = dst = None
    for key in ("source", "src"):
        if key in fields:
            src = fields.pop(key) or ""
    for key in ("target", "destination", "dst"):
        if key in fields:
            if dst is not None:
                raise InvalidArgument(f"{what}: the target is given twice")
            dst = fields.pop(key) or ""
    if dst is None:
        raise InvalidArgument(f"{what}: target (dst) is required")
    dst = validate_destination(dst, what)
    readonly = False
    for key in ("readonly", "ro"):
        if key in fields:
            readonly = _truthy(key, fields.pop(key), what)
    propagation = "rprivate"
    options: list[str] = []
    if kind == "bind" and "bind-propagation" in fields:
        propagation = fields.pop("bind-propagation") or ""
        if propagation not in PROPAGATIONS:
            raise InvalidArgument(f"{what}: bind-propagation must be one of {', '.join(sorted(PROPAGATIONS))}")
    nocopy = False
    if kind == "volume" and "volume-nocopy" in fields:
        nocopy = _truthy("volume-nocopy", fields.pop("volume-nocopy"), what)
    if kind == "tmpfs":
        if "tmpfs-size" in fields:
            options.append(_tmpfs_size(fields.pop("tmpfs-size") or "", what))
        if "tmpfs-mode" in fields:
            options.append(_tmpfs_mode(fields.pop("tmpfs-mode") or "", what))
    if fields:
        raise InvalidArgument(f"{what}: unknown or misplaced key(s) {', '.join(sorted(fields))} for type={kind}")
    if kind == "bind":
        if not src:
            raise InvalidArgument(f"{what}: a bind mount needs source=/host/path")
        return MountRequest("bind", _validate_bind_source(src, what), dst, readonly, propagation)
    if kind == "tmpfs":
        if src:
            raise InvalidArgument(f"{what}: a tmpfs mount takes no source")
        return MountRequest("tmpfs", "", dst, readonly, options=tuple(options))
    if src:
        validate_volume_name(src)
    return MountRequest("volume", src or "", dst, readonly, nocopy=nocopy)


def parse_tmpfs(spec: str) -> MountRequest:
    """``--tmpfs /dst[:size=64m,mode=1777,noexec,...]``."""
    what = f"--tmpfs {spec}"
    dst, _, opts = spec.partition(":")
    dst = validate_destination(dst, what)
    options: list[str] = []
    readonly = False
    for opt in filter(None, opts.split(",")):
        key, eq, value = opt.partition("=")
        if key == "size" and eq:
            options.append(_tmpfs_size(value, what))
        elif key == "mode" and eq:
            options.append(_tmpfs_mode(value, what))
        elif not eq and opt in _TMPFS_FLAGS:
            if opt in ("ro", "rw"):
                readonly = opt == "ro"
            else:
                options.append(opt)
        else:
            raise InvalidArgument(
                f"{what}: unknown tmpfs option {opt!r} (use size=, mode=, or {', '.join(sorted(_TMPFS_FLAGS))})"
            )
    return MountRequest("tmpfs", "", dst, readonly, options=tuple(options))
