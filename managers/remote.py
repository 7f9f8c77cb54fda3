"""The managers facade of a pouchd context: the commands a fleet needs, over pouchd's Docker Engine API
(managers.pouchdclient), with the records the local managers give.

Served: ``ps``, ``inspect``, ``create``, ``run -d``, ``start``, ``stop``, ``restart``, ``kill``, ``wait``,
``exec`` (without -i/-t), ``rm``, ``logs`` (containers), ``images``, ``pull``, ``volume ls`` and
``network ls``. Any other
command on a pouchd context is refused with ``error[unavailable]`` naming it (``NotServed``), never
half-done. The records come from another host: each field is taken only with the type it should have
(``_text``, ``_int`` ...), a record without a usable id is dropped, and references sent back are checked
(``_ref``) so that a name cannot add path segments to a request.
"""

from __future__ import annotations

import builtins
import json
import re
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ctrd.errors import Interrupted, InvalidArgument, NotFound, PouchError, PouchRuntimeError, Unavailable
from managers.pouchdclient import PouchdClient, StreamBody, TLSFiles

__all__ = ["NotServed", "RemoteManagers"]

#: a container or image reference sent in a path: a name, an id (prefix), or an image reference
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,511}\Z")
#: a container's or exec's id from pouchd, sent back in a path: hex only (a name may hold a slash)
_ID = re.compile(r"[0-9a-f]{12,64}\Z")
_STATES = frozenset({"created", "running", "paused", "restarting", "removing", "exited", "dead"})
_EXITED = re.compile(r"Exited \((-?\d+)\)")
#: logs read whole (without -f): at most this much; a frame of the multiplexed stream: at most this much
_MAX_LOGS = 64 << 20
_MAX_FRAME = 16 << 20
_MAX_PULL_LINE = 1 << 20
#: CreateOptions fields run -d sends to pouchd; any other one set away from its default is refused
_SENT = frozenset({
    "image", "args", "name", "env", "labels", "workdir", "user", "entrypoint", "hostname", "restart",
    "stop_signal", "stop_timeout", "read_only", "memory", "cpus", "pids_limit", "rm", "tty", "interactive",
    "network", "publish", "privileged", "cap_add", "cap_drop", "pull",
})


class NotServed(Unavailable, AttributeError):
    """A manager or verb a pouchd context does not serve (an AttributeError too, so ``getattr(facade,
    name, default)`` probes still work)."""


def _ref(ref: Any, what: str = "container") -> str:
    text = str(ref)
    if not _REF.match(text) or ".." in text:
        raise InvalidArgument(f"{what} {text[:100]!r}: not a name, id or reference pouchsh sends to pouchd")
    return text


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _iso(seconds: Any) -> str:
    value = _int(seconds)
    if value is None or value <= 0:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def _docker_filters(filters: Iterable[str]) -> dict[str, list[str]]:
    """pouchsh's ``--filter key=value`` list as docker's ``{"key": ["value", …]}``."""
    out: dict[str, list[str]] = {}
    for item in filters:
        key, eq, value = str(item).partition("=")
        if not eq or not key:
            raise InvalidArgument(f"--filter {item!r}: expected key=value")
        out.setdefault(key, []).append(value)
    return out


