"""``--dry-run``: a stand-in for the managers facade that prints each call instead of making it.

Each call is one line, in the order the script makes them::

    containers.run(CreateOptions(image='busybox', command=['sleep', '300'], name='w1'), detach=True)

and returns a placeholder of the kind the manager method declares (read from its return annotation):
``None``, an empty list, ``0``, an empty string, or a record whose every field reads as
``<containers.run.FIELD>`` so a script can go on (``$web.id``). Plumbing arguments (stdio, cancel) are
not printed.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import IO, Any

from pouchsh.values import Stream

__all__ = ["Placeholder", "Recorder"]

_MANAGER_CLASSES = {
    "containers": ("managers.containers", "ContainerManager"),
    "images": ("managers.images", "ImageManager"),
    "volumes": ("managers.volumes", "VolumeManager"),
    "networks": ("managers.networks", "NetworkManager"),
    "system": ("managers.system", "SystemManager"),
}
_PLUMBING = frozenset({"stdio", "cancel", "stdin", "stdout", "stderr", "progress", "on_progress"})


class Placeholder(dict):  # type: ignore[type-arg]
    """The record a dry-run call returns: empty, but any field reads as ``<call.field>``."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin

    def __missing__(self, key: Any) -> str:
        return f"<{self.origin}.{key}>"


class Recorder:
    """Has the facade's attributes; every method call on a manager is printed and not made."""

    def __init__(self, out: IO[bytes], *, namespace: str = "default", address: str | None = None) -> None:
        self._out = out
        self.namespace = namespace
        self.address = address
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> _Path:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Path(self, name)

    def record(self, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shown = [_show(a) for a in args]
        shown += [f"{k}={_show(v)}" for k, v in kwargs.items() if k not in _PLUMBING]
        line = f"{path}({', '.join(shown)})"
        self.calls.append(line)
        self._out.write((line + "\n").encode())
        self._out.flush()
        return _placeholder(path, kwargs)


class _Path:
    __slots__ = ("_path", "_rec")

    def __init__(self, rec: Recorder, path: str) -> None:
        self._rec = rec
        self._path = path

    def __getattr__(self, name: str) -> _Path:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Path(self._rec, f"{self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._rec.record(self._path, args, kwargs)


def _show(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = []
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and v == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and v == f.default_factory():
                continue
            fields.append(f"{f.name}={_show(v)}")
        return f"{type(value).__name__}({', '.join(fields)})"
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        return repr(value)
    return f"<{type(value).__name__}>"


def _annotation(path: str) -> str | None:
    manager, _, method = path.partition(".")
    where = _MANAGER_CLASSES.get(manager)
    if where is None or not method or "." in method:
        return None
    try:
        cls = getattr(importlib.import_module(where[0]), where[1])
    except Exception:  # noqa: BLE001 - no manager module yet: fall back to null
        return None
    fn = getattr(cls, method, None)
    ann = getattr(fn, "__annotations__", {}).get("return")
    return ann if isinstance(ann, str) else getattr(ann, "__name__", None)


def _placeholder(path: str, kwargs: dict[str, Any]) -> Any:
    ann = (_annotation(path) or "None").replace(" ", "")
    kinds = [k.split("[")[0].rsplit(".", 1)[-1] for k in ann.split("|")]
    if "int" in kinds and kwargs.get("detach") is False:
        return 0
    first = kinds[0]
    if first in ("list", "List", "Iterable", "Sequence"):
        return []
    if first in ("dict", "Dict", "Mapping", "Any") or "Record" in first:
        return Placeholder(path)
    if first in ("Stream", "Iterator", "Generator"):
        return Stream(())
    if first == "int":
        return 0
    if first == "str":
        return f"<{path}>"
    if first == "bool":
        return True
    return None
