"""A compose project: the files read (managers.compose.yamlfile), checked against the keys of the
Compose Specification that matter on one host, and normalised. An unknown key, a value of the wrong
type, a dependency on a service that does not exist or a cycle is an InvalidArgument naming the file,
line and column. ``build`` is refused naming the service (pouchsh builds no images). Host paths a file
names (bind sources, env files) relative to the project directory must stay inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument
from managers.compose.interpolate import parse_env_file
from managers.compose.yamlfile import YamlFile, load, parse

__all__ = ["Project", "Service", "load_project"]

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

_TOP_KEYS = {"version", "name", "services", "networks", "volumes"}
_SERVICE_KEYS = {
    "image", "command", "entrypoint", "environment", "env_file", "ports", "volumes", "networks",
    "depends_on", "healthcheck", "restart", "labels", "user", "working_dir", "init", "deploy", "scale",
    "profiles", "container_name", "hostname", "tmpfs", "stop_signal", "stop_grace_period", "build",
    "expose", "read_only", "privileged", "cap_add", "cap_drop", "dns", "extra_hosts", "mem_limit", "cpus",
    "pids_limit", "pull_policy", "tty", "stdin_open",
}
_HEALTH_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable", "start_interval"}
_NETWORK_KEYS = {"name", "external", "driver", "labels", "internal", "driver_opts", "ipam"}
_VOLUME_KEYS = {"name", "external", "driver", "labels", "driver_opts"}


@dataclass
class Service:
    name: str
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)  # -v specs, sources resolved
    tmpfs: list[str] = field(default_factory=list)
    networks: dict[str, list[str]] = field(default_factory=dict)  # compose network key -> aliases
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    healthcheck: dict[str, Any] | None = None
    restart: str = "no"
    labels: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    init: bool = False
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    replicas: int = 1
    profiles: list[str] = field(default_factory=list)
    container_name: str | None = None
    hostname: str | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    read_only: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    pull_policy: str = "missing"
    tty: bool = False
    stdin_open: bool = False

    def to_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def config_hash(self) -> str:
        """What decides whether a container is recreated: everything but the replica count."""
        record = {k: v for k, v in self.to_record().items() if k not in ("replicas", "profiles", "depends_on")}
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


@dataclass
class Resource:
    """A network or a volume: the key in the file, its real name, whether it exists outside the project."""

    key: str
    name: str
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    internal: bool = False

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Project:
    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, Service]  # in dependency order
    networks: dict[str, Resource]
    volumes: dict[str, Resource]
    disabled: list[str] = field(default_factory=list)  # services of profiles not enabled

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "working_dir": self.working_dir,
            "config_files": list(self.config_files),
            "services": [s.to_record() for s in self.services.values()],
            "networks": [n.to_record() for n in self.networks.values()],
            "volumes": [v.to_record() for v in self.volumes.values()],
        }


def load_project(
    *, cwd: str, files: list[str] | None = None, project_name: str | None = None,
    profiles: list[str] | None = None, environ: dict[str, str] | None = None, env_file: str | None = None,
    piped: str | None = None,
) -> Project:
    """Read and check the project; nothing is made. A file named ``-`` is the text ``piped`` (docker
    compose's ``-f -``); its project directory is ``cwd``, as docker's is."""
    base = Path(cwd)
    if files and files.count("-") > 1:
        raise InvalidArgument("-f -: the piped compose file can be given once")
    if files and "-" in files and piped is None:
        raise InvalidArgument("-f -: pipe the compose file's text in")
    paths = [Path(base, f) for f in files] if files else [next((base / f for f in DEFAULT_FILES if (base / f).is_file()), None)]
    if paths[0] is None:
        raise InvalidArgument(f"no compose file here ({', '.join(DEFAULT_FILES)}); give one with -f", hint=str(base))
    project_dir = base.resolve() if files and files[0] == "-" else paths[0].parent.resolve()
    env = dict(environ or {})
    # --env-file is the user's own choice (relative to here); the project's .env must be the project's
    dotenv = Path(base, env_file) if env_file else project_dir / ".env"
    if env_file or dotenv.is_file():
        if not env_file:
            _inside(project_dir, dotenv, ".env")
        try:
            text = dotenv.read_bytes()[: 1 << 20].decode(errors="replace")
        except OSError as e:
            raise InvalidArgument(f"{dotenv}: {e.strerror or e}") from None
        # the shell's environment wins over .env, as in docker compose
        env = {**parse_env_file(text, str(dotenv)), **env}
    shown = list(files) if files else [paths[0].name]
    docs = [parse(piped.encode(), "-", env) if name == "-" and piped is not None else load(path, name, env)
            for path, name in zip(paths, shown, strict=True)]
    merged = docs[0]
    for other in docs[1:]:
        merged = YamlFile(merged.name, _merge(merged.data, other.data), {**merged.marks, **other.marks},
                          {**merged.key_marks, **other.key_marks})
    return _Checker(merged, project_dir, env).project(project_name, set(profiles or []), [n if n == "-" else str(p) for p, n in zip(paths, shown, strict=True)])


def _merge(a: Any, b: Any) -> Any:
    """An override file: mappings merge key by key, anything else is replaced."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(a[k], v) if k in a else v
        return out
    return b


def _inside(project_dir: Path, path: Path, what: str) -> Path:
    """``path`` with links resolved; refused when a relative name leaves the project directory."""
    real = Path(os.path.realpath(path))
    if real != project_dir and project_dir not in real.parents:
        raise InvalidArgument(f"{what} {path}: outside the project directory {project_dir}")
    return real


class _Checker:
    def __init__(self, doc: YamlFile, project_dir: Path, env: dict[str, str]) -> None:
        self.doc = doc
        self.dir = project_dir
        self.env = env

    def fail(self, path: tuple[Any, ...], message: str, *, key: bool = False) -> InvalidArgument:
        dotted = ".".join(str(p) for p in path)
        return InvalidArgument(f"{self.doc.where(path, key=key)}: {dotted + ': ' if dotted else ''}{message}")

    # -- typed readers --------------------------------------------------------------------------------

    def mapping(self, value: Any, path: tuple[Any, ...], keys: set[str] | None = None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        if keys is not None:
            for k in value:
                if k not in keys and not k.startswith("x-"):
                    raise self.fail((*path, k), f"unknown key (expected one of {', '.join(sorted(keys))})", key=True)
        return value

    def string(self, value: Any, path: tuple[Any, ...], *, numbers: bool = False) -> str:
        if isinstance(value, str) or (numbers and isinstance(value, (int, float)) and not isinstance(value, bool)):
            return str(value)
        raise self.fail(path, f"expected a string, got {_kind(value)}")

    def strings(self, value: Any, path: tuple[Any, ...]) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return [self.string(v, (*path, i), numbers=True) for i, v in enumerate(value)]

    def words(self, value: Any, path: tuple[Any, ...]) -> list[str]:
        """A command: a list, or a string split as a shell would (without expansion)."""
        if isinstance(value, str):
            import shlex

            try:
                return shlex.split(value)
            except ValueError as e:
                raise self.fail(path, str(e)) from None
        return self.strings(value, path)

    def boolean(self, value: Any, path: tuple[Any, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def integer(self, value: Any, path: tuple[Any, ...], minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"expected an integer of at least {minimum}, got {value!r}")
        return value

    def key_values(self, value: Any, path: tuple[Any, ...]) -> dict[str, str]:
        """``{K: V}`` or ``["K=V", "K"]`` (a bare K takes the environment's value, or is dropped)."""
        out: dict[str, str] = {}
        if isinstance(value, dict):
            for k, v in value.items():
                if v is None:
                    if k in self.env:
                        out[k] = self.env[k]
                    continue
                if isinstance(v, bool):
                    v = str(v).lower()
                out[k] = self.string(v, (*path, k), numbers=True)
            return out
        for i, item in enumerate(self.strings(value, path)):
            k, eq, v = item.partition("=")
            if not k:
                raise self.fail((*path, i), f"expected KEY=VALUE, got {item!r}")
            if eq:
                out[k] = v
            elif k in self.env:
                out[k] = self.env[k]
        return out

    # -- the project ----------------------------------------------------------------------------------

    def project(self, name: str | None, profiles: set[str], files: list[str]) -> Project:
        top = self.mapping(self.doc.data, (), _TOP_KEYS)
        name = name or self.env.get("COMPOSE_PROJECT_NAME") or (str(top["name"]) if top.get("name") else None)
        if name is None:
            name = re.sub(r"[^a-z0-9_-]", "", self.dir.name.lower()) or "default"
        if not _PROJECT_NAME.match(name):
            raise InvalidArgument(f"project name {name!r}: use lowercase letters, digits, - and _, starting with a letter or digit")
        services_doc = self.mapping(top.get("services"), ("services",))
        if not services_doc:
            raise self.fail(("services",), "no services")
        networks = {k: self.resource(k, v, ("networks", k), name, _NETWORK_KEYS, "_")
                    for k, v in self.mapping(top.get("networks"), ("networks",)).items() if not k.startswith("x-")}
        volumes = {k: self.resource(k, v, ("volumes", k), name, _VOLUME_KEYS, "_")
                   for k, v in self.mapping(top.get("volumes"), ("volumes",)).items() if not k.startswith("x-")}
        services: dict[str, Service] = {}
        for key, value in services_doc.items():
            if key.startswith("x-"):
                continue
            if not _SERVICE_NAME.match(key):
                raise self.fail(("services", key), "invalid service name")
            services[key] = self.service(key, value, networks, volumes, name)
        enabled = {k: s for k, s in services.items() if not s.profiles or profiles & set(s.profiles)}
        for s in enabled.values():
            for dep in s.depends_on:
                if dep not in services:
                    raise self.fail(("services", s.name, "depends_on", dep), f"no service {dep!r}")
                if dep not in enabled:
                    raise self.fail(("services", s.name, "depends_on", dep),
                                    f"service {dep!r} is in a profile that is not enabled (--profile)")
        used = {n for s in enabled.values() for n in s.networks}
        if "default" in used and "default" not in networks:
            networks["default"] = Resource("default", f"{name}_default")
        return Project(name=name, working_dir=str(self.dir), config_files=files,
                       services=self.ordered(enabled), networks={k: v for k, v in networks.items() if k in used},
                       volumes=volumes, disabled=sorted(set(services) - set(enabled)))

    def resource(self, key: str, value: Any, path: tuple[Any, ...], project: str, keys: set[str], sep: str) -> Resource:
        doc = self.mapping(value, path, keys)
        external = self.boolean(doc["external"], (*path, "external")) if "external" in doc else False
        real = self.string(doc["name"], (*path, "name")) if "name" in doc else (key if external else f"{project}{sep}{key}")
        if doc.get("driver") not in (None, "local", "bridge"):
            raise self.fail((*path, "driver"), f"driver {doc['driver']!r} is not supported (local volumes, bridge networks)")
        labels = self.key_values(doc["labels"], (*path, "labels")) if "labels" in doc else {}
        internal = self.boolean(doc["internal"], (*path, "internal")) if "internal" in doc else False
        return Resource(key, real, external, labels, internal)

    def service(self, name: str, value: Any, networks: dict[str, Resource], volumes: dict[str, Resource],
                project: str) -> Service:
        p: tuple[Any, ...] = ("services", name)
        doc = self.mapping(value, p, _SERVICE_KEYS)
        if "build" in doc:
            raise self.fail((*p, "build"), key=True, message=f"service {name}: build is not supported (pouchsh builds no images): "
                                           "build the image elsewhere and give `image:`")
        if "image" not in doc:
            raise self.fail(p, f"service {name} has no image")
        s = Service(name=name, image=self.string(doc["image"], (*p, "image")))
        if "command" in doc:
            s.command = self.words(doc["command"], (*p, "command"))
        if "entrypoint" in doc:
            s.entrypoint = self.words(doc["entrypoint"], (*p, "entrypoint"))
        for i, item in enumerate([doc["env_file"]] if isinstance(doc.get("env_file"), str) else doc.get("env_file") or []):
            where = (*p, "env_file", i)
            file = self.string(item if not isinstance(item, dict) else item.get("path"), where)
            real = _inside(self.dir, Path(self.dir, file), "env_file")
            try:
                text = real.read_bytes()[: 1 << 20].decode(errors="replace")
            except OSError as e:
                raise self.fail(where, f"{file}: {e.strerror or e}") from None
            s.environment.update(parse_env_file(text, file))
        if "environment" in doc:
            s.environment.update(self.key_values(doc["environment"], (*p, "environment")))
        for i, port in enumerate(self.list_of(doc, "ports", p)):
            s.ports.append(self.port(port, (*p, "ports", i)))
        for i, vol in enumerate(self.list_of(doc, "volumes", p)):
            self.volume(s, vol, (*p, "volumes", i), volumes)
        if "tmpfs" in doc:
            s.tmpfs += [doc["tmpfs"]] if isinstance(doc["tmpfs"], str) else self.strings(doc["tmpfs"], (*p, "tmpfs"))
        self.service_networks(s, doc.get("networks"), (*p, "networks"), networks)
        self.depends(s, doc.get("depends_on"), (*p, "depends_on"))
        if "healthcheck" in doc:
            s.healthcheck = self.health(doc["healthcheck"], (*p, "healthcheck"))
        if "restart" in doc:
            s.restart = self.string(doc["restart"], (*p, "restart"))
        if "labels" in doc:
            s.labels = self.key_values(doc["labels"], (*p, "labels"))
        for key in ("user", "working_dir", "container_name", "hostname", "stop_signal"):
            if key in doc:
                setattr(s, key, self.string(doc[key], (*p, key), numbers=key == "user"))
        for key in ("init", "read_only", "privileged", "tty", "stdin_open"):
            if key in doc:
                setattr(s, key, self.boolean(doc[key], (*p, key)))
        for key in ("cap_add", "cap_drop", "dns", "profiles"):
            if key in doc:
                setattr(s, key, [doc[key]] if key == "dns" and isinstance(doc[key], str) else self.strings(doc[key], (*p, key)))
        if "extra_hosts" in doc:
            hosts = self.key_values(doc["extra_hosts"], (*p, "extra_hosts")) if isinstance(doc["extra_hosts"], dict) else None
            s.extra_hosts = [f"{k}:{v}" for k, v in hosts.items()] if hosts is not None else [
                h.replace("=", ":", 1) if "=" in h else h for h in self.strings(doc["extra_hosts"], (*p, "extra_hosts"))]
        if "stop_grace_period" in doc:
            from managers.health import SECOND, parse_duration

            s.stop_timeout = max(0, parse_duration(self.string(doc["stop_grace_period"], (*p, "stop_grace_period"),
                                                               numbers=True), "stop_grace_period") // SECOND)
        if "mem_limit" in doc:
            s.memory = self.string(doc["mem_limit"], (*p, "mem_limit"), numbers=True)
        if "cpus" in doc:
            s.cpus = float(self.string(doc["cpus"], (*p, "cpus"), numbers=True))
        if "pids_limit" in doc:
            s.pids_limit = self.integer(doc["pids_limit"], (*p, "pids_limit"), minimum=-1)
        if "pull_policy" in doc:
            policy = self.string(doc["pull_policy"], (*p, "pull_policy"))
            if policy not in ("always", "missing", "never", "if_not_present"):
                raise self.fail((*p, "pull_policy"), "expected always, missing, never or if_not_present")
            s.pull_policy = "missing" if policy == "if_not_present" else policy
        if "scale" in doc:
            s.replicas = self.integer(doc["scale"], (*p, "scale"))
        self.deploy(s, doc.get("deploy"), (*p, "deploy"))
        if s.container_name and s.replicas > 1:
            raise self.fail((*p, "container_name"), "a service with a container_name cannot have more than one replica")
        return s

    def list_of(self, doc: dict[str, Any], key: str, p: tuple[Any, ...]) -> list[Any]:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail((*p, key), f"expected a list, got {_kind(value)}")
        return value

    def port(self, value: Any, path: tuple[Any, ...]) -> str:
        if isinstance(value, dict):
            doc = self.mapping(value, path, {"target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"})
            if "target" not in doc:
                raise self.fail(path, "a port needs a target")
            spec = str(self.integer(doc["target"], (*path, "target"), 1))
            if doc.get("published") is not None:
                spec = f"{self.string(doc['published'], (*path, 'published'), numbers=True)}:{spec}"
                if doc.get("host_ip"):
                    spec = f"{self.string(doc['host_ip'], (*path, 'host_ip'))}:{spec}"
            if doc.get("protocol"):
                spec += "/" + self.string(doc["protocol"], (*path, "protocol"))
            return spec
        return self.string(value, path, numbers=True)

    def volume(self, s: Service, value: Any, path: tuple[Any, ...], volumes: dict[str, Resource]) -> None:
        if isinstance(value, dict):
            doc = self.mapping(value, path, {"type", "source", "target", "read_only", "volume", "bind", "tmpfs", "consistency"})
            kind = self.string(doc.get("type", "volume"), (*path, "type"))
            target = self.string(doc.get("target"), (*path, "target"))
            if kind == "tmpfs":
                s.tmpfs.append(target)
                return
            source = self.string(doc["source"], (*path, "source")) if doc.get("source") is not None else ""
            mode = ":ro" if doc.get("read_only") is True else ""
            if kind not in ("volume", "bind"):
                raise self.fail((*path, "type"), "expected volume, bind or tmpfs")
            spec = f"{source}:{target}{mode}" if source else target
            if kind == "bind" and not source:
                raise self.fail(path, "a bind needs a source")
        else:
            spec = self.string(value, path)
        parts = spec.split(":")
        if len(parts) == 1:
            s.volumes.append(spec)  # an anonymous volume
            return
        source, rest = parts[0], ":".join(parts[1:])
        if source.startswith((".", "/", "~")):
            if source.startswith("~"):
                raise self.fail(path, "a bind source under ~ is not supported: give it relative to the project or absolute")
            host = Path(source) if source.startswith("/") else _inside(self.dir, Path(self.dir, source), "bind source")
            s.volumes.append(f"{host}:{rest}")
            return
        if source not in volumes:
            raise self.fail(path, f"volume {source!r} is not declared under the top-level volumes")
        s.volumes.append(f"{volumes[source].name}:{rest}")

    def service_networks(self, s: Service, value: Any, path: tuple[Any, ...], networks: dict[str, Resource]) -> None:
        if value is None:
            s.networks = {"default": [s.name]}
            return
        entries: dict[str, Any] = {k: None for k in self.strings(value, path)} if isinstance(value, list) else self.mapping(value, path)
        for key, conf in entries.items():
            if key not in networks and key != "default":
                raise self.fail((*path, key), f"network {key!r} is not declared under the top-level networks")
            doc = self.mapping(conf, (*path, key), {"aliases", "ipv4_address", "priority"})
            aliases = self.strings(doc["aliases"], (*path, key, "aliases")) if "aliases" in doc else []
            s.networks[key] = [s.name, *[a for a in aliases if a != s.name]]

    def depends(self, s: Service, value: Any, path: tuple[Any, ...]) -> None:
        if value is None:
            return
        if isinstance(value, list):
            s.depends_on = {d: "service_started" for d in self.strings(value, path)}
            return
        for dep, conf in self.mapping(value, path).items():
            doc = self.mapping(conf, (*path, dep), {"condition", "restart", "required"})
            condition = self.string(doc.get("condition", "service_started"), (*path, dep, "condition"))
            if condition not in CONDITIONS:
                raise self.fail((*path, dep, "condition"), f"expected one of {', '.join(CONDITIONS)}")
            s.depends_on[dep] = condition

    def health(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        from managers.health import HealthOptions

        doc = self.mapping(value, path, _HEALTH_KEYS)
        test = doc.get("test")
        if isinstance(test, list):
            test = self.strings(test, (*path, "test"))
            if test and test[0] == "CMD-SHELL" and len(test) > 2:
                test = ["CMD-SHELL", " ".join(test[1:])]
        elif test is not None:
            test = self.string(test, (*path, "test"))
        out = {"cmd": test}
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in doc:
                out[key] = self.string(doc[key], (*path, key), numbers=True)
        if "retries" in doc:
            out["retries"] = self.integer(doc["retries"], (*path, "retries"))
        disable = self.boolean(doc["disable"], (*path, "disable")) if "disable" in doc else False
        try:
            HealthOptions.parse(**{k: v for k, v in out.items()}, disable=disable)
        except InvalidArgument as err:
            raise self.fail(path, err.message) from None
        return {**out, "disable": disable}

    def deploy(self, s: Service, value: Any, path: tuple[Any, ...]) -> None:
        doc = self.mapping(value, path, {"replicas", "resources", "restart_policy", "labels", "mode"})
        if "replicas" in doc:
            s.replicas = self.integer(doc["replicas"], (*path, "replicas"))
        resources = self.mapping(doc.get("resources"), (*path, "resources"), {"limits", "reservations"})
        limits = self.mapping(resources.get("limits"), (*path, "resources", "limits"), {"cpus", "memory", "pids"})
        if "memory" in limits:
            s.memory = self.string(limits["memory"], (*path, "resources", "limits", "memory"), numbers=True)
        if "cpus" in limits:
            try:
                s.cpus = float(self.string(limits["cpus"], (*path, "resources", "limits", "cpus"), numbers=True))
            except ValueError:
                raise self.fail((*path, "resources", "limits", "cpus"), "expected a number") from None
        if "pids" in limits:
            s.pids_limit = self.integer(limits["pids"], (*path, "resources", "limits", "pids"), minimum=-1)

    def ordered(self, services: dict[str, Service]) -> dict[str, Service]:
        """Dependencies before dependents (a cycle is an error naming it)."""
        out: dict[str, Service] = {}
        visiting: list[str] = []

        def visit(name: str) -> None:
            if name in out:
                return
            if name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(name):], name])
                raise self.fail(("services", name, "depends_on"), f"dependency cycle: {cycle}")
            visiting.append(name)
            for dep in services[name].depends_on:
                visit(dep)
            visiting.pop()
            out[name] = services[name]

        for name in services:
            visit(name)
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)