class RemoteManagers:
    """A pouchd context's facade (what ``Managers.for_context`` gives for one)."""

    def __init__(self, name: str, address: str, namespace: str, tls: TLSFiles | None) -> None:
        self.context = name
        self.address = address
        self.namespace = namespace
        self.api = PouchdClient(address, tls)
        self.containers = RemoteContainers(self)
        self.images = RemoteImages(self)
        self.volumes = RemoteVolumes(self)
        self.networks = RemoteNetworks(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotServed(f"a pouchd ({self.address}): its {name} are not reached through it", hint=_SERVED_HINT)

    def close(self) -> None:
        self.api.close()


_SERVED_HINT = ("a pouchd context serves ps, inspect, create, run -d, start, stop, restart, kill, wait, "
                "exec (without -i/-t), rm, logs, images, pull, volume ls and network ls")


class _Remote:
    def __init__(self, facade: RemoteManagers) -> None:
        self.facade = facade
        self.api = facade.api

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotServed(f"a pouchd ({self.facade.address}): {type(self).__name__.removeprefix('Remote').lower()} "
                        f"{name} is not served through it", hint=_SERVED_HINT)


class RemoteContainers(_Remote):
    def list(self, *, all: bool = False, last: int | None = None, latest: bool = False,
             filters: Iterable[str] = (), no_trunc: bool = False, quiet: bool = False) -> builtins.list[Any]:
        if last is not None and last < 0:
            raise InvalidArgument("--last must not be negative")
        limit = 1 if latest else last
        params: dict[str, Any] = {"all": all or limit is not None, "limit": limit,
                                  "filters": _docker_filters(filters) or None}
        reply = self.api.get("/containers/json", params, what="ps")
        rows = [row for row in map(_container_row, reply if isinstance(reply, builtins.list) else []) if row]
        rows.sort(key=lambda r: r["created"], reverse=True)
        if limit is not None:
            rows = rows[:limit]
        if not no_trunc:
            rows = [dict(r, id=r["id"][:12]) for r in rows]
        return [r["id"] for r in rows] if quiet else rows

    def inspect(self, ref: str) -> dict[str, Any]:
        doc = self._inspect(ref)
        state = doc.get("State") if isinstance(doc.get("State"), dict) else {}
        config = doc.get("Config") if isinstance(doc.get("Config"), dict) else {}
        status = _text(state.get("Status"))
        return {
            "id": _text(doc.get("Id")), "name": _text(doc.get("Name")).lstrip("/"), "image": _text(config.get("Image")),
            "command": " ".join(a for a in [_text(doc.get("Path")), *(
                _text(a) for a in (doc.get("Args") if isinstance(doc.get("Args"), builtins.list) else []))] if a),
            "status": status if status in _STATES else "unknown",
            "exit_code": _int(state.get("ExitCode")) if status == "exited" else None,
            "pid": _int(state.get("Pid")) or None,
            "created": _text(doc.get("Created")), "started": _text(state.get("StartedAt")),
            "finished": _text(state.get("FinishedAt")), "labels": _labels(config.get("Labels")),
            "tty": config.get("Tty") is True,
        }

    def _id(self, ref: str) -> str:
        """The full id of the container ``ref`` names, as pouchd resolves it: the one acted on next."""
        cid = _text(self._inspect(ref).get("Id"))
        if not _ID.match(cid):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: inspect {ref}: not a container id")
        return cid

    def _inspect(self, ref: str) -> dict[str, Any]:
        doc = self.api.get(f"/containers/{_ref(ref)}/json", what=f"inspect {ref}")
        if not isinstance(doc, dict) or not _text(doc.get("Id")):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: inspect {ref}: not a container record")
        return doc

    def remove(self, refs: builtins.list[str], *, force: bool = False, volumes: bool = False) -> builtins.list[str]:
        removed = []
        for ref in refs:
            cid = self._id(ref)
            self.api.json("DELETE", f"/containers/{cid}", {"force": force, "v": volumes}, what=f"rm {ref}")
            removed.append(cid)
        return removed

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None, since: Any = None,
             until: Any = None, timestamps: bool = False, cancel: threading.Event | None = None) -> Any:
        from managers.times import parse_time

        doc = self._inspect(ref)
        cid = _text(doc.get("Id"))
        tty = isinstance(doc.get("Config"), dict) and doc["Config"].get("Tty") is True
        since_ns, until_ns = parse_time(since, "--since"), parse_time(until, "--until")
        params = {"stdout": True, "stderr": True, "follow": follow, "timestamps": timestamps,
                  "tail": "all" if tail is None else str(tail),
                  "since": None if since_ns is None else f"{since_ns / 1e9:.9f}",
                  "until": None if until_ns is None else f"{until_ns / 1e9:.9f}"}
        if follow:
            return _Follow(self.api, f"/containers/{_ref(cid)}/logs", params, tty, cancel, f"logs {ref}")
        with self.api.stream("GET", f"/containers/{_ref(cid)}/logs", params, what=f"logs {ref}",
                             cancel=cancel) as chunks:
            pieces, size = [], 0
            for piece in _payloads(chunks, tty):
                size += len(piece)
                if size > _MAX_LOGS:
                    raise InvalidArgument(f"logs {ref}: more than {_MAX_LOGS} bytes; use --tail")
                pieces.append(piece)
        return b"".join(pieces).decode("utf-8", "replace")

    def create(self, opts: Any) -> dict[str, Any]:
        """``create`` on the pouchd: the same options as ``run -d`` (``_create_body``); its record."""
        return self._record(self._create(opts))

    def _create(self, opts: Any) -> str:
        body, name = _create_body(opts)
        params = {"name": name}
        if opts.pull == "always":
            self.facade.images.pull(opts.image)
        try:
            made = self.api.json("POST", "/containers/create", params, body=body, what=f"create {opts.image}")
        except NotFound:
            if opts.pull == "never":
                raise
            self.facade.images.pull(opts.image)
            made = self.api.json("POST", "/containers/create", params, body=body, what=f"create {opts.image}")
        cid = _text(made.get("Id")) if isinstance(made, dict) else ""
        if not _ID.match(cid):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: create {opts.image}: no container id in the reply")
        return cid

    def _record(self, cid: str) -> dict[str, Any]:
        rows = self.list(all=True, filters=[f"id={cid}"], no_trunc=True)
        return rows[0] if rows else {"id": cid}

    def run(self, opts: Any, *, detach: bool, stdio: Any = None) -> dict[str, Any]:
        if not detach:
            raise NotServed(f"a pouchd ({self.facade.address}): run there with -d (its output: logs)",
                            hint=_SERVED_HINT)
        cid = self._create(opts)
        try:
            self.api.json("POST", f"/containers/{_ref(cid)}/start", what=f"start {cid[:12]}")
        except PouchError:
            try:
                self.api.json("DELETE", f"/containers/{_ref(cid)}", {"force": True}, what=f"rm {cid[:12]}")
            except PouchError:
                pass
            raise
        return self._record(cid)

    def _each(self, refs: builtins.list[str], verb: str, params: dict[str, Any] | None = None) -> builtins.list[dict[str, Any]]:
        """``POST /containers/{id}/VERB`` for each container (resolved to its id first, so the record read
        back is the one acted on); their records after it, as the local verbs return."""
        out = []
        for ref in refs:
            cid = self._id(ref)
            self.api.json("POST", f"/containers/{cid}/{verb}", params, what=f"{verb} {ref}")
            out.append(self._record(cid))
        return out

    def start(self, refs: builtins.list[str], *, attach: bool = False, interactive: bool = False,
              stdio: Any = None) -> builtins.list[dict[str, Any]]:
        if attach or interactive:
            raise NotServed(f"a pouchd ({self.facade.address}): start -a/-i is not served through it "
                            "(start it, then logs -f)", hint=_SERVED_HINT)
        return self._each(refs, "start")

    def stop(self, refs: builtins.list[str], *, timeout: int | None = None,
             signal: str | None = None) -> builtins.list[dict[str, Any]]:
        return self._each(refs, "stop", {"t": timeout, "signal": _signal(signal) if signal else None})

    def restart(self, refs: builtins.list[str], *, timeout: int | None = None) -> builtins.list[dict[str, Any]]:
        return self._each(refs, "restart", {"t": timeout})

    def kill(self, refs: builtins.list[str], *, signal: str = "SIGKILL") -> builtins.list[dict[str, Any]]:
        return self._each(refs, "kill", {"signal": _signal(signal)})

    def wait(self, refs: builtins.list[str], *, cancel: threading.Event | None = None) -> builtins.list[int]:
        """``wait``: each container's exit status, as pouchd's ``POST /containers/{id}/wait`` answers it
        (one JSON line, however long the container runs: no read deadline, Ctrl-C ends it)."""
        codes = []
        for ref in refs:
            cid = self._id(ref)
            with self.api.stream("POST", f"/containers/{cid}/wait", what=f"wait {ref}", cancel=cancel,
                                 read_timeout=None) as chunks, _aborted_on(cancel, chunks):
                reply = _small_json(chunks, f"pouchd {self.facade.address}: wait {ref}", cancel)
            code = _int(reply.get("StatusCode")) if isinstance(reply, dict) else None
            if code is None:
                raise PouchRuntimeError(f"pouchd {self.facade.address}: wait {ref}: no exit status in the reply")
            codes.append(code)
        return codes

    def exec(self, ref: str, args: builtins.list[str], *, detach: bool = False, interactive: bool = False,
             tty: bool = False, env: builtins.list[str] = (),  # type: ignore[assignment]
             workdir: str | None = None, user: str | None = None, privileged: bool = False,
             stdio: Any = None, exec_suffix: str | None = None) -> Any:
        """``exec`` through pouchd's exec API: its output (docker's frames, not a hijacked terminal) to
        ``stdio``, and the exit status pouchd records for it; with -d, {id, exec_id, pid: null}."""
        if interactive or tty:
            raise NotServed(f"a pouchd ({self.facade.address}): exec -i/-t is not served through it "
                            "(a command without a terminal or stdin is)", hint=_SERVED_HINT)
        if exec_suffix is not None:
            raise InvalidArgument("exec on a pouchd context: pouchd names its execs")
        if not args:
            raise InvalidArgument("exec: a command is required")
        if workdir and not workdir.startswith("/"):
            raise InvalidArgument(f"--workdir {workdir}: must be an absolute path")
        cid = self._id(ref)
        body = {"Cmd": [str(a) for a in args], "Env": [str(e) for e in env], "WorkingDir": workdir or "",
                "User": user or "", "Privileged": privileged, "Tty": False, "AttachStdin": False,
                "AttachStdout": not detach, "AttachStderr": not detach}
        made = self.api.json("POST", f"/containers/{cid}/exec", body=body, what=f"exec in {ref}")
        exec_id = _text(made.get("Id")) if isinstance(made, dict) else ""
        if not _ID.match(exec_id):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: exec in {ref}: no exec id in the reply")
        if detach:
            self.api.json("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": False},
                          what=f"exec in {ref}")
            return {"id": cid, "exec_id": exec_id, "pid": None}
        if stdio is None:
            raise InvalidArgument("exec without -d needs standard streams")
        cancel = stdio.cancel
        try:
            with self.api.stream("POST", f"/exec/{exec_id}/start", body={"Detach": False, "Tty": False},
                                 what=f"exec in {ref}", cancel=cancel, read_timeout=None) as chunks, \
                    _aborted_on(cancel, chunks):
                for kind, payload in _frames(chunks):
                    out = stdio.stderr if kind == 2 else stdio.stdout
                    out.write(payload)
                    out.flush()
        except PouchError:
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"exec in {ref} interrupted (the process goes on in the container)") from None
            raise
        doc = self.api.get(f"/exec/{exec_id}/json", what=f"exec in {ref}")
        code = _int(doc.get("ExitCode")) if isinstance(doc, dict) else None
        if code is None:
            raise PouchRuntimeError(f"pouchd {self.facade.address}: exec in {ref}: no exit status recorded")
        return code


