"""GET /containers/{id}/stats and POST /containers/{id}/update: cgroup figures and limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from orlop.server.app import Routes


def register(routes: Routes) -> None:
    from orlop.errors import UnsupportedError

    async def unsupported(request: web.Request) -> web.Response:
        raise UnsupportedError(f"{request.method} {request.path}: not supported by this "
                               "Orlop version")

    routes.add("GET", "/containers/{id}/stats", unsupported)
    routes.add("POST", "/containers/{id}/update", unsupported)
