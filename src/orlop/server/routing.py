"""The route table's builder: what each routes module's ``register`` is handed.  A leaf,
so that a routes module never imports app.py (which imports every routes module)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERSION_PREFIX = r"/{version:v[0-9]+\.[0-9]+}"


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
