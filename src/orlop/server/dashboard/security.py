"""What stands between a web page and the dashboard's actions (docs/dashboard.md).

orlopd's API refuses every request with an ``Origin`` header (no CORS: a browser page
must not drive the engine).  The dashboard is meant for a browser, so its paths get
their own gate, :func:`gate`, placed in front of the API's middleware:

* **Same origin only.**  An ``Origin`` (or ``Sec-Fetch-Site``) naming another site is
  refused for every method; once checked, the ``Origin`` header is dropped from the
  request handed on, so that the API middleware's blanket refusal (meant for the API
  paths) does not apply to the dashboard's own.  Paths outside ``/dashboard`` are
  passed on untouched: the API keeps its rule.
* **CSRF token on every unsafe request.**  A form carries ``csrf``, an HMAC of the
  request's ``Host`` under a secret made when orlopd starts (never stored, never sent
  except inside the dashboard's own pages).  A page of another origin cannot read it
  (the same-origin policy, and ``X-Frame-Options``/``frame-ancestors`` stop framing), so
  it cannot forge a form that passes; a token of one ``orlop dashboard`` launch (one
  loopback port, one Host) is worth nothing on another.
* **A strict Content-Security-Policy** on every response: scripts, styles and images
  from the dashboard itself only, no inline script, no ``eval``, no plugin, no framing,
  forms posting to this origin only.  Together with escaping every name (html.py) a
  file called ``<script>`` stays text.

Reaching the socket at all is the authority (the API's rule: whoever may connect is
root on the host); the per-launch token of the loopback port is ``orlop dashboard``'s
(cli/commands/dashboard.py), not this module's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

PREFIX = "/dashboard"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make a form's Origin "null"
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Secret:
    """The per-start secret the CSRF tokens are derived from."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def token_for(self, request: web.Request) -> str:
        host = request.headers.get("Host", "")
        return hmac.new(self._key, b"csrf\0" + host.encode("utf-8", "replace"),
                        hashlib.sha256).hexdigest()

    def check(self, request: web.Request, sent: str) -> bool:
        return hmac.compare_digest(self.token_for(request).encode(),
                                   sent.encode("utf-8", "replace"))


SECRET = web.AppKey("orlop_dashboard_secret", Secret)


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def cross_origin(request: web.Request) -> str:
    """Why the request comes from another site, or "" when it does not (a missing
    ``Origin`` is a non-browser client or a top-level navigation: let through, the CSRF
    token still decides for unsafe methods)."""
    site = request.headers.get("Sec-Fetch-Site", "")
    if site and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site}"
    origin = request.headers.get("Origin")
    if origin is None:
        return ""
    host = request.headers.get("Host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        return f"Origin {origin} is not this dashboard ({host})"
    return ""


def secure(resp: web.StreamResponse) -> web.StreamResponse:
    for k, v in HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def refuse(status: int, message: str) -> web.Response:
    return secure(web.Response(status=status, text=message + "\n",
                               content_type="text/plain"))  # type: ignore[return-value]


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The dashboard's middleware (outermost): origin check, the ``Origin`` header
    dropped once checked, security headers on the answer."""
    if not is_dashboard(request.path):
        return await handler(request)
    why = cross_origin(request)
    if why:
        return refuse(403, f"cross-origin request refused: {why}")
    if "Origin" in request.headers:
        headers = request.headers.copy()
        del headers["Origin"]
        request = request.clone(headers=headers)
    resp = await handler(request)
    if not resp.prepared:
        secure(resp)
    return resp


async def check_csrf(request: web.Request, sent: str | None) -> None:
    """Raise 403 unless ``sent`` is this request's CSRF token."""
    if not sent or not request.app[SECRET].check(request, sent):
        raise web.HTTPForbidden(reason="missing or wrong CSRF token: reload the page")


__all__ = ["CSP", "CSRF_FIELD", "HEADERS", "PREFIX", "SECRET", "Secret", "check_csrf",
           "cross_origin", "gate", "is_dashboard", "refuse", "secure"]
