"""The HTTP transport for registries: the standard library's ``http.client``.

Why not aiohttp (already a dependency of orlopd): the CLI is synchronous and must start
lean, and a pull is a handful of long streaming GETs, which threads (one connection
each, hashing and decompression release the GIL) do as well as an event loop.
``http.client`` + ``ssl`` load in a few milliseconds, only in the verbs that talk to a
registry, and give full control of what Docker's client does: per-registry TLS trust
(``certs.d``), the HTTPS-then-HTTP fallback for insecure registries, redirects that drop
the ``Authorization`` header when they leave the registry (blob storage on another host),
and no automatic decompression (blobs are hashed as sent).  docs/distribution.md.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orlop.errors import RegistryError

if TYPE_CHECKING:
    from orlop.distribution.settings import RegistrySettings

TIMEOUT = 60.0  # seconds without a byte: a stalled registry fails instead of hanging
MAX_REDIRECTS = 10
USER_AGENT = "orlop"


@dataclass
class Response:
    """A response whose body is read from ``raw``; :meth:`close` hands the connection
    back for reuse when the body was read to its end."""

    status: int
    headers: http.client.HTTPMessage
    raw: http.client.HTTPResponse
    url: str
    _pool: _Pool | None = None
    _key: tuple[str, str] | None = None
    _conn: http.client.HTTPConnection | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def read(self, limit: int) -> bytes:
        """The whole body, refused when larger than ``limit`` (oversized manifests)."""
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            self.close(reuse=False)
            raise RegistryError(f"response from {self.url} is larger than {limit} bytes")
        return data

    def close(self, reuse: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        done = self.raw.isclosed() or self.raw.length == 0
        if reuse and done and self._pool is not None and self._key is not None and \
                not self.raw.will_close:
            self._pool.put(self._key, conn)
        else:
            self.raw.close()
            conn.close()


class _Pool:
    """Idle keep-alive connections by (scheme, host)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}

    def take(self, key: tuple[str, str]) -> http.client.HTTPConnection | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def put(self, key: tuple[str, str], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for c in conns:
                    c.close()
            self._idle.clear()


class Transport:
    """Requests to registries with per-host TLS, scheme fallback and redirects."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        self._pool = _Pool()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._schemes: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.close()

    def tls_context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is not None:
                return ctx
            ctx = ssl.create_default_context()
            d = self.settings.cert_dir(host)
            if d is not None:
                for f in sorted(d.iterdir()):
                    if f.suffix == ".crt":
                        ctx.load_verify_locations(cafile=str(f))
                cert, key = d / "client.cert", d / "client.key"
                if cert.exists() and key.exists():
                    ctx.load_cert_chain(str(cert), str(key))
            if d is None and self.settings.is_insecure(host):
                # Docker's insecure registries: TLS when offered, not verified.  A CA
                # given in certs.d is always verified (docs/differences.md).
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._contexts[host] = ctx
            return ctx

    def set_scheme(self, host: str, scheme: str) -> None:
        """A mirror's URL names its scheme: no probing."""
        with self._lock:
            self._schemes[host] = scheme

    def base_url(self, host: str) -> str:
        """``https://host``, or ``http://host`` for an insecure registry that does not
        speak TLS (probed once with ``GET /v2/``, as Docker's endpoint fallback)."""
        with self._lock:
            scheme = self._schemes.get(host)
        if scheme is None:
            scheme = "https"
            if self.settings.is_insecure(host) and self.settings.cert_dir(host) is None:
                try:
                    self.request("GET", f"https://{host}/v2/").close()
                except (OSError, ssl.SSLError, http.client.HTTPException, RegistryError):
                    scheme = "http"
            with self._lock:
                self._schemes[host] = scheme
        return f"{scheme}://{host}"

    def _connect(self, scheme: str, host: str) -> http.client.HTTPConnection:
        proxy = proxy_for(scheme, host)
        if scheme == "https":
            if proxy is not None:  # a CONNECT tunnel; TLS (and its SNI) to the registry
                conn = http.client.HTTPSConnection(*proxy, timeout=TIMEOUT,
                                                   context=self.tls_context(host))
                conn.set_tunnel(host)
                return conn
            return http.client.HTTPSConnection(host, timeout=TIMEOUT,
                                               context=self.tls_context(host))
        if scheme == "http":
            if proxy is not None:  # the request then names the whole URL (_once)
                return http.client.HTTPConnection(*proxy, timeout=TIMEOUT)
            return http.client.HTTPConnection(host, timeout=TIMEOUT)
        raise RegistryError(f"unsupported URL scheme: {scheme}")

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                body: bytes | object | None = None, *, follow: bool = True) -> Response:
        """One request; redirects followed for GET/HEAD (``Authorization`` kept only on
        the same host).  ``body``: bytes or a file object with a known length in
        ``Content-Length``."""
        hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._once(method, url, hdrs, body)
            if not follow or resp.status not in (301, 302, 303, 307, 308) or \
                    method not in ("GET", "HEAD"):
                return resp
            location = resp.header("Location")
            resp.raw.read()
            resp.close()
            if not location:
                raise RegistryError(f"redirect without Location from {url}")
            new = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(new).netloc != urllib.parse.urlsplit(url).netloc:
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            url = new
        raise RegistryError(f"stopped after {MAX_REDIRECTS} redirects")

    def _once(self, method: str, url: str, headers: dict[str, str],
              body: bytes | object | None) -> Response:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        proxy = proxy_for(parts.scheme, parts.netloc)
        if proxy is not None and parts.scheme == "http":
            target = urllib.parse.urlunsplit(parts._replace(fragment=""))
        for attempt in (0, 1):
            conn = self._pool.take(key) if attempt == 0 else None
            fresh = conn is None
            if conn is None:
                conn = self._connect(parts.scheme, parts.netloc)
            try:
                conn.request(method, target, body=body,  # type: ignore[arg-type]
                             headers=headers)
                raw = conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected,
                    http.client.BadStatusLine) as err:
                conn.close()
                if fresh or (body is not None and not isinstance(body, bytes)):
                    raise RegistryError(_net_error(method, url, err, proxy)) from None
                continue  # a kept-alive connection the server had closed: once more
            except (OSError, ssl.SSLError, http.client.HTTPException) as err:
                conn.close()
                raise RegistryError(_net_error(method, url, err, proxy)) from None
            return Response(raw.status, raw.msg, raw, url, self._pool, key, conn)
        raise RegistryError(f"{method} {url}: connection closed")


