"""The route table and the middleware every request passes through.

Each route is served both unprefixed and with a version prefix (``/v1.45/volumes``), as
moby's router does.  The middleware checks the version, refuses browser requests, turns
every exception into Docker's error body through ``errors.status_for`` and stamps the
headers clients negotiate with (``Api-Version``).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Awaitable, Callable

from aiohttp import web

from orlop import __version__
from orlop.server.context import CONTEXT, ServerContext
from orlop.server.errors import ForbiddenOriginError, error_response, from_exception
from orlop.wire.version import API_VERSION, MIN_API_VERSION

log = logging.getLogger("orlopd")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERSION_PREFIX = r"/{version:v[0-9]+\.[0-9]+}"


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def api_version(request: web.Request) -> str:
    """The version the client asked for, or the server's own."""
    v = request.match_info.get("version")
    return v[1:] if v else API_VERSION


def server_headers() -> dict[str, str]:
    return {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
            "Server": f"Orlop/{__version__} ({platform.system().lower()})"}


@web.middleware
async def docker_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.headers.get("Origin"):
            raise ForbiddenOriginError("cross-origin requests are not allowed: orlopd has "
                                       "no CORS configuration")
        v = request.match_info.get("version")
        if v:
            want = _version_tuple(v[1:])
            if want > _version_tuple(API_VERSION):
                return _stamp(error_response(
                    400, f"client version {v[1:]} is too new. Maximum supported API "
                         f"version is {API_VERSION}"))
            if want < _version_tuple(MIN_API_VERSION):
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


class Routes:
    """Collects (method, path, handler) and adds each with and without a version prefix."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def add(self, method: str, path: str, handler: Handler) -> None:
        for p in (path, _VERSION_PREFIX + path):
            if method == "GET":
                self.app.router.add_get(p, handler, allow_head=True)
            else:
                self.app.router.add_route(method, p, handler)


def build_app(context: ServerContext) -> web.Application:
    from orlop.server.routes import (
        build,
        containers,
        events,
        exec_,
        images,
        networks,
        stats,
        system,
        volumes,
    )

    app = web.Application(middlewares=[docker_middleware],
                          client_max_size=context.body_limit, handler_args={})
    app[CONTEXT] = context
    routes = Routes(app)
    for module in (system, events, volumes, images, containers, stats, exec_, networks,
                   build):
        module.register(routes)

    async def on_shutdown(_app: web.Application) -> None:
        await context.sessions.shutdown()

    async def on_cleanup(_app: web.Application) -> None:
        context.close()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
