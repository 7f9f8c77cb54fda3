"""Network endpoints: create, list, inspect, remove, prune, connect, disconnect."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ctrd.errors import InvalidArgument
from pouchd.bridge.context import Bridge
from managers.dockershapes import network_shape
from pouchd.server import body_json, json_response, query_filters

__all__ = ["install"]

_UNSUPPORTED = ("EnableIPv6", "Ingress", "ConfigOnly", "Scope")


def install(b: Bridge) -> None:
    networks = lambda: b.facade.networks  # the facade builds managers on first use

    async def create(request: web.Request) -> web.Response:
        body = await body_json(request)
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise InvalidArgument("network create: Name is required")
        bad = [k for k in _UNSUPPORTED if body.get(k) not in (None, False, "", "local")]
        if body.get("ConfigFrom"):
            bad.append("ConfigFrom")
        ipam: dict[str, Any] = body.get("IPAM") or {}
        if not isinstance(ipam, dict):
            raise InvalidArgument("network create: IPAM must be an object")
        configs = ipam.get("Config") or []
        if len(configs) > 1:
            bad.append("IPAM.Config (more than one subnet)")
        if ipam.get("Driver") not in (None, "", "default"):
            bad.append("IPAM.Driver")
        if bad:
            raise InvalidArgument("pouchd does not support these network fields: " + ", ".join(bad))
        config = configs[0] if configs else {}
        labels = body.get("Labels") or {}
        options = body.get("Options") or {}
        record = await b.call(
            networks().create, name, driver=str(body.get("Driver") or "bridge"),
            subnet=config.get("Subnet") or None, gateway=config.get("Gateway") or None,
            ip_range=config.get("IPRange") or None, internal=bool(body.get("Internal")),
            labels=labels, options=options,
        )
        return json_response({"Id": record["id"], "Warning": ""}, status=201)

    async def list_(request: web.Request) -> web.Response:
        records = await b.call(networks().list, filters=query_filters(request))
        return json_response([network_shape(r) for r in records])

    async def inspect(request: web.Request) -> web.Response:
        return json_response(network_shape(await b.call(networks().inspect, request.match_info["id"])))

    async def remove(request: web.Request) -> web.Response:
        await b.call(networks().remove, [request.match_info["id"]])
        return web.Response(status=204)

    async def prune(request: web.Request) -> web.Response:
        result = await b.call(networks().prune, filters=query_filters(request))
        deleted = result["networks_deleted"]
        return json_response({"NetworksDeleted": deleted or None})

    async def connect(request: web.Request) -> web.Response:
        body = await body_json(request)
        container = body.get("Container")
        if not isinstance(container, str) or not container:
            raise InvalidArgument("network connect: Container is required")
        endpoint = body.get("EndpointConfig") or {}
        if not isinstance(endpoint, dict):
            raise InvalidArgument("network connect: EndpointConfig must be an object")
        ip = ((endpoint.get("IPAMConfig") or {}).get("IPv4Address")) or None
        aliases = endpoint.get("Aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidArgument("network connect: EndpointConfig.Aliases must be a list of strings")
        await b.call(networks().connect, request.match_info["id"], container, ip=ip, aliases=aliases)
        return web.Response(status=200)

    async def disconnect(request: web.Request) -> web.Response:
        body = await body_json(request)
        container = body.get("Container")
        if not isinstance(container, str) or not container:
            raise InvalidArgument("network disconnect: Container is required")
        await b.call(networks().disconnect, request.match_info["id"], container, force=bool(body.get("Force")))
        return web.Response(status=200)

    b.route("POST", "/networks/create", create)
    b.route("POST", "/networks/prune", prune)
    b.route("GET", "/networks", list_)
    b.route("GET", "/networks/{id}", inspect)
    b.route("DELETE", "/networks/{id}", remove)
    b.route("POST", "/networks/{id}/connect", connect)
    b.route("POST", "/networks/{id}/disconnect", disconnect)
