"""A JSON-lines progress response (build, pull, push, volume push/pull), the way dockerd
streams them: started by its first message, so that a failure before any progress is
still an ordinary JSON error with its HTTP status; once started, a failure is an
``error`` message at the end of the stream."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from orlop.wire import gojson


class JSONLines:
    """The response of one streaming request; :meth:`finish` returns it."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.resp: web.StreamResponse | None = None

    async def _start(self) -> web.StreamResponse:
        if self.resp is None:
            self.resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await self.resp.prepare(self.request)
        return self.resp

    async def send(self, msg: dict[str, Any]) -> None:
        resp = await self._start()
        await resp.write(gojson.encode(msg, b"\r\n"))

    async def relay(self, task: asyncio.Future[Any],
                    queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Send what the worker puts on ``queue`` while ``task`` runs, then the rest."""
        while not task.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await self.send(getter.result())
            else:
                getter.cancel()
        while not queue.empty():
            await self.send(queue.get_nowait())

    async def fail(self, err: BaseException, detail: dict[str, Any]) -> None:
        """``err`` as the stream's last message; raised (an error status) when nothing
        was sent yet."""
        if self.resp is None:
            raise err
        await self.send({"errorDetail": detail, "error": str(err)})

    async def finish(self) -> web.StreamResponse:
        resp = await self._start()
        await resp.write_eof()
        return resp
