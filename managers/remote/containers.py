"""A pouchd context's containers: ps, inspect, create, run -d, start, stop, restart, kill, wait, exec
(without -i/-t), rm and logs, over pouchd's ``/containers`` and ``/exec`` API."""

from __future__ import annotations

import builtins
import re
import threading
from collections.abc import Iterable
from typing import Any

from ctrd.errors import Interrupted, InvalidArgument, NotFound, PouchError, PouchRuntimeError
from managers.remote.create import create_body
from managers.remote.fields import ID, REF, as_int, as_iso, as_labels, as_text, checked_ref, docker_filters
from managers.remote.served import SERVED_HINT, NotServed, Remote
from managers.remote.streams import Follow, aborted_on, frames, payloads, small_json

_STATES = frozenset({"created", "running", "paused", "restarting", "removing", "exited", "dead"})
_EXITED = re.compile(r"Exited \((-?\d+)\)")

#: logs read whole (without -f): at most this much
_MAX_LOGS = 64 << 20


class RemoteContainers(Remote):
    def list(self, *, all: bool = False, last: int | None = None, latest: bool = False,
             filters: Iterable[str] = (), no_trunc: bool = False, quiet: bool = False) -> builtins.list[Any]:
        if last is not None and last < 0:
            raise InvalidArgument("--last must not be negative")
        limit = 1 if latest else last
        params: dict[str, Any] = {"all": all or limit is not None, "limit": limit,
                                  "filters": docker_filters(filters) or None}
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
        status = as_text(state.get("Status"))
        return {
            "id": as_text(doc.get("Id")), "name": as_text(doc.get("Name")).lstrip("/"), "image": as_text(config.get("Image")),
            "command": " ".join(a for a in [as_text(doc.get("Path")), *(
                as_text(a) for a in (doc.get("Args") if isinstance(doc.get("Args"), builtins.list) else []))] if a),
            "status": status if status in _STATES else "unknown",
            "exit_code": as_int(state.get("ExitCode")) if status == "exited" else None,
            "pid": as_int(state.get("Pid")) or None,
            "created": as_text(doc.get("Created")), "started": as_text(state.get("StartedAt")),
            "finished": as_text(state.get("FinishedAt")), "labels": as_labels(config.get("Labels")),
            "tty": config.get("Tty") is True,
        }

    def _id(self, ref: str) -> str:
        """The full id of the container ``ref`` names, as pouchd resolves it: the one acted on next."""
        cid = as_text(self._inspect(ref).get("Id"))
        if not ID.match(cid):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: inspect {ref}: not a container id")
        return cid

    def _inspect(self, ref: str) -> dict[str, Any]:
        doc = self.api.get(f"/containers/{checked_ref(ref)}/json", what=f"inspect {ref}")
        if not isinstance(doc, dict) or not as_text(doc.get("Id")):
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
        cid = as_text(doc.get("Id"))
        tty = isinstance(doc.get("Config"), dict) and doc["Config"].get("Tty") is True
        since_ns, until_ns = parse_time(since, "--since"), parse_time(until, "--until")
        params = {"stdout": True, "stderr": True, "follow": follow, "timestamps": timestamps,
                  "tail": "all" if tail is None else str(tail),
                  "since": None if since_ns is None else f"{since_ns / 1e9:.9f}",
                  "until": None if until_ns is None else f"{until_ns / 1e9:.9f}"}
        if follow:
            return Follow(self.api, f"/containers/{checked_ref(cid)}/logs", params, tty, cancel, f"logs {ref}")
        with self.api.stream("GET", f"/containers/{checked_ref(cid)}/logs", params, what=f"logs {ref}",
                             cancel=cancel) as chunks:
            pieces, size = [], 0
            for piece in payloads(chunks, tty):
                size += len(piece)
                if size > _MAX_LOGS:
                    raise InvalidArgument(f"logs {ref}: more than {_MAX_LOGS} bytes; use --tail")
                pieces.append(piece)
        return b"".join(pieces).decode("utf-8", "replace")

    def create(self, opts: Any) -> dict[str, Any]:
        """``create`` on the pouchd: the same options as ``run -d`` (``create_body``); its record."""
        return self._record(self._create(opts))

    def _create(self, opts: Any) -> str:
        body, name = create_body(opts)
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
        cid = as_text(made.get("Id")) if isinstance(made, dict) else ""
        if not ID.match(cid):
            raise PouchRuntimeError(f"pouchd {self.facade.address}: create {opts.image}: no container id in the reply")
        return cid

    def _record(self, cid: str) -> dict[str, Any]:
        rows = self.list(all=True, filters=[f"id={cid}"], no_trunc=True)
        return rows[0] if rows else {"id": cid}

    def run(self, opts: Any, *, detach: bool, stdio: Any = None, remove_later: bool = False) -> dict[str, Any]:
        """``run -d`` on the pouchd (``remove_later``, as ContainerManager.run takes it, concerns only a
        foreground run, which a pouchd does not serve)."""
        if not detach:
            raise NotServed(f"a pouchd ({self.facade.address}): run there with -d (its output: logs)",
                            hint=SERVED_HINT)
        cid = self._create(opts)
        try:
            self.api.json("POST", f"/containers/{checked_ref(cid)}/start", what=f"start {cid[:12]}")
        except PouchError:
            try:
                self.api.json("DELETE", f"/containers/{checked_ref(cid)}", {"force": True}, what=f"rm {cid[:12]}")
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
                            "(start it, then logs -f)", hint=SERVED_HINT)
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
                                 read_timeout=None) as chunks, aborted_on(cancel, chunks):
                reply = small_json(chunks, f"pouchd {self.facade.address}: wait {ref}", cancel)
            code = as_int(reply.get("StatusCode")) if isinstance(reply, dict) else None
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
                            "(a command without a terminal or stdin is)", hint=SERVED_HINT)
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
        exec_id = as_text(made.get("Id")) if isinstance(made, dict) else ""
        if not ID.match(exec_id):
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
                    aborted_on(cancel, chunks):
                for kind, payload in frames(chunks):
                    out = stdio.stderr if kind == 2 else stdio.stdout
                    out.write(payload)
                    out.flush()
        except PouchError:
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"exec in {ref} interrupted (the process goes on in the container)") from None
            raise
        doc = self.api.get(f"/exec/{exec_id}/json", what=f"exec in {ref}")
        code = as_int(doc.get("ExitCode")) if isinstance(doc, dict) else None
        if code is None:
            raise PouchRuntimeError(f"pouchd {self.facade.address}: exec in {ref}: no exit status recorded")
        return code


