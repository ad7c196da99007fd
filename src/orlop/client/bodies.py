"""Request and response bodies streamed by the client: a file object as chunks, a response
into a file descriptor. A leaf module so that the image and archive clients can both use
them without importing each other."""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable, Iterator
from typing import Any


def chunks(stream: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """A file object as the chunks of a chunked request body (http.client's own reads of
    a file object are 8 KiB each)."""
    while True:
        data = stream.read(size)
        if not data:
            return
        yield data


def gzipped(parts: Iterator[bytes]) -> Iterator[bytes]:
    """``parts`` as one gzip stream (the docker CLI's ``build --compress``: the daemon
    recognises a compressed context by its magic bytes)."""
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    for data in parts:
        out = z.compress(data)
        if out:
            yield out
    yield z.flush()


def copy_body(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
              out_fd: int, progress: Callable[[int], None] | None = None) -> int:
    """Write a response body to ``out_fd`` as it comes; the bytes written."""
    total = 0
    try:
        while True:
            data = resp.read1(1 << 20)
            if not data:
                return total
            view = memoryview(data)
            while view:
                view = view[os.write(out_fd, view):]
            total += len(data)
            if progress is not None:
                progress(total)
    finally:
        conn.close()
