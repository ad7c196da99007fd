"""``/volumes``: list, create, inspect, remove, prune (moby ``api/server/router/volume``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.server.app import api_version
from orlop.server.context import ctx_of
from orlop.server.wire import (
    field_str,
    field_str_map,
    json_body,
    json_response,
    query_bool,
    query_filters,
)

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.app import Routes


async def list_volumes(request: web.Request) -> web.Response:
    filters = query_filters(request)

    def go(e: Engine) -> list[dict[str, Any]]:
        return [v.to_inspect() for v in e.volumes.list(filters)]

    vols = await ctx_of(request).call(go)
    return json_response({"Volumes": vols, "Warnings": None})


async def create_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit, required=False)
    name = field_str(body, "Name") or None
    driver = field_str(body, "Driver") or "local"
    opts = body.get("DriverOpts")
    labels = body.get("Labels")
    options = field_str_map(body, "DriverOpts") if opts is not None else None
    label_map = field_str_map(body, "Labels") if labels is not None else None

    def go(e: Engine) -> dict[str, Any]:
        return e.volumes.create(name, driver, options, label_map).to_inspect()

    return json_response(await ctx.call(go), status=201)


async def inspect_volume(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return json_response(await ctx_of(request).call(lambda e: e.volumes.get(name).to_inspect()))


async def remove_volume(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    force = query_bool(request, "force")
    await ctx_of(request).call(lambda e: e.volumes.remove(name, force=force))
    return web.Response(status=204)


async def prune_volumes(request: web.Request) -> web.Response:
    filters = query_filters(request)
    # API < 1.42 pruned every unused volume; 1.42 made named ones opt-in (filter all=true).
    old_api = tuple(int(p) for p in api_version(request).split(".")) < (1, 42)

    def go(e: Engine) -> tuple[list[str], int]:
        return e.volumes.prune(all=old_api, filters=filters)

    removed, reclaimed = await ctx_of(request).call(go)
    return json_response({"VolumesDeleted": removed, "SpaceReclaimed": reclaimed})


def register(routes: Routes) -> None:
    routes.add("GET", "/volumes", list_volumes)
    routes.add("POST", "/volumes/create", create_volume)
    routes.add("POST", "/volumes/prune", prune_volumes)
    routes.add("GET", "/volumes/{name}", inspect_volume)
    routes.add("DELETE", "/volumes/{name}", remove_volume)
