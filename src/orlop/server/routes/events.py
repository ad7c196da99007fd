"""GET /events: the engine's event log, streamed (written by the engine, read here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from orlop.server.app import Routes


def register(routes: Routes) -> None:
    from orlop.errors import UnsupportedError

    async def events(request: web.Request) -> web.Response:
        raise UnsupportedError("GET /events: not supported by this Orlop version")

    routes.add("GET", "/events", events)
