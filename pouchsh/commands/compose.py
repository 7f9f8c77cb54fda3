"""``compose up|down|ps|logs|config|pull|restart|stop``: docker compose's verbs over a compose file read
natively (managers.compose). The file is read and checked before anything is made: an unknown key or a
wrong type is an invalid-argument naming the file, line and column. ``up`` runs as one transaction
(a failure removes what it made) unless ``--no-rollback``, starts independent services in parallel and
waits for ``service_healthy`` and ``service_completed_successfully`` dependencies; ``--dry-run`` prints
the plan of manager calls."""

from __future__ import annotations

from typing import Any

from pouchsh.signature import Example, Flag, Param, command

__all__: list[str] = []

_CAT = "compose"

_PROJECT_FLAGS = [
    Flag("file", short="f", type="path", repeat=True, help="Compose file (default: compose.yaml, docker-compose.yml here); more files override; - reads the piped text"),
    Flag("project-name", short="p", type="string", help="Project name (default: the file's name:, else the directory's)"),
    Flag("profile", type="string", repeat=True, help="Enable services of this profile"),
    Flag("env-file", type="path", help="Read variables from this file instead of .env"),
]
_SERVICES = Param("services", type="string", required=False, rest=True, help="Only these services")


def _project(ctx: Any, kw: dict[str, Any]) -> Any:
    from managers.compose import load_project

    files = kw.pop("file") or None
    piped = None
    if files and "-" in files:
        # docker compose's ``-f -``: the file's text piped in (a string, or lines), else pouchsh's stdin
        raw = ctx.input if ctx.has_input else ctx.stdin.read().decode(errors="replace")
        piped = "\n".join(map(str, raw)) if isinstance(raw, list) else str(raw)
    return load_project(cwd=ctx.cwd, files=files, project_name=kw.pop("project_name"), profiles=kw.pop("profile"),
                        environ=dict(ctx.env), env_file=kw.pop("env_file"), piped=piped)


def _engine(ctx: Any) -> Any:
    from managers.compose import Compose

    return Compose(ctx.managers, dry_run=ctx.dry_run)


@command(
    "compose up",
    help="Create and start a compose project's services (idempotent; one transaction)",
    description=(
        "Networks and volumes first, then the services in dependency order, independent ones in parallel; "
        "a dependent waits for service_healthy (running the healthchecks) or service_completed_successfully. "
        "A second up changes only what the file changed: a container whose configuration hash differs is "
        "replaced, the old one kept aside until the new one runs. A failure undoes everything this up made "
        "and puts replaced containers back (unless --no-rollback). The result is the project's containers."
    ),
    flags=[
        *_PROJECT_FLAGS,
        Flag("detach", short="d", help="Accepted for docker compose's sake: up always returns once started"),
        Flag("no-rollback", help="On failure, keep what was made"),
        Flag("timeout", type="duration", help="How long to wait for each healthy dependency (default: no limit)"),
    ],
    examples=[
        Example("compose up -d", "Bring up compose.yaml's project"),
        Example("compose up -f ci.yaml -p ci --profile tools | select service name state", "Another file and project"),
    ],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_up(ctx: Any, detach: bool, no_rollback: bool, timeout: Any, **kw: Any) -> Any:
    project = _project(ctx, kw)
    seconds = None if timeout is None else int(timeout) / 1e9
    return _engine(ctx).up(project, rollback=not no_rollback, timeout=seconds, cancel=ctx.cancel)


@command(
    "compose down",
    help="Stop and remove a compose project's containers and networks (-v: its volumes too)",
    flags=[*_PROJECT_FLAGS, Flag("volumes", short="v", help="Remove the project's volumes too"),
           Flag("timeout", short="t", type="int", help="Seconds to wait before SIGKILL")],
    examples=[Example("compose down -v", "Remove the project with its volumes")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_down(ctx: Any, volumes: bool, timeout: int | None, **kw: Any) -> Any:
    return _engine(ctx).down(_project(ctx, kw), volumes=volumes, timeout=timeout)


@command(
    "compose ps",
    help="A compose project's containers (ps records with service and project)",
    params=[_SERVICES],
    flags=[*_PROJECT_FLAGS],
    examples=[Example("compose ps | where health == unhealthy | get service", "Services that are unhealthy")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_ps(ctx: Any, services: list[str], **kw: Any) -> Any:
    return _engine(ctx).ps(_project(ctx, kw), services=list(services or []) or None)


@command(
    "compose logs",
    help="The output of a compose project's containers, each line prefixed with its container",
    params=[_SERVICES],
    flags=[*_PROJECT_FLAGS, Flag("tail", short="n", type="int", help="Only the last N lines of each")],
    examples=[Example("compose logs web -n 20", "web's last 20 lines")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_logs(ctx: Any, services: list[str], tail: int | None, **kw: Any) -> Any:
    return _engine(ctx).logs(_project(ctx, kw), services=list(services or []) or None, tail=tail)


@command(
    "compose config",
    help="The normalised project as a record (nothing is made): services, networks, volumes",
    flags=[*_PROJECT_FLAGS, Flag("services", help="Only the names of the services")],
    examples=[
        Example("compose config | get services | where replicas > 1 | get name", "Services with replicas"),
        Example("compose config --services", "The services, in dependency order"),
        Example("'services: {web: {image: busybox}}' | compose config -f - --services", "A compose file piped in, as -f - in docker compose"),
    ],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_config(ctx: Any, services: bool, **kw: Any) -> Any:
    project = _project(ctx, kw)
    return list(project.services) if services else project.to_record()


@command(
    "compose pull",
    help="Pull the images of a compose project's services",
    params=[_SERVICES],
    flags=[*_PROJECT_FLAGS],
    examples=[Example("compose pull db", "Pull db's image")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_pull(ctx: Any, services: list[str], **kw: Any) -> Any:
    return _engine(ctx).pull(_project(ctx, kw), services=list(services or []) or None)


@command(
    "compose restart",
    help="Restart a compose project's containers",
    params=[_SERVICES],
    flags=[*_PROJECT_FLAGS, Flag("timeout", short="t", type="int", help="Seconds to wait before SIGKILL")],
    examples=[Example("compose restart web", "Restart web's containers")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_restart(ctx: Any, services: list[str], timeout: int | None, **kw: Any) -> Any:
    project = _project(ctx, kw)
    return _engine(ctx).each(project, lambda ids: ctx.managers.containers.restart(ids, timeout=timeout),
                             list(services or []) or None)


@command(
    "compose stop",
    help="Stop a compose project's containers (they stay; up starts them again)",
    params=[_SERVICES],
    flags=[*_PROJECT_FLAGS, Flag("timeout", short="t", type="int", help="Seconds to wait before SIGKILL")],
    examples=[Example("compose stop", "Stop every container of the project")],
    category=_CAT,
    input="any",  # -f - reads the compose file from the piped text
)
def compose_stop(ctx: Any, services: list[str], timeout: int | None, **kw: Any) -> Any:
    project = _project(ctx, kw)
    return _engine(ctx).each(project, lambda ids: ctx.managers.containers.stop(ids, timeout=timeout),
                             list(services or []) or None)
