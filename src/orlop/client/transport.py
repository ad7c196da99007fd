"""HTTP/1.1 over AF_UNIX with the standard library (docker-py ``transport/unixconn.py``)."""

from __future__ import annotations

import http.client
import socket


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


def parse_host(host: str) -> str:
    """``unix:///run/orlop/orlop.sock`` (or a bare absolute path) -> the socket path."""
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise ValueError(f"unsupported host {host!r}: only unix:///path sockets are supported")
