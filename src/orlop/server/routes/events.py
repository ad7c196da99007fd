"""GET /events: the engine's event log (engine/events.py), streamed as Docker does.

moby ``getEvents``: the past between ``since`` and ``until`` when either is given,
then, unless ``until`` is already past, every new event as it is written, until
``until`` (for ever without it); one JSON object per line, flushed one by one.  The
log is followed by polling the file (the writers are other processes); a client that
goes away ends the handler at the next look (aiohttp cancels it too), and a server
shutting down ends every stream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from aiohttp import web

from orlop.engine.events import POLL_INTERVAL, EventFilter, EventLog, parse_timestamp, select
from orlop.errors import InvalidParameterError
from orlop.server.context import ctx_of
from orlop.server.wire import query_filters
from orlop.wire import gojson

if TYPE_CHECKING:
    from orlop.server.routing import Routes

# Set when the server shuts down: every stream (events, stats) ends at once.
SHUTDOWN = web.AppKey("orlop_events_stop", asyncio.Event)


async def events(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    since, until = request.query.get("since", ""), request.query.get("until", "")
    since_ns, until_ns = parse_timestamp(since), parse_timestamp(until)
    if until_ns and until_ns < since_ns:
        raise InvalidParameterError(
            f"`since` time ({since}) cannot be after `until` time ({until})")
    flt = EventFilter(query_filters(request))
    tail = EventLog(ctx.config.root).tail()
    stop = request.app[SHUTDOWN]
    try:
        past = await ctx.run(tail.history) if since_ns or until_ns else []
        if not (since_ns or until_ns):
            await ctx.run(tail.skip_history)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await _send(resp, select(past, since_ns, until_ns, flt))
        while not stop.is_set() and (not until_ns or time.time_ns() <= until_ns):
            transport = request.transport
            if transport is None or transport.is_closing():
                break  # the client went away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_INTERVAL)
            await _send(resp, select(tail.poll(), since_ns, until_ns, flt))
        with contextlib.suppress(ConnectionError):
            await resp.write_eof()
        return resp
    except ConnectionError:
        return web.StreamResponse()  # the client went away while we wrote
    finally:
        tail.close()


async def _send(resp: web.StreamResponse, evs: list[dict[str, object]]) -> None:
    if evs:
        await resp.write(b"".join(gojson.encode(ev) for ev in evs))


def register(routes: Routes) -> None:
    routes.app[SHUTDOWN] = asyncio.Event()

    async def on_shutdown(app: web.Application) -> None:
        app[SHUTDOWN].set()

    routes.app.on_shutdown.append(on_shutdown)
    routes.add("GET", "/events", events)
