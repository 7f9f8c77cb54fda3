"""``--dry-run``: a stand-in for the managers facade that prints each call instead of making it.

Each call is one line, in the order the script makes them::

    containers.run(CreateOptions(image='busybox', command=['sleep', '300'], name='w1'), detach=True)

and returns a placeholder of the kind the manager method declares (read from its return annotation):
``None``, an empty list, ``0``, an empty string, or a record whose every field reads as
``<containers.run.FIELD>`` so a script can go on (``$web.id``). Plumbing arguments (stdio, cancel, when
a ``--rm`` container is removed) are not printed.

Secrets are printed as ``***``: arguments whose name says they are one (``password``, ``token``,
``secret``; a positional is named by the real manager method's signature, imported on the first call),
fields and keys of those names inside records, and any value the evaluator said came from a secret flag
(``Recorder.conceal``), wherever it is passed.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
from collections.abc import Iterable
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
_PLUMBING = frozenset({"stdio", "remove_later", "cancel", "stdin", "stdout", "stderr", "progress", "on_progress"})
_SECRET_NAME = re.compile(r"(^|_)(password|passwd|token|secret)(_|$)", re.IGNORECASE)
_MASK = "***"


#: Fields of manager records by the kind of value they hold, so a placeholder's field has its type:
#: ``$c.ports | length`` is 0, ``$c.labels.tier?`` a record's field, ``(inspect web).network_settings``
#: a record whose networks are records again. Any other field is a ``<call.field>`` string.
_LIST_FIELDS = frozenset({
    "ports", "networks", "mounts", "env", "containers", "removed", "repo_tags", "repo_digests", "volumes",
    "cmd", "entrypoint", "exposed_ports", "layers", "deleted", "untagged", "aliases",
})
_RECORD_FIELDS = frozenset({
    "labels", "all_labels", "network_settings", "config", "spec", "attributes", "user", "options", "process",
    "rootfs", "state",
})
_NUMBER_FIELDS = frozenset({"exit_code", "pid", "size", "reclaimed", "mtu", "prefix_len", "stop_timeout", "count"})


class Placeholder(dict):  # type: ignore[type-arg]
    """The record a dry-run call returns: it has every field, each of the type the real record's has
    (a list, a record, a number) or else the string ``<call.field>``, so a script that reads fields of
    what ``run`` returned goes on (``$web.id``, ``get name``, ``(inspect web).network_settings.shop.ip``)."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) or dict.__contains__(self, key)

    def __missing__(self, key: Any) -> Any:
        where = f"{self.origin}.{key}"
        if key in _LIST_FIELDS:
            return []
        if key in _NUMBER_FIELDS:
            return 0
        if key in _RECORD_FIELDS or self.origin.endswith((".network_settings", ".networks")):
            return Placeholder(where)
        return f"<{where}>"


class Recorder:
    """Has the facade's attributes; every method call on a manager is printed and not made."""

    def __init__(self, out: IO[bytes], *, namespace: str = "default", address: str | None = None) -> None:
        self._out = out
        self.namespace = namespace
        self.address = address
        self.calls: list[str] = []
        self.made: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []  # the calls as made (a transaction's plan)
        self._secrets: set[str] = set()

    def conceal(self, values: Iterable[Any]) -> None:
        """Print ``***`` for each of these values (those of secret flags) in every later call."""
        self._secrets.update(v for v in values if isinstance(v, str) and v)

    def close(self) -> None:
        """The facade's close: a dry run holds no channel, and the end of a program is not in its plan."""

    def __getattr__(self, name: str) -> _Path:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Path(self, name)

    def record(self, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        names = _parameter_names(path)
        shown = [self._show(a, names[i] if i < len(names) else "") for i, a in enumerate(args)]
        shown += [f"{k}={self._show(v, k)}" for k, v in kwargs.items() if k not in _PLUMBING]
        line = f"{path}({', '.join(shown)})"
        self.calls.append(line)
        self.made.append((path, args, kwargs))
        self.note(line)
        return _placeholder(path, args, kwargs)

    def note(self, line: str) -> None:
        """Print one line of the plan (a call, or a transaction's begin, undo plan and commit)."""
        self._out.write((line + "\n").encode())
        self._out.flush()

    def _show(self, value: Any, name: str = "") -> str:
        """``repr``-like text for an argument named ``name``, its secrets masked."""
        if value is not None and _SECRET_NAME.search(name) and not isinstance(value, bool):
            return _MASK
        if isinstance(value, str):
            return _MASK if value in self._secrets else repr(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = []
            for f in dataclasses.fields(value):
                v = getattr(value, f.name)
                if f.default is not dataclasses.MISSING and v == f.default:
                    continue
                if f.default_factory is not dataclasses.MISSING and v == f.default_factory():
                    continue
                fields.append(f"{f.name}={self._show(v, f.name)}")
            return f"{type(value).__name__}({', '.join(fields)})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{self._show(k)}: {self._show(v, str(k))}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return f"[{', '.join(self._show(v) for v in value)}]"
        if isinstance(value, tuple):
            items = [self._show(v) for v in value]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        if isinstance(value, (int, float, bool, type(None))):
            return repr(value)
        return f"<{type(value).__name__}>"


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


def _method(path: str) -> Any:
    """The real manager method a call path names (``images.login``), or None."""
    manager, _, method = path.partition(".")
    where = _MANAGER_CLASSES.get(manager)
    if where is None or not method or "." in method:
        return None
    cls = getattr(importlib.import_module(where[0]), where[1])
    return getattr(cls, method, None)


@functools.cache
def _parameter_names(path: str) -> tuple[str, ...]:
    """The names of a manager method's positional parameters, after ``self``."""
    fn = _method(path)
    try:
        params = list(inspect.signature(fn).parameters.values()) if fn is not None else []
    except (TypeError, ValueError):
        return ()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in params if p.kind in kinds)[1:]


def _annotation(path: str) -> str | None:
    fn = _method(path)
    ann = getattr(fn, "__annotations__", {}).get("return")
    return ann if isinstance(ann, str) else getattr(ann, "__name__", None)


def _known(record: Placeholder, args: tuple[Any, ...]) -> Placeholder:
    """A placeholder record with what the call itself says: the name and image ``run`` was given, the
    name of the volume or network made, so ``$c.name`` reads as the script will see it."""
    first = args[0] if args else None
    for field in ("name", "image", "labels"):
        value = getattr(first, field, None) if dataclasses.is_dataclass(first) else None
        if value:
            record[field] = dict(value) if isinstance(value, dict) else value
    if isinstance(first, str) and first and record.origin.endswith((".create", ".inspect")):
        record["name"] = first
    return record


def _placeholder(path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    ann = (_annotation(path) or "None").replace(" ", "")
    kinds = [k.split("[")[0].rsplit(".", 1)[-1] for k in ann.split("|")]
    if "int" in kinds and kwargs.get("detach") is False:
        return 0
    first = kinds[0]
    if first in ("list", "List", "Iterable", "Sequence"):
        return []
    if first in ("dict", "Dict", "Mapping", "Any") or "Record" in first:
        return _known(Placeholder(path), args)
    if first in ("Stream", "Iterator", "Generator"):
        return Stream(())
    if first == "int":
        return 0
    if first == "str":
        return f"<{path}>"
    if first == "bool":
        return True
    return None
