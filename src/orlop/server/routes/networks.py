"""``/networks`` (moby ``api/server/router/network``): list, inspect, create, delete,
prune, connect, disconnect; the engine's network verbs (engine/net/networks.py) with
Docker's status codes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import InvalidParameterError
from orlop.server.context import ctx_of, engine_json
from orlop.server.wire import json_body, json_response, query_filters
from orlop.wire.create import endpoint_request
from orlop.wire.fields import field_bool, field_str, field_str_list
from orlop.wire.prune import networks_report

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.network.model import EndpointRequest
    from orlop.server.routing import Routes


async def list_networks(request: web.Request) -> web.Response:
    from orlop.wire.networks import list_networks as go

    return await engine_json(request, go, query_filters(request))


async def inspect_network(request: web.Request) -> web.Response:
    from orlop.wire.networks import inspect_network as go

    return await engine_json(request, go, request.match_info["id"])


async def create_network(request: web.Request) -> web.Response:
    from orlop.wire.networks import create_network as go

    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit)
    name = field_str(body, "Name")
    if not name:
        raise InvalidParameterError("network name must not be empty")
    return json_response(await ctx.call(lambda e: go(e, body)), status=201)


async def remove_network(request: web.Request) -> web.Response:
    from orlop.engine.net.networks import remove_network as go

    ref = request.match_info["id"]
    await ctx_of(request).call(lambda e: go(e, ref))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    from orlop.engine.net.networks import prune_networks

    filters = query_filters(request)
    deleted = await ctx_of(request).call(lambda e: prune_networks(e, filters))
    return json_response(networks_report(deleted))


def _endpoint(ref: str, body: dict[str, Any]) -> EndpointRequest:
    cfg = body.get("EndpointConfig") or {}
    if not isinstance(cfg, dict):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    "NetworkConnect.EndpointConfig")
    return endpoint_request(ref, cfg, "NetworkConnect.EndpointConfig.")


async def connect(request: web.Request) -> web.Response:
    from orlop.engine.net.networks import connect as go

    ctx = ctx_of(request)
    ref = request.match_info["id"]
    body = await json_body(request, ctx.body_limit)
    container = field_str(body, "Container")
    req = _endpoint(ref, body)
    links = _links(body)

    def run(e: Engine) -> None:
        go(e, ref, container, req.ip, req.aliases, mac=req.mac, links=links, ip6=req.ip6,
           link_local_ips=req.link_local_ips, driver_opts=req.driver_opts)

    await ctx.call(run)
    return web.Response(status=200)


def _links(body: dict[str, Any]) -> list[str]:
    """``EndpointConfig.Links`` (``target:alias``), applied (engine/net/links.py)."""
    cfg = body.get("EndpointConfig")
    if not isinstance(cfg, dict):
        return []
    return list(field_str_list(cfg, "Links", "EndpointConfig.") or [])


async def disconnect(request: web.Request) -> web.Response:
    from orlop.engine.net.networks import disconnect as go

    ctx = ctx_of(request)
    ref = request.match_info["id"]
    body = await json_body(request, ctx.body_limit)
    container = field_str(body, "Container")
    force = field_bool(body, "Force")

    def run(e: Engine) -> None:
        go(e, ref, container, force)

    await ctx.call(run)
    return web.Response(status=200)


def register(routes: Routes) -> None:
    routes.add("GET", "/networks", list_networks)
    routes.add("POST", "/networks/create", create_network)
    routes.add("POST", "/networks/prune", prune)
    routes.add("GET", "/networks/{id}", inspect_network)
    routes.add("DELETE", "/networks/{id}", remove_network)
    routes.add("POST", "/networks/{id}/connect", connect)
    routes.add("POST", "/networks/{id}/disconnect", disconnect)
