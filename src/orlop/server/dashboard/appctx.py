"""The server context as the dashboard's handlers reach it.

``register`` is handed orlopd's ``ServerContext`` and keeps it under a key of its own, so
that the dashboard's modules need not import server/context.py at run time (that module
sits in the import circle of the API's route table, server/app.py, which imports this
package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from orlop.server.context import ServerContext

CTX: web.AppKey[ServerContext] = web.AppKey("orlop_dashboard_context")


def ctx_of(request: web.Request) -> ServerContext:
    return request.app[CTX]


__all__ = ["CTX", "ctx_of"]
