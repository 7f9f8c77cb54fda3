"""System endpoints: _ping, version, info, events, system/df, auth."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from aiohttp import web

import ctrd
from ctrd.errors import InvalidArgument
from pouchd.bridge.context import Bridge
from managers.dockershapes import DOCKER_EVENT_TYPES, event_shape, go_arch
from pouchd.errors import NotImplementedByPouchd
from pouchd.server import API_VERSION, MIN_API_VERSION, json_response, query_filters, stream_iter

__all__ = ["install"]


def install(b: Bridge) -> None:
    h = _Handlers(b)
    for method in ("GET", "HEAD"):
        b.route(method, "/_ping", h.ping)
    b.route("GET", "/version", h.version)
    b.route("GET", "/info", h.info)
    b.route("GET", "/events", h.events)
    b.route("GET", "/system/df", h.df)
    b.route("POST", "/auth", h.auth)
    b.route("POST", "/build", h.build)
    b.route("POST", "/session", h.build)


class _Handlers:
    def __init__(self, b: Bridge) -> None:
        self.b = b

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(
            status=200, text="OK" if request.method == "GET" else None, content_type="text/plain",
            headers={"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"},
        )

    async def version(self, request: web.Request) -> web.Response:
        info = await self.b.call(self.b.facade.system.version)
        uname = os.uname()
        return json_response({
            "Platform": {"Name": "pouchd"},
            "Components": [
                {"Name": "Engine", "Version": ctrd.__version__,
                 "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
                             "Arch": go_arch(), "KernelVersion": uname.release, "Experimental": "false",
                             "GoVersion": f"python{info['python_version']}", "GitCommit": "", "BuildTime": ""}},
                {"Name": "containerd", "Version": info["containerd_version"],
                 "Details": {"GitCommit": info["containerd_revision"]}},
            ],
            "Version": ctrd.__version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": f"python{info['python_version']}",
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": uname.release,
            "BuildTime": "",
        })

    async def info(self, request: web.Request) -> web.Response:
        info = await self.b.call(self.b.facade.system.info)
        return json_response({
            "ID": "", "Containers": info["containers"], "ContainersRunning": info["containers_running"],
            "ContainersPaused": info["containers_paused"], "ContainersStopped": info["containers_stopped"],
            "Images": info["images"], "Driver": info["snapshotter"], "DriverStatus": [],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                        "Log": ["json-file"]},
            "MemoryLimit": True, "SwapLimit": False, "KernelMemory": False, "CpuCfsPeriod": True,
            "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "BridgeNfIptables": True, "BridgeNfIp6tables": True, "Debug": False, "NFd": 0, "OomKillDisable": False,
            "NGoroutines": threading.active_count(), "SystemTime": datetime.now(UTC).isoformat(),
            "LoggingDriver": "json-file", "CgroupDriver": info["cgroup_driver"],
            "CgroupVersion": str(info["cgroup_version"]), "NEventsListener": 0,
            "KernelVersion": info["kernel_version"], "OperatingSystem": info["operating_system"],
            "OSVersion": "", "OSType": "linux", "Architecture": info["architecture"],
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                               "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
            "NCPU": info["cpus"], "MemTotal": info["memory"], "GenericResources": None,
            "DockerRootDir": info["data_root"], "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": os.uname().nodename, "Labels": [f"pouchsh.namespace={info['namespace']}"],
            "ExperimentalBuild": False, "ServerVersion": ctrd.__version__,
            "Runtimes": {info["runtime"]: {"path": info["runtime"]}}, "DefaultRuntime": info["runtime"],
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": info["containerd_revision"], "Expected": info["containerd_revision"]},
            "RuncCommit": {"ID": "", "Expected": ""}, "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": [], "Warnings": None,
        })

    async def df(self, request: web.Request) -> web.Response:
        from managers.dockershapes import container_summary, image_summary, volume_shape

        facade = self.b.facade
        images = await self.b.call(facade.images.list)
        containers = await self.b.call(facade.containers.list, all=True, no_trunc=True)
        volumes = await self.b.call(facade.volumes.usage)
        return json_response({
            "LayersSize": sum(i.get("size", 0) for i in images),
            "Images": [image_summary(i) for i in images],
            "Containers": [{**container_summary(c), "SizeRootFs": 0} for c in containers],
            "Volumes": [{**volume_shape(v), "UsageData": {"Size": v.get("size", 0),
                                                          "RefCount": len(v.get("containers") or [])}}
                        for v in volumes],
            "BuildCache": None, "BuilderSize": 0,
        })

    async def auth(self, request: web.Request) -> web.Response:
        from pouchd.server import body_json

        body = await body_json(request)
        await self.b.call(self.b.facade.images.login, body.get("serveraddress") or None,
                          str(body.get("username") or ""), str(body.get("password") or ""))
        return json_response({"Status": "Login Succeeded", "IdentityToken": ""})

    async def build(self, request: web.Request) -> web.Response:
        raise NotImplementedByPouchd("image build (POST /build)")

    async def events(self, request: web.Request) -> web.StreamResponse:
        since = _unix_time(request.query.get("since"), "since")
        until = _unix_time(request.query.get("until"), "until")
        cancel = self.b.new_cancel()
        records = await self.b.call(self.b.facade.system.events, filters=_event_filters(query_filters(request)),
                                    since=since, until=until, cancel=cancel)

        def lines() -> Iterator[bytes]:
            for record in records:
                if record["type"] in DOCKER_EVENT_TYPES:
                    yield (json.dumps(event_shape(record)) + "\n").encode()

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await stream_iter(self.b.api, request, response, _until_interrupted(lines()), cancel)
        finally:
            cancel.set()
        await response.write_eof()
        return response


def _until_interrupted(items: Iterator[bytes]) -> Iterator[bytes]:
    from ctrd.errors import Interrupted

    try:
        yield from items
    except Interrupted:
        return


def _unix_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        raise InvalidArgument(f"events: {name}={value!r}: expected a unix timestamp") from None


#: docker's event filter keys that pouchsh's events take as they are
_EVENT_KEYS = {"type", "event", "container", "image", "label", "network", "volume"}


def _event_filters(items: list[str]) -> list[str]:
    out = []
    for item in items:
        key = item.partition("=")[0]
        if key not in _EVENT_KEYS:
            raise InvalidArgument(f"events: unknown filter {key!r}")
        out.append(item)
    return out
