"""What ``compose up|down|ps|logs|pull|restart|stop`` do with a checked project (managers.compose.model),
through the managers' own verbs only, so that under ``--dry-run`` (a recorder in place of the facade)
the same code prints the plan of manager calls instead of making them.

Resources carry docker compose's labels (``com.docker.compose.project``, ``.service``,
``.container-number``, ``.config-hash``, ``.oneoff``, ``.project.working_dir``,
``.project.config_files``; ``.network`` and ``.volume`` on networks and volumes), so docker compose
through pouchd and ``pouchsh compose ps`` see one project.

``up`` runs as one transaction (managers.transactions) unless told not to: a failure removes what it
made. A container whose configuration changed is replaced without losing the old one until the new
one runs: the old is stopped and renamed aside, the new made and started; only when the whole ``up``
succeeds is the old removed, otherwise it gets its name back and is started again if it ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ctrd.errors import Interrupted, NotFound, PouchError, PouchRuntimeError
from managers.compose.model import Project, Service
from managers.options import CreateOptions
from managers.transactions import set_aside

__all__ = ["L", "Compose"]

#: how many services are brought up at once
PARALLEL = 4


class L:
    """docker compose's label names."""

    PROJECT = "com.docker.compose.project"
    SERVICE = "com.docker.compose.service"
    NUMBER = "com.docker.compose.container-number"
    HASH = "com.docker.compose.config-hash"
    ONEOFF = "com.docker.compose.oneoff"
    WORKING_DIR = "com.docker.compose.project.working_dir"
    CONFIG_FILES = "com.docker.compose.project.config_files"
    DEPENDS_ON = "com.docker.compose.depends_on"
    NETWORK = "com.docker.compose.network"
    VOLUME = "com.docker.compose.volume"


@dataclass
class _Aside:
    """An old container renamed aside while its replacement starts."""

    id: str
    name: str
    running: bool


