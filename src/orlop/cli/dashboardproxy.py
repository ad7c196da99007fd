"""A loopback HTTP port forwarding a browser to orlopd's unix socket (``orlop dashboard``).

A browser cannot open a unix socket, and orlopd opens no new listener for it: this
process, run by someone who may already use the socket, listens on ``127.0.0.1`` (a
random free port by default) and forwards ``/dashboard`` requests, and only those, to
orlopd.  Anything else on the machine can connect to a loopback port, so the port is
guarded by a **per-launch token**:

* the URL printed at launch carries ``?token=...`` (32 random bytes); the first request
  with it gets the token as an ``HttpOnly``, ``SameSite=Strict`` cookie scoped to the
  port's name and is redirected to the same page without it (the token leaves the
  address bar and the history);
* every other request must bring that cookie (compared in constant time), or is refused
  with 403 before anything reaches orlopd;
* the ``Host`` header must name this port on ``127.0.0.1``/``localhost``: a DNS
  rebinding page (``evil.example`` resolving to 127.0.0.1) is refused.

Cross-origin checks, the CSRF token and the Content-Security-Policy are orlopd's
(server/dashboard/security.py): ``Origin``, ``Host`` and ``Sec-Fetch-Site`` are passed on
as the browser sent them so that orlopd judges the request as the browser made it.
Bodies and answers are streamed both ways (an export or an import of gigabytes is never
held here).
"""

from __future__ import annotations

import hmac
import secrets
import socket
import urllib.parse
from dataclasses import dataclass, field

from aiohttp import ClientError, ClientSession, ClientTimeout, UnixConnector, web

PREFIX = "/dashboard"
# Not forwarded: hop-by-hop headers (RFC 9110 7.6.1), the length (the body is streamed
# again, chunked) and the cookie (the launch token is this process's, not orlopd's).
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                  "te", "trailer", "transfer-encoding", "upgrade", "content-length",
                  "cookie", "host"})
_HOP_BACK = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                       "set-cookie"})


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain",
                        headers={"Cache-Control": "no-store",
                                 "Content-Security-Policy": "default-src 'none'",
                                 "X-Content-Type-Options": "nosniff"})


@dataclass
class DashboardProxy:
    """The loopback listener; :meth:`start` binds it, :attr:`url` is what to open."""

    socket_path: str
    address: str = "127.0.0.1"
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _session: ClientSession | None = field(default=None, init=False, repr=False)

    @property
    def cookie(self) -> str:
        return f"orlop_dashboard_{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}{PREFIX}/?token={self.token}"

    async def start(self) -> None:
        self._session = ClientSession(
            connector=UnixConnector(path=self.socket_path), auto_decompress=False,
            timeout=ClientTimeout(total=None, sock_connect=10))
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, self.port))
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _host_ok(self, host: str) -> bool:
        return host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}",
                        f"{self.address}:{self.port}")

    def _token_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.token.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._host_ok(request.headers.get("Host", "")):
            return _refuse(403, "refused: this port serves the Orlop dashboard on "
                                f"127.0.0.1:{self.port} only")
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return _refuse(404, "not found: only the dashboard is served here")
        if "token" in request.query:
            if not self._token_ok(request.query.get("token")):
                return _refuse(403, "refused: wrong dashboard token")
            rest = [(k, v) for k, v in request.query.items() if k != "token"]
            where = request.path + ("?" + urllib.parse.urlencode(rest) if rest else "")
            resp = web.Response(status=303, headers={"Location": where,
                                                     "Cache-Control": "no-store"})
            resp.set_cookie(self.cookie, self.token, path=PREFIX, httponly=True,
                            samesite="Strict")
            return resp
        if not self._token_ok(request.cookies.get(self.cookie)):
            return _refuse(403, "refused: open the address 'orlop dashboard' printed "
                                "(it carries this launch's token)")
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["Host"] = request.headers.get("Host", "")
        body = request.content.iter_chunked(1 << 16) if request.can_read_body else None
        try:
            upstream = await self._session.request(
                request.method, "http://orlopd" + request.rel_url.path_qs, headers=headers,
                data=body, allow_redirects=False)
        except (ClientError, OSError) as err:
            return _refuse(502, f"orlopd at {self.socket_path} did not answer: {err}")
        async with upstream:
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_BACK:
                    resp.headers.add(k, v)
            if upstream.content_length is not None:
                resp.content_length = upstream.content_length
            await resp.prepare(request)
            async for chunk in upstream.content.iter_chunked(1 << 16):
                await resp.write(chunk)
            await resp.write_eof()
            return resp


__all__ = ["DashboardProxy"]
