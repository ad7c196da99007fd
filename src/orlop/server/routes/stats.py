"""GET /containers/{id}/stats and POST /containers/{id}/update: cgroup figures and limits.

Both are engine/containers/stats.py's functions, the ones the local CLI calls.  A stats stream
takes one sample per second in a worker thread (each with an engine of its own) and
ends when the client goes away (aiohttp cancels the handler), the server shuts down,
or the container is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from aiohttp import web

from orlop.server.context import ctx_of
from orlop.server.routes.events import SHUTDOWN
from orlop.server.wire import json_body, json_response, query_bool
from orlop.wire import gojson

if TYPE_CHECKING:
    from orlop.server.routing import Routes


async def container_stats(request: web.Request) -> web.StreamResponse:
    from orlop.engine.containers.stats import INTERVAL, StatsReader

    ctx = ctx_of(request)
    ref = request.match_info["id"]
    stream = query_bool(request, "stream", True)
    one_shot = query_bool(request, "one-shot")
    cid = (await ctx.call(lambda e: e.get_container(ref))).id  # a 404 before any byte
    reader = StatsReader(cid, stream=stream, one_shot=one_shot)
    stop = request.app[SHUTDOWN]
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    try:
        while True:
            out, done = await ctx.call(reader.step)
            if out is not None:
                await resp.write(gojson.encode(out))
            if done or stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), INTERVAL)
        await resp.write_eof()
    except ConnectionError:
        pass  # the client went away
    return resp


async def update_container(request: web.Request) -> web.Response:
    from orlop.engine.containers.stats import update_container as update
    from orlop.engine.containers.stats import update_from_wire

    ctx = ctx_of(request)
    ref = request.match_info["id"]
    opts = update_from_wire(await json_body(request, ctx.body_limit))
    return json_response(await ctx.call(lambda e: update(e, ref, opts)))


def register(routes: Routes) -> None:
    routes.add("GET", "/containers/{id}/stats", container_stats)
    routes.add("POST", "/containers/{id}/update", update_container)