@dataclass
class _Run:
    project: Project
    timeout: float | None
    stop: threading.Event = field(default_factory=threading.Event)
    asides: list[_Aside] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Compose:
    def __init__(self, facade: Any, *, dry_run: bool = False) -> None:
        self.facade = facade
        self.dry_run = dry_run

    # -- queries ---------------------------------------------------------------------------------

    def ps(self, project: Project, *, all: bool = True, services: list[str] | None = None) -> list[dict[str, Any]]:
        rows = self.facade.containers.list(all=all, filters=[f"label={L.PROJECT}={project.name}"], no_trunc=True)
        out = []
        for r in rows:
            labels = r.get("labels") or {}
            service = labels.get(L.SERVICE, "")
            if labels.get(L.ONEOFF) == "True" or (services and service not in services):
                continue
            out.append({**r, "service": service, "project": project.name})
        return sorted(out, key=lambda r: (r["service"], r["name"]))

    def logs(self, project: Project, *, services: list[str] | None = None, tail: int | None = None) -> list[str]:
        lines = []
        for r in self.ps(project, services=services):
            text = self.facade.containers.logs(r["id"], tail=tail)
            lines += [f"{r['name']} | {line}" for line in str(text).splitlines()]
        return lines

    # -- up --------------------------------------------------------------------------------------

    def up(self, project: Project, *, rollback: bool = True, timeout: float | None = None,
           cancel: threading.Event | None = None) -> list[dict[str, Any]]:
        run = _Run(project, timeout)
        transactions = None if self.dry_run or not rollback else self.facade.transactions
        tx = transactions.begin() if transactions is not None else None
        try:
            self._networks(project)
            self._volumes(project)
            self._services(run, cancel)
        except (PouchError, KeyboardInterrupt):
            if tx is not None:
                transactions.rollback(tx)  # type: ignore[union-attr]  (it also puts replaced containers back)
            else:  # --no-rollback: what was made stays, and replaced containers are replaced
                for old in run.asides:
                    self.facade.containers.remove([old.id], force=True)
            raise
        if tx is not None:
            transactions.commit(tx)  # type: ignore[union-attr]
        for old in run.asides:
            self.facade.containers.remove([old.id], force=True)
        return self.ps(project)

    def _networks(self, project: Project) -> None:
        have = {n["name"] for n in self.facade.networks.list()}
        for net in project.networks.values():
            if net.external:
                if net.name not in have and not self.dry_run:
                    raise NotFound(f"external network {net.name} not found (network {net.key} of the project)")
                continue
            if net.name not in have:
                labels = {**net.labels, L.PROJECT: project.name, L.NETWORK: net.key}
                self.facade.networks.create(net.name, labels=labels, internal=net.internal)

    def _volumes(self, project: Project) -> None:
        have = {v["name"] for v in self.facade.volumes.list()}
        for vol in project.volumes.values():
            if vol.external:
                if vol.name not in have and not self.dry_run:
                    raise NotFound(f"external volume {vol.name} not found (volume {vol.key} of the project)")
                continue
            if vol.name not in have:
                self.facade.volumes.create(vol.name, labels={**vol.labels, L.PROJECT: project.name, L.VOLUME: vol.key})

    def _services(self, run: _Run, cancel: threading.Event | None) -> None:
        existing = self.ps(run.project)
        if self.dry_run:
            for s in run.project.services.values():
                self._service(run, s, existing, {})
            return
        futures: dict[str, Future[list[str]]] = {}
        with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="compose") as pool:
            # dependencies are submitted first, so a dependent that waits on them never holds back one
            for s in run.project.services.values():
                futures[s.name] = pool.submit(self._service, run, s, existing, futures)
            pending = set(futures.values())
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                if cancel is not None and cancel.is_set():
                    run.stop.set()
                if any(f.exception() is not None for f in done):
                    run.stop.set()
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            first = next((e for e in errors if not isinstance(e, _Stopped)), errors[0])
            if isinstance(first, _Stopped):
                raise Interrupted("compose up interrupted")
            raise first  # type: ignore[misc]

    def _service(self, run: _Run, s: Service, existing: list[dict[str, Any]],
                 futures: dict[str, Future[list[str]]]) -> list[str]:
        for dep, condition in s.depends_on.items():
            ids = futures[dep].result() if dep in futures else []
            self._check(run)
            self._satisfy(run, dep, condition, ids)
        self._check(run)
        mine = {int((r.get("labels") or {}).get(L.NUMBER, "0") or 0): r for r in existing if r["service"] == s.name}
        wanted = s.config_hash()
        ids = []
        for number in range(1, s.replicas + 1):
            self._check(run)
            current = mine.pop(number, None)
            if current is not None and (current.get("labels") or {}).get(L.HASH) == wanted:
                if current["status"] != "running":
                    self.facade.containers.start([current["id"]])
                ids.append(current["id"])
                continue
            if current is not None:
                self._set_aside(run, current)
            ids.append(self._create(run.project, s, number, wanted))
        for extra in mine.values():  # scaled down
            self.facade.containers.remove([extra["id"]], force=True)
        return ids

    def _check(self, run: _Run) -> None:
        if run.stop.is_set():
            raise _Stopped()

    def _satisfy(self, run: _Run, dep: str, condition: str, ids: list[str]) -> None:
        if self.dry_run or not ids:
            return
        if condition == "service_healthy":
            self.facade.health.wait(ids, timeout=run.timeout, cancel=run.stop)
        elif condition == "service_completed_successfully":
            for cid, code in zip(ids, self.facade.containers.wait(ids, cancel=run.stop), strict=True):
                if code != 0:
                    raise PouchRuntimeError(f"service {dep} did not complete successfully: container {cid[:12]} "
                                            f"exited with status {code}")

    def _set_aside(self, run: _Run, current: dict[str, Any]) -> None:
        running = current["status"] in ("running", "paused")
        if running:
            self.facade.containers.stop([current["id"]])
        aside = f"{current['name'][:100]}-replaced-{current['id'][:8]}"
        if not self.dry_run:
            set_aside(self.facade, current["id"], current["name"], running)
        self.facade.containers.rename(current["id"], aside)
        with run.lock:
            run.asides.append(_Aside(current["id"], current["name"], running))

    def _create(self, project: Project, s: Service, number: int, config_hash: str) -> str:
        opts = options_for(project, s, number, config_hash)
        record = self.facade.containers.create(opts)
        cid = record["id"]
        first = project.networks[next(iter(s.networks))].name
        for key, aliases in s.networks.items():
            net = project.networks[key].name
            if net == first:
                self.facade.networks.disconnect(net, cid)
            self.facade.networks.connect(net, cid, aliases=aliases)
        self.facade.containers.start([cid])
        return str(cid)

    # -- the others ------------------------------------------------------------------------------

    def down(self, project: Project, *, volumes: bool = False, timeout: int | None = None) -> dict[str, list[str]]:
        """Stop and remove the project's containers, then its networks (not external ones); with
        ``volumes`` its volumes too."""
        removed: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
        rows = self.ps(project)
        running = [r["id"] for r in rows if r["status"] in ("running", "paused")]
        if running:
            self.facade.containers.stop(running, timeout=timeout)
        for r in reversed(rows):
            self.facade.containers.remove([r["id"]], force=True)
            removed["containers"].append(r["name"])
        for net in self.facade.networks.list(filters=[f"label={L.PROJECT}={project.name}"]):
            self.facade.networks.remove([net["name"]])
            removed["networks"].append(net["name"])
        if volumes:
            for vol in self.facade.volumes.list(filters=[f"label={L.PROJECT}={project.name}"]):
                self.facade.volumes.remove([vol["name"]])
                removed["volumes"].append(vol["name"])
        return removed

    def each(self, project: Project, verb: Callable[[list[str]], Any], services: list[str] | None) -> list[dict[str, Any]]:
        ids = [r["id"] for r in self.ps(project, services=services)]
        return list(verb(ids)) if ids else []

    def pull(self, project: Project, *, services: list[str] | None = None) -> list[dict[str, Any]]:
        out = []
        for s in project.services.values():
            if services and s.name not in services:
                continue
            if s.pull_policy != "never":
                self.facade.images.ensure(s.image, pull="always")
            out.append({"service": s.name, "image": s.image, "pulled": s.pull_policy != "never"})
        return out


