"""Volume endpoints: create, list, inspect, remove, prune."""

from __future__ import annotations

from aiohttp import web

from ctrd.errors import InvalidArgument
from pouchd.bridge.context import Bridge
from managers.dockershapes import volume_shape
from pouchd.server import body_json, json_response, query_bool, query_filters

__all__ = ["install"]


def install(b: Bridge) -> None:
    volumes = lambda: b.facade.volumes  # the facade builds managers on first use

    async def create(request: web.Request) -> web.Response:
        body = await body_json(request, required=False)
        name = body.get("Name") or None
        labels = body.get("Labels") or {}
        options = body.get("DriverOpts") or {}
        if not isinstance(labels, dict) or not isinstance(options, dict):
            raise InvalidArgument("volume create: Labels and DriverOpts must be objects")
        if name is not None and not isinstance(name, str):
            raise InvalidArgument("volume create: Name must be a string")
        record = await b.call(volumes().create, name, driver=str(body.get("Driver") or "local"),
                              labels=labels, options=options)
        return json_response(volume_shape(record), status=201)

    async def list_(request: web.Request) -> web.Response:
        records = await b.call(volumes().list, filters=query_filters(request))
        return json_response({"Volumes": [volume_shape(r) for r in records], "Warnings": None})

    async def inspect(request: web.Request) -> web.Response:
        return json_response(volume_shape(await b.call(volumes().inspect, request.match_info["name"])))

    async def remove(request: web.Request) -> web.Response:
        await b.call(volumes().remove, [request.match_info["name"]], force=query_bool(request, "force"))
        return web.Response(status=204)

    async def prune(request: web.Request) -> web.Response:
        filters = query_filters(request)
        # API 1.41 (the newest pouchd speaks) prunes every unused volume; only 1.42 added all=false
        every = not any(f in ("all=false", "all=0") for f in filters)
        result = await b.call(volumes().prune, all=every, filters=[f for f in filters if not f.startswith("all=")])
        deleted = result["volumes_deleted"]
        return json_response({"VolumesDeleted": deleted or None, "SpaceReclaimed": result.get("space_reclaimed", 0)})

    b.route("POST", "/volumes/create", create)
    b.route("POST", "/volumes/prune", prune)
    b.route("GET", "/volumes", list_)
    b.route("GET", "/volumes/{name}", inspect)
    b.route("DELETE", "/volumes/{name}", remove)
