"""The volumes dashboard: HTML pages served by orlopd itself (docs/dashboard.md).

Served on orlopd's own listeners, under ``/dashboard``, with the API's authority (who can
reach the socket, or holds a client certificate for the TLS listener); ``orlop
dashboard`` brings the unix socket to a browser through a loopback port with a
per-launch token.  Server-rendered HTML (pages.py) with one small vanilla script for
progress bars and busy buttons (static/dashboard.js); every action is the engine call
the API's route makes (actions.py), never a second implementation.

:func:`register` is the one call server/app.py makes: it adds the routes and puts the
dashboard's gate (security.py) in front of the API's middleware.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from orlop.server.dashboard.appctx import CTX
from orlop.server.dashboard.security import PREFIX, SECRET, Secret, gate

if TYPE_CHECKING:
    from orlop.server.context import ServerContext

_STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}


async def _static(request: web.Request) -> web.Response:
    from orlop.server.dashboard.html import static
    from orlop.server.dashboard.security import secure

    name = request.match_info["file"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    resp = web.Response(body=static(name), content_type=_STATIC[name], charset="utf-8")
    secure(resp)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


async def _to_index(_request: web.Request) -> web.Response:
    return web.Response(status=308, headers={"Location": PREFIX + "/"})


def register(app: web.Application, context: ServerContext) -> None:
    """Add the dashboard to orlopd's application (before it starts)."""
    from orlop.server.dashboard import actions, pages

    app[CTX] = context
    app[SECRET] = Secret()
    app.middlewares.insert(0, gate)
    r = app.router
    r.add_get(PREFIX, _to_index, allow_head=False)
    r.add_get(PREFIX + "/", pages.volumes_page)
    r.add_get(PREFIX + "/static/{file}", _static)
    r.add_get(PREFIX + "/containers", pages.containers_page)
    r.add_get(PREFIX + "/images", pages.images_page)
    r.add_get(PREFIX + "/prune", pages.prune_page)
    r.add_post(PREFIX + "/prune", actions.prune)
    r.add_post(PREFIX + "/volumes", actions.create)
    r.add_post(PREFIX + "/import", actions.import_)
    r.add_get(PREFIX + "/volumes/{name}", pages.volume_page)
    r.add_get(PREFIX + "/volumes/{name}/file", pages.file_page)
    r.add_get(PREFIX + "/volumes/{name}/download", actions.download, allow_head=False)
    r.add_get(PREFIX + "/volumes/{name}/export", actions.export, allow_head=False)
    r.add_post(PREFIX + "/volumes/{name}/upload", actions.upload)
    r.add_post(PREFIX + "/volumes/{name}/clone", actions.clone)
    r.add_post(PREFIX + "/volumes/{name}/remove", actions.remove)
    r.add_post(PREFIX + "/volumes/{name}/push", actions.push)
    r.add_post(PREFIX + "/volumes/{name}/snapshots", actions.snapshot_create)
    r.add_post(PREFIX + "/volumes/{name}/snapshots/{snapshot}/restore",
               actions.snapshot_restore)
    r.add_post(PREFIX + "/volumes/{name}/snapshots/{snapshot}/remove", actions.snapshot_remove)
    r.add_post(PREFIX + "/pull", actions.pull)


__all__ = ["register"]