def _signal(value: str | int) -> str:
    """A signal checked here (the local ``--signal`` rule) and sent by its name."""
    from managers.options import parse_signal

    return parse_signal(value, "--signal")[0]


#: a small JSON reply read without the body deadline (wait's): at most this many bytes
_MAX_SMALL_JSON = 64 << 10


@contextmanager
def _aborted_on(cancel: threading.Event | None, body: StreamBody) -> Iterator[None]:
    """While the block runs, a set ``cancel`` shuts the stream down: a read blocked on a quiet stream (a
    long ``wait``, an exec that prints nothing) wakes only so."""
    if cancel is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if cancel.is_set():
                body.abort()
                return

    threading.Thread(target=watch, name="pouchd-stream-cancel", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def _small_json(chunks: Iterable[bytes], what: str, cancel: threading.Event | None) -> Any:
    buf = b""
    try:
        for chunk in chunks:
            buf += chunk
            if len(buf) > _MAX_SMALL_JSON:
                raise InvalidArgument(f"{what}: the reply is larger than {_MAX_SMALL_JSON} bytes")
    except PouchError:
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{what}: interrupted") from None
        raise
    try:
        return json.loads(buf)
    except ValueError:
        raise PouchRuntimeError(f"{what}: the reply is not JSON") from None


class _Follow:
    """``logs -f``: the lines as pouchd sends them, until the container stops, Ctrl-C (``cancel``), or
    ``close``. A quiet stream blocks in a read, so a watcher closes the response when ``cancel`` is set."""

    def __init__(self, api: PouchdClient, path: str, params: dict[str, Any], tty: bool,
                 cancel: threading.Event | None, what: str) -> None:
        self._user_cancel = cancel
        self._done = threading.Event()
        self._closing = threading.Lock()
        self._what = what
        self._stream = api.stream("GET", path, params, what=what, cancel=self._done, read_timeout=None)
        self._chunks = self._stream.__enter__()
        self._tty = tty
        if cancel is not None:
            threading.Thread(target=self._watch, name="pouchd-logs-follow", daemon=True).start()

    def _watch(self) -> None:
        assert self._user_cancel is not None
        while not self._done.wait(0.2):
            if self._user_cancel.is_set():
                self._chunks.abort()
                return

    def __iter__(self) -> Iterator[str]:
        pending = b""
        try:
            for piece in _payloads(self._chunks, self._tty):
                pending += piece
                *lines, pending = pending.split(b"\n")
                for line in lines:  # as the local logs -f: a line without its newline
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        except PouchError:
            if self._user_cancel is not None and self._user_cancel.is_set():
                raise Interrupted(f"{self._what} interrupted") from None
            raise
        finally:
            self.close()

    def close(self) -> None:
        with self._closing:
            if not self._done.is_set():
                self._done.set()
                self._stream.__exit__(None, None, None)


def _payloads(chunks: Iterator[bytes], tty: bool) -> Iterator[bytes]:
    """The log's bytes: as sent for a terminal's; else docker's multiplexed frames unwrapped, stdout's and
    stderr's alike."""
    if tty:
        yield from chunks
        return
    for _kind, payload in _frames(chunks):
        yield payload


def _frames(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """docker's multiplexed frames (8-byte header: stream, 3 zero bytes, big-endian length) as (stream,
    payload); a frame of another stream or larger than ``_MAX_FRAME`` is a broken stream."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            kind, size = struct.unpack(">BxxxL", buf[:8])
            if kind not in (0, 1, 2) or size > _MAX_FRAME:
                raise PouchRuntimeError("pouchd's stream is not docker's framing")
            if len(buf) < 8 + size:
                break
            yield kind, buf[8:8 + size]
            buf = buf[8 + size:]
    if buf:
        raise PouchRuntimeError("pouchd's stream ended inside a frame")


def _container_row(item: Any) -> dict[str, Any] | None:
    """A ``GET /containers/json`` item as pouchsh's ``ps`` record; None when it has no usable id."""
    if not isinstance(item, dict) or not _REF.match(_text(item.get("Id"))):
        return None
    names = item.get("Names") if isinstance(item.get("Names"), builtins.list) else []
    state = _text(item.get("State"))
    status_text = _text(item.get("Status"))
    exited = _EXITED.match(status_text)
    networks = item.get("NetworkSettings", {}).get("Networks") if isinstance(item.get("NetworkSettings"), dict) else None
    ports = []
    for p in item.get("Ports") if isinstance(item.get("Ports"), builtins.list) else []:
        if isinstance(p, dict) and _int(p.get("PrivatePort")):
            ports.append({"host_ip": _text(p.get("IP")), "host_port": _int(p.get("PublicPort")) or 0,
                          "container_port": p["PrivatePort"], "protocol": _text(p.get("Type")) or "tcp"})
    return {
        "id": item["Id"],
        "name": _text(names[0]).lstrip("/") if names else "",
        "image": _text(item.get("Image")),
        "command": _text(item.get("Command")),
        "status": state if state in _STATES else "unknown",
        "state": status_text,
        "created": _iso(item.get("Created")),
        "ports": ports,
        "labels": _labels(item.get("Labels")),
        "networks": [n for n in networks if isinstance(n, str)] if isinstance(networks, dict) else [],
        "exit_code": int(exited.group(1)) if state == "exited" and exited else None,
        "pid": None,
        "mounts": [],
        "restart": None,
        "health": None,
    }


def _create_body(opts: Any) -> tuple[dict[str, Any], str | None]:
    """``run -d``'s options as a ``POST /containers/create`` body; an option pouchd would not be sent
    is refused rather than dropped."""
    from dataclasses import fields

    from managers.ports import parse_ports

    default = type(opts)(image=opts.image)
    for f in fields(opts):
        if f.name not in _SENT and getattr(opts, f.name) != getattr(default, f.name):
            raise InvalidArgument(f"run on a pouchd context: --{f.name.replace('_', '-')} is not sent to pouchd yet",
                                  hint=_SERVED_HINT)
    host: dict[str, Any] = {
        "NetworkMode": opts.network, "AutoRemove": opts.rm, "ReadonlyRootfs": opts.read_only,
        "Privileged": opts.privileged, "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
    }
    if opts.memory:
        host["Memory"] = int(opts.memory)
    if opts.cpus:
        host["NanoCpus"] = int(opts.cpus * 1e9)
    if opts.pids_limit:
        host["PidsLimit"] = int(opts.pids_limit)
    if opts.restart and opts.restart != "no":
        name, _, count = opts.restart.partition(":")
        host["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for m in parse_ports(opts.publish):
        key = f"{m['container_port']}/{m['protocol']}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": m["host_ip"], "HostPort": str(m["host_port"] or "")})
    if bindings:
        host["PortBindings"] = bindings
    body: dict[str, Any] = {
        "Image": opts.image, "Cmd": list(opts.args) or None, "Env": list(opts.env), "Labels": dict(opts.labels),
        "Tty": opts.tty, "OpenStdin": opts.interactive, "HostConfig": host,
    }
    for key, value in (("WorkingDir", opts.workdir), ("User", opts.user), ("Hostname", opts.hostname),
                       ("StopSignal", opts.stop_signal), ("StopTimeout", opts.stop_timeout)):
        if value:
            body[key] = value
    if opts.entrypoint is not None:
        body["Entrypoint"] = list(opts.entrypoint)
    if exposed:
        body["ExposedPorts"] = exposed
    return body, opts.name


class RemoteImages(_Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        reply = self.api.get("/images/json", {"filters": _docker_filters(filters) or None}, what="images")
        out = []
        for item in reply if isinstance(reply, builtins.list) else []:
            if not isinstance(item, dict) or not _text(item.get("Id")):
                continue
            tags = [t for t in (item.get("RepoTags") if isinstance(item.get("RepoTags"), builtins.list) else [])
                    if isinstance(t, str)] or ["<none>:<none>"]
            for tag in tags:
                slash = tag.rfind("/")
                colon = tag.rfind(":")
                repository, label = (tag[:colon], tag[colon + 1:]) if colon > slash else (tag, "<none>")
                out.append({
                    "name": tag if repository != "<none>" else "", "repository": repository, "tag": label,
                    "id": item["Id"], "digest": "", "size": _int(item.get("Size")) or 0,
                    "created": _iso(item.get("Created")), "labels": _labels(item.get("Labels")), "platform": "",
                })
        return out

    def pull(self, ref: str, *, platform: str | None = None, progress: Any = None, cancel: threading.Event | None = None,
             **_transfer: Any) -> dict[str, Any]:
        """``pull`` on the pouchd's host (its registries, mirrors and credentials); the image's record.
        Transfer tuning (``--max-concurrent-downloads``, ``--insecure-registry``) is the pouchd's own."""
        ref = _ref(ref, "image")
        params = {"fromImage": ref, "platform": platform}
        with self.api.stream("POST", "/images/create", params, what=f"pull {ref}", cancel=cancel,
                             read_timeout=None) as chunks:
            buf = b""
            for chunk in chunks:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                if len(buf) > _MAX_PULL_LINE:
                    raise PouchRuntimeError(f"pull {ref}: pouchd's progress line is too long")
                for line in lines:
                    _pull_line(line, ref)
            _pull_line(buf, ref)
        doc = self.api.get(f"/images/{ref}/json", what=f"image inspect {ref}")
        if not isinstance(doc, dict):
            raise PouchRuntimeError(f"pull {ref}: pouchd's image record is not one")
        tags = doc.get("RepoTags") if isinstance(doc.get("RepoTags"), builtins.list) else []
        return {"name": ref, "id": _text(doc.get("Id")), "repo_tags": [t for t in tags if isinstance(t, str)],
                "size": _int(doc.get("Size")) or 0}


class RemoteVolumes(_Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        """``volume ls``: pouchd's ``GET /volumes`` as the local records (by name); the mountpoint is a
        path on the pouchd's host."""
        reply = self.api.get("/volumes", {"filters": _docker_filters(filters) or None}, what="volume ls")
        items = reply.get("Volumes") if isinstance(reply, dict) else None
        out = []
        for item in items if isinstance(items, builtins.list) else []:
            if not isinstance(item, dict) or not _REF.match(_text(item.get("Name"))):
                continue
            out.append({
                "name": item["Name"], "driver": _text(item.get("Driver")) or "local",
                "mountpoint": _text(item.get("Mountpoint")), "labels": _labels(item.get("Labels")),
                "options": _labels(item.get("Options")), "scope": _text(item.get("Scope")) or "local",
                "created": _text(item.get("CreatedAt")),
            })
        out.sort(key=lambda r: r["name"])
        return out


class RemoteNetworks(_Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        """``network ls``: pouchd's ``GET /networks`` as the local records (its first IPAM config's
        subnet, gateway and range; the containers attached, by id, name and address)."""
        reply = self.api.get("/networks", {"filters": _docker_filters(filters) or None}, what="network ls")
        out = []
        for item in reply if isinstance(reply, builtins.list) else []:
            if not isinstance(item, dict) or not _REF.match(_text(item.get("Name"))) \
                    or not _REF.match(_text(item.get("Id"))):
                continue
            ipam = item.get("IPAM") if isinstance(item.get("IPAM"), dict) else {}
            configs = ipam.get("Config") if isinstance(ipam.get("Config"), builtins.list) else []
            config = configs[0] if configs and isinstance(configs[0], dict) else {}
            options = _labels(item.get("Options"))
            attached = item.get("Containers") if isinstance(item.get("Containers"), dict) else {}
            out.append({
                "name": item["Name"], "id": item["Id"], "driver": _text(item.get("Driver")),
                "subnet": _text(config.get("Subnet")), "gateway": _text(config.get("Gateway")),
                "ip_range": _text(config.get("IPRange")), "internal": item.get("Internal") is True,
                "bridge": options.get("com.docker.network.bridge.name", ""), "mtu": 0,
                "labels": _labels(item.get("Labels")),
                "containers": [{"id": cid, "name": _text(c.get("Name")),
                                "ip": _text(c.get("IPv4Address")), "mac": _text(c.get("MacAddress"))}
                               for cid, c in attached.items() if _REF.match(str(cid)) and isinstance(c, dict)],
                "created": _text(item.get("Created")),
            })
        return out


def _pull_line(line: bytes, ref: str) -> None:
    """A progress line; its error, raised (pouchd has sent the status already, so errors come as lines)."""
    if not line.strip():
        return
    try:
        doc = json.loads(line)
    except ValueError:
        raise PouchRuntimeError(f"pull {ref}: pouchd's progress is not JSON lines") from None
    if isinstance(doc, dict) and doc.get("error") is not None:
        message = _text(doc.get("error"))[:1000] or "failed"
        raise PouchRuntimeError(f"pull {ref} on pouchd: {''.join(c if c.isprintable() else '?' for c in message)}")
