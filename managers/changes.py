"""``--change``: Dockerfile instructions applied to an image's run-time config, for ``commit`` and
``import`` alike (one parser).

The instructions are docker's: ``CMD``, ``ENTRYPOINT``, ``ENV``, ``EXPOSE``, ``LABEL``, ``USER``,
``WORKDIR``, ``VOLUME``, ``STOPSIGNAL``, in Dockerfile syntax: ``CMD ["nginx", "-g", "daemon off;"]``
(the JSON form) or ``CMD nginx -g 'daemon off;'`` (the shell form, run by ``/bin/sh -c``),
``ENV A=1 B="two words"`` (or the old ``ENV A 1``), ``LABEL k=v``, ``EXPOSE 80 53/udp``,
``VOLUME ["/data"]`` or ``VOLUME /data /logs``. The config they change is the ``config`` object of an
OCI image config (``Cmd``, ``Entrypoint``, ``Env``, ``ExposedPorts``, ``Labels``, ``User``,
``WorkingDir``, ``Volumes``, ``StopSignal``). Anything else (``RUN``, ``COPY``, a typo) is an
InvalidArgument naming the instruction, before anything is made.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import shlex
from collections.abc import Iterable
from typing import Any

from ctrd.errors import InvalidArgument

__all__ = ["INSTRUCTIONS", "MAX_CHANGE", "apply_changes"]

INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL")
#: one instruction's text; a longer one is not a hand-written change
MAX_CHANGE = 64 * 1024
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$")


def apply_changes(config: dict[str, Any] | None, changes: Iterable[str]) -> dict[str, Any]:
    """A copy of ``config`` (an image config's ``config`` object) with ``changes`` applied in order."""
    out = copy.deepcopy(dict(config or {}))
    for change in changes:
        _apply(out, change)
    return out


def _apply(config: dict[str, Any], change: str) -> None:
    text = str(change).strip()
    if len(text) > MAX_CHANGE:
        raise InvalidArgument(f"--change: an instruction longer than {MAX_CHANGE} characters")
    if "\x00" in text:
        raise InvalidArgument("--change: an instruction holds a NUL byte")
    word, _, rest = text.partition(" ")
    keyword, rest = word.upper(), rest.strip()
    if keyword not in INSTRUCTIONS:
        raise InvalidArgument(
            f"--change {text[:60]!r}: {word or 'an empty instruction'} is not one of {', '.join(INSTRUCTIONS)}"
        )
    if not rest:
        raise InvalidArgument(f"--change {text[:60]!r}: {keyword} needs an argument")
    try:
        _HANDLERS[keyword](config, rest)
    except ValueError as err:  # shlex's unclosed quotes, bad numbers
        raise InvalidArgument(f"--change {text[:60]!r}: {err}") from None


def _command(rest: str) -> list[str]:
    """The JSON form when the argument is a JSON array of strings, else the shell form."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _cmd(config: dict[str, Any], rest: str) -> None:
    config["Cmd"] = _command(rest)


def _entrypoint(config: dict[str, Any], rest: str) -> None:
    config["Entrypoint"] = _command(rest)
    # as in a Dockerfile, a new entrypoint drops the Cmd it was given with the base image
    config.pop("Cmd", None)


def _pairs(rest: str, what: str) -> list[tuple[str, str]]:
    """``K=V K2="V 2"``, or the old one-pair form ``K V with spaces``."""
    words = shlex.split(rest, posix=True)
    if words and "=" not in words[0]:
        key, _, value = rest.partition(" ")
        value = value.strip()
        if not value:
            raise ValueError(f"{what} {key}: no value (use {key}=VALUE)")
        return [(key, " ".join(shlex.split(value, posix=True)))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: {word!r} is not KEY=VALUE")
        pairs.append((key, value))
    return pairs


def _env(config: dict[str, Any], rest: str) -> None:
    env = list(config.get("Env") or [])
    for key, value in _pairs(rest, "ENV"):
        if not _NAME.match(key):
            raise ValueError(f"ENV: {key!r} is not a variable name")
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _label(config: dict[str, Any], rest: str) -> None:
    labels = dict(config.get("Labels") or {})
    labels.update(_pairs(rest, "LABEL"))
    config["Labels"] = labels


def _expose(config: dict[str, Any], rest: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in shlex.split(rest, posix=True):
        m = _PORT.match(word.lower())
        if m is None:
            raise ValueError(f"EXPOSE: {word!r} is not PORT[/tcp|udp|sctp]")
        low, high, proto = int(m.group(1)), int(m.group(2) or m.group(1)), m.group(3) or "tcp"
        if not 0 < low <= high <= 65535 or high - low > 1024:
            raise ValueError(f"EXPOSE: {word!r} is not a port (or range of at most 1024) in 1-65535")
        for port in range(low, high + 1):
            ports[f"{port}/{proto}"] = {}
    config["ExposedPorts"] = ports


def _user(config: dict[str, Any], rest: str) -> None:
    if len(rest.split()) != 1:
        raise ValueError("USER takes one name or uid[:group|gid]")
    config["User"] = rest


def _workdir(config: dict[str, Any], rest: str) -> None:
    path = " ".join(shlex.split(rest, posix=True))
    # A relative WORKDIR goes on from the one before, as in a Dockerfile.
    config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", path))


def _volume(config: dict[str, Any], rest: str) -> None:
    paths: list[str]
    try:
        value = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        value = None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        paths = value
    else:
        paths = shlex.split(rest, posix=True)
    volumes = dict(config.get("Volumes") or {})
    for path in paths:
        if not path.startswith("/"):
            raise ValueError(f"VOLUME {path!r}: must be an absolute path")
        volumes[posixpath.normpath(path)] = {}
    config["Volumes"] = volumes


def _stopsignal(config: dict[str, Any], rest: str) -> None:
    from managers.options import parse_signal

    try:
        config["StopSignal"] = parse_signal(rest.strip(), "STOPSIGNAL")[0]
    except InvalidArgument as err:
        raise ValueError(err.message) from None


_HANDLERS = {
    "CMD": _cmd, "ENTRYPOINT": _entrypoint, "ENV": _env, "EXPOSE": _expose, "LABEL": _label, "USER": _user,
    "WORKDIR": _workdir, "VOLUME": _volume, "STOPSIGNAL": _stopsignal,
}
