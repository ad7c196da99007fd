"""The route table and the middleware every request passes through.

Each route is served both unprefixed and with a version prefix (``/v1.45/volumes``), as
moby's router does.  The middleware checks the version, refuses browser requests, turns
every exception into Docker's error body through ``errors.status_for`` and stamps the
headers clients negotiate with (``Api-Version``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from orlop.server.context import CONTEXT, ServerContext
from orlop.server.errors import ForbiddenOriginError, error_response, from_exception
from orlop.server.headers import server_headers, version_tuple
from orlop.server.routing import Handler, Routes
from orlop.wire.version import API_VERSION, MIN_API_VERSION

log = logging.getLogger("orlopd")




@web.middleware
async def docker_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.headers.get("Origin"):
            raise ForbiddenOriginError("cross-origin requests are not allowed: orlopd has "
                                       "no CORS configuration")
        v = request.match_info.get("version")
        if v:
            want = version_tuple(v[1:])
            if want > version_tuple(API_VERSION):
                return _stamp(error_response(
                    400, f"client version {v[1:]} is too new. Maximum supported API "
                         f"version is {API_VERSION}"))
            if want < version_tuple(MIN_API_VERSION):
                return _stamp(error_response(
                    400, f"client version {v[1:]} is too old. Minimum supported API version "
                         f"is {MIN_API_VERSION}, please upgrade your client to a newer "
                         "version"))
        resp = await handler(request)
    except web.HTTPNotFound:
        return _stamp(error_response(404, "page not found"))
    except web.HTTPMethodNotAllowed:
        return _stamp(error_response(405, "method not allowed"))
    except web.HTTPException as exc:
        return _stamp(error_response(exc.status, exc.reason))
    except Exception as exc:
        if not getattr(exc, "kind", None) and not getattr(exc, "http_status", None):
            log.exception("%s %s failed", request.method, request.path)
        return _stamp(from_exception(exc))
    if not resp.prepared:
        _stamp(resp)
    return resp


def _stamp(resp: web.StreamResponse) -> web.StreamResponse:
    for k, v in server_headers().items():
        resp.headers.setdefault(k, v)
    return resp


def build_app(context: ServerContext) -> web.Application:
    from orlop.server.routes import (
        build,
        containers,
        events,
        exec_,
        images,
        networks,
        stats,
        swarm,
        system,
        volumes,
    )

    app = web.Application(middlewares=[docker_middleware],
                          client_max_size=context.body_limit, handler_args={})
    app[CONTEXT] = context
    routes = Routes(app)
    for module in (system, events, volumes, images, containers, stats, exec_, networks,
                   build, swarm):
        module.register(routes)
    from orlop.server import dashboard  # the browser pages (docs/dashboard.md)

    dashboard.register(app, context)

    async def on_shutdown(_app: web.Application) -> None:
        await context.sessions.shutdown()

    async def on_cleanup(_app: web.Application) -> None:
        context.close()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
