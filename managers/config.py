"""The user's settings file, read once at start-up by the shell and by pouchd.

``$POUCHSH_CONFIG``, else ``$XDG_CONFIG_HOME/pouchsh/config.toml``, else ``~/.config/pouchsh/config.toml``.
Keys are spelled as in docker's ``daemon.json`` where docker has one (``registry-mirrors``,
``insecure-registries``), so a user can copy them over::

    address = "/run/containerd/containerd.sock"
    namespace = "default"
    registry-mirrors = ["https://mirror.example:5000"]
    insecure-registries = ["registry.local:5000"]
    detach-keys = "ctrl-p,ctrl-q"
    max-concurrent-downloads = 3
    max-concurrent-uploads = 5
    enable-lxcfs = false
    context = "default"

A missing file means every default. A key this module does not know, or a value of the wrong type, is
an ``InvalidArgument`` naming the file and the key: a typo must not silently fall back to a default.
Flags and environment variables given for one invocation win over the file (pouchsh.cli says the order).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CONTEXT_NAME", "RESERVED_CONTEXTS", "Settings", "check_own_file", "config_dir", "config_path",
    "contexts_dir", "load", "stored_context",
]

#: a context's name (managers.contexts), and the names no context may have: ``default`` is "none".
CONTEXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
RESERVED_CONTEXTS = frozenset({"default", "all", "current"})

# Every start reads the settings, so the path is worked out with os.path: pathlib costs a ``-c version``
# about a millisecond (tests/system/test_startup_imports.py). The public functions give a Path.
def _dir(env: dict[str, str] | os._Environ[str] | None) -> str:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "pouchsh")


def _file(env: dict[str, str] | os._Environ[str] | None) -> str:
    env = os.environ if env is None else env
    return env.get("POUCHSH_CONFIG") or os.path.join(_dir(env), "config.toml")


def contexts_dir(env: dict[str, str] | os._Environ[str] | None = None) -> str:
    """Where the stored contexts are (managers.contexts), as text: pouchsh.cli needs it at every start."""
    return os.path.join(_dir(env), "contexts")


def stored_context(directory: str | os.PathLike[str]) -> str | None:
    """The context ``context use`` stored in ``directory/current`` (``default`` for none), None with no file.
    The one reader of that file: pouchsh.cli at every start (so it needs only os, re and stat, which the
    start-up imports anyway) and managers.contexts.ContextStore.current."""
    path = os.path.join(directory, "current")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InvalidArgument(f"cannot read {path}: {e.strerror or e}") from None
    try:
        check_own_file(path, os.fstat(fd))
        name = os.read(fd, 256).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    if name != "default" and (not CONTEXT_NAME.match(name) or name in RESERVED_CONTEXTS):
        raise InvalidArgument(f"{path}: {name!r} is not a context name")
    return name


def check_own_file(path: str | os.PathLike[str], st: os.stat_result) -> None:
    """``path`` (whose fstat is ``st``) is a regular file only this user can write: a context decides which
    daemon pouchsh talks to, so one another user could change is refused."""
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgument(f"{path} is not a regular file")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise InvalidArgument(
            f"{path} is owned or writable by another user: a context decides which daemon pouchsh talks to",
            hint=f"chown {os.geteuid()} {path}; chmod 600 {path}",
        )


def config_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/pouchsh`` or ``~/.config/pouchsh``: the settings file and contexts live here."""
    from pathlib import Path

    return Path(_dir(env))


def config_path(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    from pathlib import Path

    return Path(_file(env))


@dataclass(frozen=True)
class Settings:
    address: str | None = None
    namespace: str | None = None
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    detach_keys: str = "ctrl-p,ctrl-q"
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    enable_lxcfs: bool = False
    context: str | None = None
    path: str | None = field(default=None, compare=False)


_TYPES: dict[str, type] = {
    "address": str, "namespace": str, "registry_mirrors": list, "insecure_registries": list,
    "detach_keys": str, "max_concurrent_downloads": int, "max_concurrent_uploads": int,
    "enable_lxcfs": bool, "context": str,
}


def _value(path: str, key: str, value: Any) -> Any:
    want = _TYPES[key.replace("-", "_")]
    # bool is an int in Python; a setting that wants a count must not take ``true``.
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise InvalidArgument(f"{path}: {key} must be {_NAMES[want]}, not {type(value).__name__}")
    if want is int and value < 1:
        raise InvalidArgument(f"{path}: {key} must be at least 1")
    if want is list:
        if not all(isinstance(v, str) and v for v in value):
            raise InvalidArgument(f"{path}: {key} must be a list of non-empty strings")
        return tuple(value)
    return value


_NAMES = {str: "a string", list: "a list of strings", int: "an integer", bool: "true or false"}


def load(env: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """The settings in force: the file's, or the defaults when there is no file."""
    path = _file(env)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Settings()
    except OSError as e:
        raise InvalidArgument(f"cannot read {path}: {e.strerror or e}") from None
    import tomllib

    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidArgument(f"{path}: {e}") from None
    known = {f.name.replace("_", "-") for f in fields(Settings) if f.name != "path"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise InvalidArgument(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        values[key.replace("-", "_")] = _value(path, key, value)
    return Settings(**values, path=path)
