"""A streamed request body fed into the engine's pipe: the volume import route and the
dashboard's import upload share it (one place that enforces the size limit and keeps
reading after the engine stopped, so the client gets the answer rather than a reset)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from orlop.kernel.fdio import write_all
from orlop.server.errors import PayloadTooLargeError

if TYPE_CHECKING:
    from orlop.server.context import ServerContext


async def feed(ctx: ServerContext, chunks: AsyncIterator[bytes], wfd: int,
               job: asyncio.Task[object], *, what: str = "request body") -> None:
    """Write ``chunks`` to ``wfd`` as they arrive while ``job`` (the engine reading the
    other end) runs; once it stopped, read and drop the rest.  ``wfd`` is closed: EOF
    for the engine.

    Raises:
        PayloadTooLargeError: more than the server's stream limit (``what`` names it).
    """
    open_w, total = True, 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > ctx.stream_limit:
                raise PayloadTooLargeError(
                    f"{what} too large: the limit is {ctx.stream_limit} bytes")
            if open_w and not job.done():
                try:
                    await ctx.run(functools.partial(write_all, wfd, chunk))
                except BrokenPipeError:
                    open_w = False
    finally:
        os.close(wfd)


__all__ = ["feed"]