class _Stopped(Exception):  # noqa: N818 - a signal between the workers, never shown
    """Another service failed (or Ctrl-C): this one stops before its next step."""


def options_for(project: Project, s: Service, number: int, config_hash: str) -> CreateOptions:
    """The create options of replica ``number`` of ``s``."""
    labels = {
        **s.labels,
        L.PROJECT: project.name, L.SERVICE: s.name, L.NUMBER: str(number), L.HASH: config_hash, L.ONEOFF: "False",
        L.WORKING_DIR: project.working_dir, L.CONFIG_FILES: ",".join(project.config_files),
        L.DEPENDS_ON: ",".join(f"{d}:{c}" for d, c in s.depends_on.items()),
    }
    health = s.healthcheck or {}
    opts = CreateOptions.parse(
        s.image, list(s.command or []),
        environ={}, env=[f"{k}={v}" for k, v in s.environment.items()],
        label=[f"{k}={v}" for k, v in labels.items()],
        restart=s.restart, stop_signal=s.stop_signal, stop_timeout=s.stop_timeout, memory=s.memory, cpus=s.cpus,
        pids_limit=s.pids_limit, init=s.init, pull=s.pull_policy,
        health_cmd=health.get("cmd"), health_interval=health.get("interval"), health_timeout=health.get("timeout"),
        health_retries=health.get("retries"), health_start_period=health.get("start_period"),
        health_start_interval=health.get("start_interval"),
        no_healthcheck=bool(health.get("disable")),
        name=s.container_name or f"{project.name}-{s.name}-{number}", user=s.user, workdir=s.working_dir,
        hostname=s.hostname, volumes=list(s.volumes), tmpfs=list(s.tmpfs), publish=list(s.ports),
        network=project.networks[next(iter(s.networks))].name, dns=list(s.dns), add_host=list(s.extra_hosts),
        read_only=s.read_only, privileged=s.privileged, cap_add=list(s.cap_add), cap_drop=list(s.cap_drop),
        tty=s.tty, interactive=s.stdin_open,
    )
    if s.entrypoint is not None:
        opts.entrypoint = list(s.entrypoint)
    return opts