def _signal(value: str | int) -> str:
    """A signal checked here (the local ``--signal`` rule) and sent by its name."""
    from managers.options import parse_signal

    return parse_signal(value, "--signal")[0]


def _container_row(item: Any) -> dict[str, Any] | None:
    """A ``GET /containers/json`` item as pouchsh's ``ps`` record; None when it has no usable id."""
    if not isinstance(item, dict) or not REF.match(as_text(item.get("Id"))):
        return None
    names = item.get("Names") if isinstance(item.get("Names"), builtins.list) else []
    state = as_text(item.get("State"))
    status_text = as_text(item.get("Status"))
    exited = _EXITED.match(status_text)
    networks = item.get("NetworkSettings", {}).get("Networks") if isinstance(item.get("NetworkSettings"), dict) else None
    ports = []
    for p in item.get("Ports") if isinstance(item.get("Ports"), builtins.list) else []:
        if isinstance(p, dict) and as_int(p.get("PrivatePort")):
            ports.append({"host_ip": as_text(p.get("IP")), "host_port": as_int(p.get("PublicPort")) or 0,
                          "container_port": p["PrivatePort"], "protocol": as_text(p.get("Type")) or "tcp"})
    return {
        "id": item["Id"],
        "name": as_text(names[0]).lstrip("/") if names else "",
        "image": as_text(item.get("Image")),
        "command": as_text(item.get("Command")),
        "status": state if state in _STATES else "unknown",
        "state": status_text,
        "created": as_iso(item.get("Created")),
        "ports": ports,
        "labels": as_labels(item.get("Labels")),
        "networks": [n for n in networks if isinstance(n, str)] if isinstance(networks, dict) else [],
        "exit_code": int(exited.group(1)) if state == "exited" and exited else None,
        "pid": None,
        "mounts": [],
        "restart": None,
        "health": None,
    }
