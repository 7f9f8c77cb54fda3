"""Contexts: named containerd endpoints a session, a command or a fan-out can be pointed at.

Each context is one file, ``<config dir>/contexts/<name>.json`` (managers.config.config_dir), holding
``{"name", "address", "namespace", "description", "created"}``; ``<config dir>/contexts/current`` holds the
name ``context use`` chose. Nothing here touches the user's config.toml (its ``context`` key is read as
the last default, after this file).

A file is created with ``link(2)`` from a finished temporary file, so two ``context create`` of one name
at once give one context and one ``error[already-exists]``, and a reader never sees half a file. Files are
0600 in a 0700 directory. Because a context decides which socket every later command talks to, a file
that another user owns or may write is refused rather than read (the rule ssh applies to its config).

A context is a containerd socket on this machine (``unix:///path`` or ``/path``; kind ``containerd``), or
a pouchd (kind ``pouchd``): ``tcp://HOST:PORT`` with mutual TLS (``tlscacert``, ``tlscert`` and ``tlskey``
are required, and stored as absolute paths), or ``unix:///path`` created with ``pouchd=True``. A pouchd
context is driven through pouchd's Docker Engine API (managers.remote), for the commands that serves.
(containerd's own TCP listener is no substitute: a container's stdio FIFOs, logs and CNI run on the host
of the caller.)

The name ``default`` is the session's own endpoint (``--address``, ``$CONTAINERD_ADDRESS``, the settings
file), ``all`` every stored context: neither can be created.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctrd.errors import AlreadyExists, InvalidArgument, NotFound
from ctrd.private import PRIVATE_FILE, private_dir
from managers.config import CONTEXT_NAME, RESERVED_CONTEXTS, check_own_file, stored_context

__all__ = ["CONTAINERD", "DEFAULT", "POUCHD", "Context", "ContextStore", "parse_address", "validate_context_name"]

DEFAULT = "default"
# containerd's namespace rule (identifiers.Validate): labels of [a-z0-9] with - _ . inside, up to 76.
_NAMESPACE = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*\Z")
# A context file is a few hundred bytes; a bigger one is not ours.
_MAX_FILE = 64 * 1024


CONTAINERD, POUCHD = "containerd", "pouchd"


@dataclass(frozen=True)
class Context:
    name: str
    address: str
    namespace: str
    description: str = ""
    created: float = 0.0
    kind: str = CONTAINERD
    #: a tcp:// pouchd's mutual TLS files: CA, client certificate, client key
    tls: tuple[str, str, str] | None = None

    def record(self, current: str | None) -> dict[str, Any]:
        return {
            "name": self.name, "current": self.name == current, "address": self.address,
            "namespace": self.namespace, "description": self.description, "kind": self.kind,
            "tls": self.tls is not None,
        }


def validate_context_name(name: str) -> str:
    if not isinstance(name, str) or not CONTEXT_NAME.match(name):
        raise InvalidArgument(
            f"invalid context name {name!r}: use letters, digits, '_', '.' and '-', starting with a letter "
            "or digit, at most 63 characters"
        )
    if name in RESERVED_CONTEXTS:
        raise InvalidArgument(f"{name!r} is a reserved context name (default: the session's own, all: every context)")
    return name


def parse_address(address: str) -> str:
    """``unix:///p``, ``unix:/p`` or ``/p`` → ``/p``; ``tcp://HOST:PORT`` as it is (a pouchd's); anything
    else is refused with the reason."""
    if address.startswith("tcp://"):
        return _tcp_address(address)
    if "://" in address and not address.startswith("unix://"):
        raise InvalidArgument(f"{address}: a context address is unix:///PATH (containerd or pouchd) or "
                              "tcp://HOST:PORT (a pouchd, with mutual TLS)")
    path = address
    if path.startswith("unix://"):
        path = path[len("unix://"):]
    elif path.startswith("unix:"):
        path = path[len("unix:"):]
    if not path.startswith("/") or "\0" in path:
        raise InvalidArgument(f"{address}: a context address is an absolute socket path (unix:///run/containerd/containerd.sock)")
    if len(os.fsencode(path)) > 107:
        raise InvalidArgument(f"{address}: a unix socket path is at most 107 bytes")
    return os.path.normpath(path)


def _tcp_address(address: str) -> str:
    import ipaddress
    import urllib.parse

    parts = urllib.parse.urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if (not host or port is None or parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username or parts.password):
        raise InvalidArgument(f"{address}: a pouchd address is tcp://HOST:PORT")
    try:
        shown = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", host):
            raise InvalidArgument(f"{address}: {host!r} is not a host name or address") from None
        shown = host
    return f"tcp://{shown}:{port}"


def _tls_files(ca: str | None, cert: str | None, key: str | None) -> tuple[str, str, str] | None:
    given = [p for p in (ca, cert, key) if p]
    if not given:
        return None
    if len(given) != 3:
        raise InvalidArgument("--tlscacert, --tlscert and --tlskey go together (mutual TLS)")
    out = []
    for path in (ca, cert, key):
        full = os.path.abspath(str(path))
        if not os.path.isfile(full):
            raise InvalidArgument(f"TLS file {path}: not a file")
        out.append(full)
    from managers.pouchdclient import check_key_file

    check_key_file(out[2])
    return out[0], out[1], out[2]


def _validate_namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace) or len(namespace) > 76:
        raise InvalidArgument(f"invalid namespace {namespace!r}")
    return namespace


class ContextStore:
    """The contexts of one configuration directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _file(self, name: str) -> Path:
        return self.directory / f"{validate_context_name(name)}.json"

    def create(self, name: str, address: str, *, namespace: str = "default", description: str = "",
               pouchd: bool = False, tlscacert: str | None = None, tlscert: str | None = None,
               tlskey: str | None = None) -> Context:
        """A new context. ``tcp://`` is a pouchd's and needs the three TLS files; a ``unix://`` socket is
        containerd's unless ``pouchd``."""
        parsed = parse_address(address)
        tls = _tls_files(tlscacert, tlscert, tlskey)
        kind = POUCHD if pouchd or parsed.startswith("tcp://") else CONTAINERD
        if parsed.startswith("tcp://") and tls is None:
            raise InvalidArgument(f"{address}: a tcp:// pouchd is reached only with mutual TLS",
                                  hint="add --tlscacert CA --tlscert CERT --tlskey KEY")
        if tls is not None and not parsed.startswith("tcp://"):
            raise InvalidArgument("TLS files are for a tcp:// pouchd; a unix socket's access is its file mode")
        context = Context(
            name=validate_context_name(name), address=parsed, namespace=_validate_namespace(namespace),
            description=str(description), created=time.time(), kind=kind, tls=tls,
        )
        doc: dict[str, Any] = {
            "name": context.name, "address": context.address, "namespace": context.namespace,
            "description": context.description, "created": context.created, "kind": context.kind,
        }
        if tls is not None:
            doc.update({"tlscacert": tls[0], "tlscert": tls[1], "tlskey": tls[2]})
        data = json.dumps(doc, indent=2).encode() + b"\n"
        private_dir(self.directory)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), PRIVATE_FILE)
                f.flush()
                os.fsync(f.fileno())
            try:
                # link, unlike rename, fails when the name is taken: create-if-absent in one step.
                os.link(tmp, self._file(name))
            except FileExistsError:
                raise AlreadyExists(f"context {name} already exists", hint=f"context rm {name}") from None
        finally:
            os.unlink(tmp)
        _fsync_dir(self.directory)
        return context

    def get(self, name: str) -> Context:
        if name == DEFAULT:
            raise InvalidArgument("default is the session's own endpoint, not a stored context")
        path = self._file(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            known = self.names()
            from difflib import get_close_matches

            close = get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else ("known: " + ", ".join(known) if known else "context create NAME --address unix:///PATH")
            raise NotFound(f"no context named {name}", hint=hint) from None
        except OSError as e:
            raise InvalidArgument(f"cannot read context file {path}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
            check_own_file(path, st)
            raw = os.read(fd, _MAX_FILE + 1)
        finally:
            os.close(fd)
        return _parse(path, name, raw)

    def names(self) -> list[str]:
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(e[:-5] for e in entries if e.endswith(".json") and CONTEXT_NAME.match(e[:-5]) and e[:-5] not in RESERVED_CONTEXTS)

    def list(self) -> list[Context]:
        return [self.get(n) for n in self.names()]

    def remove(self, name: str, *, force: bool = False) -> str:
        path = self._file(name)
        if self.current() == name:
            if not force:
                raise InvalidArgument(f"context {name} is the current one", hint="context use default, or rm -f")
            self.use(DEFAULT)
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise NotFound(f"no context named {name}") from None
        _fsync_dir(self.directory)
        return name

    def current(self) -> str | None:
        """The name ``context use`` stored, or None (none, or ``default``)."""
        name = stored_context(self.directory)
        return None if name == DEFAULT else name

    def use(self, name: str) -> None:
        """Make ``name`` the current context (``default``: none)."""
        if name != DEFAULT:
            self.get(name)
        from managers.store import write_atomic

        write_atomic(self.directory / "current", name.encode() + b"\n")

    def expand(self, spec: str) -> list[str]:
        """``a,b,c`` or ``all`` → the context names, each checked to exist, in the order given."""
        if spec.strip() == "all":
            names = self.names()
            if not names:
                raise NotFound("--context all: there are no contexts", hint="context create NAME --address unix:///PATH")
            return names
        out: list[str] = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                raise InvalidArgument(f"--context {spec!r}: an empty context name")
            if part == "all":
                raise InvalidArgument("--context all stands alone")
            if part not in out:
                if part != DEFAULT:
                    self.get(part)
                out.append(part)
        return out


def _parse(path: Path, name: str, raw: bytes) -> Context:
    if len(raw) > _MAX_FILE:
        raise InvalidArgument(f"{path}: too large for a context file")
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"{path}: not a context file: {e}") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("address", "namespace")):
        raise InvalidArgument(f"{path}: not a context file (address and namespace must be strings)")
    description = doc.get("description", "")
    created = doc.get("created", 0.0)
    kind = doc.get("kind", CONTAINERD)
    address = parse_address(doc["address"])
    if kind not in (CONTAINERD, POUCHD) or (address.startswith("tcp://") and kind != POUCHD):
        raise InvalidArgument(f"{path}: not a context file (kind {kind!r} with address {address})")
    tls = None
    if address.startswith("tcp://"):
        files = [doc.get(k) for k in ("tlscacert", "tlscert", "tlskey")]
        if not all(isinstance(f, str) and f.startswith("/") for f in files):
            raise InvalidArgument(f"{path}: a tcp:// context needs its three TLS files")
        tls = (files[0], files[1], files[2])
    return Context(
        name=name, address=address, namespace=_validate_namespace(doc["namespace"]),
        description=description if isinstance(description, str) else "",
        created=float(created) if isinstance(created, (int, float)) and not isinstance(created, bool) else 0.0,
        kind=kind, tls=tls,
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
