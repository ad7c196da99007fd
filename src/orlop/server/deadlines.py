"""How long a client may keep a connection without making progress (Slowloris).

A peer that opens connections and sends request heads a byte at a time, or never
finishes them, holds a connection and a task each until the server gives up; enough
of them and the API stops answering (the Slowloris class; Go's ``http.Server`` has
``ReadHeaderTimeout`` for it, gosec G112).  Two deadlines, as Go's server keeps them:

* ``READ_HEADER_TIMEOUT``: a request head (request line and headers) must be complete
  within this many seconds of the connection being made, or of its first byte arriving
  on an idle keep-alive connection;
* ``IDLE_TIMEOUT``: a keep-alive connection with no request in flight is closed after
  this long (aiohttp's ``keepalive_timeout``, a supported setting).

aiohttp has the second but not the first: its idle timer only starts after a response,
so a head that never ends is cut only at the idle limit.  :class:`HeaderDeadline`
stands between the transport and aiohttp's ``RequestHandler`` and adds the head timer.
It reads two attributes of the handler (``_request_count``, the heads parsed so far, and
``_waiter``, set while it waits for the next head), checked at start-up by
:func:`supported`; nothing else of aiohttp's is replaced.  Once a head is parsed the
request is the handler's: a body, a response stream (``logs -f``, ``events``, ``wait``)
or a hijacked ``attach``/``exec`` connection runs as long as it runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("orlopd")

READ_HEADER_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0


def supported() -> bool:
    """The handler attributes :class:`HeaderDeadline` reads exist in this aiohttp."""
    from aiohttp.web_protocol import RequestHandler

    return all(hasattr(RequestHandler, name) for name in ("_request_count", "_waiter"))


class HeaderDeadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed when a request head is not complete
    within ``timeout`` seconds."""

    def __init__(self, inner: Any, timeout: float) -> None:
        self.inner = inner  # an aiohttp RequestHandler
        self.timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self._heads = 0

    def _arm(self) -> None:
        self._heads = self.inner._request_count
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.inner._request_count == self._heads:
            log.info("closing a connection: no complete request head within %gs",
                     self.timeout)
            self.inner.force_close()

    def _waiting_for_head(self) -> bool:
        waiter = self.inner._waiter
        return waiter is not None and not waiter.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)
        self._arm()  # the first head's clock starts with the connection, as in Go

    def data_received(self, data: bytes) -> None:
        heads = self.inner._request_count
        self.inner.data_received(data)
        if self.inner._request_count != heads:
            self._disarm()  # a head is complete: the request is the handler's now
        elif self._timer is None and self._waiting_for_head():
            self._arm()  # the first bytes of the next head on a keep-alive connection

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
