"""Request bodies that are tar streams (import, archive, load): spooled to a temp file.

The file lives in the engine's ``tmp/`` (same filesystem as the store), counted against a
size limit as it arrives (chunked bodies too), and is deleted however the request ends
(security-principles F4).  The engine then reads a real file from a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO

from aiohttp import web

from orlop.config import EngineConfig
from orlop.server.errors import PayloadTooLargeError


@contextlib.asynccontextmanager
async def spooled_body(request: web.Request, config: EngineConfig,
                       limit: int) -> AsyncIterator[BinaryIO]:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLargeError(f"request body too large: {declared} bytes, the limit is "
                                   f"{limit}")
    os.makedirs(config.tmp_dir, mode=0o700, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="orlopd-upload-", dir=config.tmp_dir)
    f = os.fdopen(fd, "w+b")
    try:
        os.unlink(path)  # anonymous from now on: nothing to clean up after a crash
        total = 0
        async for chunk in request.content.iter_chunked(1 << 20):
            total += len(chunk)
            if total > limit:
                raise PayloadTooLargeError(f"request body too large: the limit is {limit} "
                                           "bytes")
            f.write(chunk)
        f.flush()
        f.seek(0)
        yield f
    finally:
        f.close()
