"""How the client reaches orlopd: HTTP/1.1 over AF_UNIX with the standard library
(docker-py ``transport/unixconn.py``), or over TCP with TLS.

``Endpoint`` is the parsed ``-H``/``DOCKER_HOST`` value plus the TLS options; every
request opens its connection through :func:`connect`, so the rest of the client does not
care which transport it rides on.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class TLSOptions:
    """Docker's client TLS flags: ``--tls``, ``--tlsverify``, ``--tlscacert``,
    ``--tlscert``, ``--tlskey`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``)."""

    verify: bool = True
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "unix" or "tcp"
    address: str  # socket path, or host:port
    tls: TLSOptions | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"


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
    """``unix:///run/orlop/orlop.sock`` (or a bare absolute path) -> a unix endpoint."""
    if host.startswith("unix://"):
        return Endpoint("unix", host[len("unix://"):])
    if host.startswith("/"):
        return Endpoint("unix", host)
    raise ValueError(f"unsupported host {host!r}: only unix:///path sockets are supported")


def connect(endpoint: Endpoint, timeout: float | None) -> http.client.HTTPConnection:
    """A new, not yet connected, HTTP connection to ``endpoint``."""
    if endpoint.scheme == "unix":
        return UnixHTTPConnection(endpoint.address, timeout)
    raise ValueError(f"unsupported endpoint {endpoint.url}")
