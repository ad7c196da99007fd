"""``/_ping``, ``/version``, ``/info``, ``/system/df``: the dicts are the engine's
(wire/system.py), the same the CLI's local backend renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.server.context import ctx_of
from orlop.server.headers import server_headers
from orlop.server.wire import json_response
from orlop.wire.version import API_VERSION, MIN_API_VERSION

if TYPE_CHECKING:
    from orlop.server.routing import Routes


async def ping(request: web.Request) -> web.Response:
    headers = {**server_headers(), "Cache-Control": "no-cache, no-store, must-revalidate",
               "Pragma": "no-cache", "Builder-Version": "1"}
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers,
                            content_type="text/plain", charset="utf-8")
    return web.Response(status=200, text="OK", headers=headers)


def version_info() -> dict[str, Any]:
    from orlop.wire.system import version_info as engine_version

    return engine_version(API_VERSION, MIN_API_VERSION)


async def version(request: web.Request) -> web.Response:
    return json_response(version_info())


async def info(request: web.Request) -> web.Response:
    from orlop.wire.system import info as engine_info

    return json_response(await ctx_of(request).call(engine_info))


async def system_df(request: web.Request) -> web.Response:
    """Docker's ``GET /system/df``: images, containers and volumes with their sizes."""
    from orlop.wire.system import disk_usage

    return json_response(await ctx_of(request).call(disk_usage))


def register(routes: Routes) -> None:
    routes.add("GET", "/_ping", ping)
    routes.add("GET", "/version", version)
    routes.add("GET", "/info", info)
    routes.add("GET", "/system/df", system_df)