def proxy_for(scheme: str, host: str) -> tuple[str, int] | None:
    """The proxy (host, port) a request to ``scheme://host`` goes through, by dockerd's
    rule (Go's ``httpproxy.FromEnvironment``): ``HTTPS_PROXY`` for https, ``HTTP_PROXY``
    for http (either case), none for a host matched by ``NO_PROXY`` and never for
    ``localhost`` or a loopback address.  Only ``http://`` proxies are spoken to."""
    name = urllib.parse.urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return None
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
    except ValueError:
        pass
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme)
    # proxy_bypass_environment: NO_PROXY's matching (typeshed does not list it).
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009
    if not url or bypass(host, proxies):
        return None
    if "://" not in url:
        url = "http://" + url  # Go reads a bare host:port as an http proxy too
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise RegistryError(f"unsupported proxy for {scheme}: {url} (an http:// proxy "
                            "is supported)")
    return parts.hostname, parts.port or 80


def _net_error(method: str, url: str, err: BaseException,
               proxy: tuple[str, int] | None = None) -> str:
    """Go's ``Get "https://...": dial tcp ...: connect: connection refused`` form
    (``proxyconnect tcp: dial tcp ...`` when the proxy refused)."""
    why = str(err) or type(err).__name__
    if isinstance(err, ConnectionRefusedError) and proxy is not None:
        why = f"proxyconnect tcp: dial tcp {proxy[0]}:{proxy[1]}: connect: connection refused"
    elif isinstance(err, ConnectionRefusedError):
        why = f"dial tcp {urllib.parse.urlsplit(url).netloc}: connect: connection refused"
    elif isinstance(err, socket.timeout):
        why = "i/o timeout"
    return f'{method.capitalize()} "{url}": {why}'


__all__ = ["Response", "Transport", "proxy_for"]
