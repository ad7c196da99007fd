"""How the client reaches orlopd: HTTP/1.1 over AF_UNIX with the standard library
(docker-py ``transport/unixconn.py``), or over TCP with TLS (HTTPS).

``Endpoint`` is the parsed ``-H``/``DOCKER_HOST`` value plus the TLS options; every
request opens its connection through :func:`connect`, so the rest of the client does not
care which transport it rides on: a TLS connection is an ``http.client.HTTPSConnection``,
whose ``sock`` reads, writes and half-closes (``shutdown(SHUT_WR)``) like the unix one,
so streams and hijacked connections work unchanged.  The TLS half (client/tls.py, with
the ``ssl`` module) loads only for a ``tcp://`` endpoint.

orlopd never serves plain TCP (it requires client certificates), so a ``tcp://`` host
without TLS is refused here with a message saying which flags to add, rather than sent
in clear to be refused by the server.
"""

from __future__ import annotations

import http.client
import socket
import urllib.parse
from dataclasses import dataclass

from orlop.client.tlsoptions import TLSOptions, default_cert_path, resolve_tls
from orlop.errors import InvalidParameterError

DEFAULT_TLS_PORT = 2376  # Docker's port for the API over TLS


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "unix" or "tcp"
    address: str  # socket path, or host:port
    tls: TLSOptions | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    @property
    def host_port(self) -> tuple[str, int]:
        """Host (brackets of an IPv6 literal removed) and port of a tcp endpoint."""
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` whose socket is a unix socket at ``path``."""

    def __init__(self, path: str, timeout: float | None = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def parse_host(host: str, tls: TLSOptions | None = None) -> Endpoint:
    """``unix:///run/orlop/orlop.sock`` (or a bare absolute path) -> a unix endpoint;
    ``tcp://host[:port]`` (port 2376 by default) with ``tls`` -> a TLS endpoint."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path:
            raise InvalidParameterError(f"invalid host {host!r}: no socket path")
        return Endpoint("unix", path)
    if host.startswith("/"):
        return Endpoint("unix", host)
    if host.startswith("tcp://"):
        try:
            parts = urllib.parse.urlsplit(host)
            port = parts.port or DEFAULT_TLS_PORT
        except ValueError as err:
            raise InvalidParameterError(f"invalid host {host!r}: {err}") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise InvalidParameterError(f"invalid host {host!r}: expected tcp://host:port")
        name = parts.hostname or "localhost"
        if tls is None:
            raise InvalidParameterError(
                f"{host}: orlopd serves TCP only over TLS with client certificates; use "
                "--tlsverify (or DOCKER_TLS_VERIFY=1) with --tlscacert, --tlscert and "
                "--tlskey (default ca.pem, cert.pem, key.pem in $DOCKER_CERT_PATH)")
        address = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        return Endpoint("tcp", address, tls)
    raise InvalidParameterError(
        f"unsupported host {host!r}: expected unix:///path or tcp://host:port (with TLS)")


def connect(endpoint: Endpoint, timeout: float | None) -> http.client.HTTPConnection:
    """A new, not yet connected, HTTP connection to ``endpoint``."""
    if endpoint.scheme == "unix":
        return UnixHTTPConnection(endpoint.address, timeout)
    if endpoint.scheme == "tcp" and endpoint.tls is not None:
        from orlop.client.tls import TLSHTTPConnection, client_context

        return TLSHTTPConnection(endpoint, client_context(endpoint.tls), timeout)
    raise InvalidParameterError(f"unsupported endpoint {endpoint.url}")


__all__ = ["DEFAULT_TLS_PORT", "Endpoint", "TLSOptions", "UnixHTTPConnection", "connect",
           "default_cert_path", "parse_host", "resolve_tls"]
