"""The request machinery every endpoint group of the client shares.

Errors come back as :class:`APIError` carrying the status and Docker's message, and are
mapped onto Orlop's error tree (404 -> NotFoundError...) so the CLI prints and exits the
same way local or remote.
"""

from __future__ import annotations

import http.client
import json
import struct
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from orlop.client.transport import Endpoint, TLSOptions, connect, parse_host
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    OrlopError,
    PermissionDeniedError,
    SystemFailureError,
    UnsupportedError,
)
from orlop.wire.version import API_VERSION

_BY_STATUS: dict[int, type[OrlopError]] = {
    400: InvalidParameterError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 501: UnsupportedError,
}


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def to_orlop(self) -> OrlopError:
        return _BY_STATUS.get(self.status, SystemFailureError)(self.message)


def quote(ref: str) -> str:
    """A path segment: a name or id, slashes included, never a path of its own."""
    return urllib.parse.quote(ref, safe="")


def encode_params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    clean = {k: (json.dumps(v) if isinstance(v, dict | list) else
                 ("1" if v is True else "0" if v is False else str(v)))
             for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(clean) if clean else ""


def error_from(status: int, payload: bytes) -> OrlopError:
    try:
        message = str(json.loads(payload).get("message", ""))
    except (ValueError, AttributeError):
        message = payload.decode(errors="replace").strip()
    return APIError(status, message).to_orlop()


class BaseClient:
    """One connection per call (the server keeps none alive for us); cheap on a socket."""

    def __init__(self, host: str, tls: TLSOptions | None = None,
                 timeout: float | None = 300) -> None:
        self.endpoint: Endpoint = parse_host(host, tls)
        self.timeout = timeout

    def connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        return connect(self.endpoint, timeout)

    def unreachable(self, err: OSError) -> SystemFailureError:
        return SystemFailureError(
            f"Cannot connect to the Orlop daemon at {self.endpoint.url}. Is orlopd "
            f"running? ({err.strerror or err})")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, raw: bytes | None = None,
                content_type: str = "application/json",
                headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        data = raw if raw is not None else (json.dumps(body).encode()
                                            if body is not None else None)
        head = {"Content-Type": content_type} if data is not None else {}
        head.update(headers or {})
        status, payload = self.exchange(method, f"/v{API_VERSION}{path}{encode_params(params)}",
                                        data, head, self.timeout)
        if status >= 400:
            raise error_from(status, payload)
        return status, payload

    def exchange(self, method: str, url: str, data: bytes | None, headers: Mapping[str, str],
                 timeout: float | None) -> tuple[int, bytes]:
        """One request on its own connection: the status and the whole body; a daemon
        that cannot be reached is :meth:`unreachable`'s error."""
        conn = self.connection(timeout)
        try:
            conn.request(method, url, body=data, headers=dict(headers))
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as err:
            raise self.unreachable(err) from None
        finally:
            conn.close()
        return resp.status, payload

    def json(self, method: str, path: str, **kw: Any) -> Any:
        _, payload = self.request(method, path, **kw)
        return json.loads(payload) if payload.strip() else None

    def open_stream(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                    *, body: Any = None, headers: Mapping[str, str] | None = None,
                    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request and read the head of its response; the body is the caller's to
        read (and the connection the caller's to close).  ``body`` may be bytes, a file
        object or an iterable of bytes (sent chunked)."""
        conn = self.connection(None)
        try:
            conn.request(method, f"/v{API_VERSION}{path}{encode_params(params)}", body=body,
                         headers=dict(headers or {}),
                         encode_chunked=body is not None and not isinstance(body, bytes))
            resp = conn.getresponse()
        except OSError as err:
            conn.close()
            raise self.unreachable(err) from None
        if resp.status >= 400:
            payload = resp.read()
            conn.close()
            raise error_from(resp.status, payload)
        return conn, resp

    def stream(self, method: str, path: str, params: Mapping[str, Any] | None = None
               ) -> Iterator[tuple[int, bytes]]:
        """A multiplexed (or, with a tty, raw: stream 1) response, chunk by chunk, as it
        comes: ``logs -f`` and ``attach`` (without a connection upgrade).  The request is
        made and its head read before this returns (an attach is then registered)."""
        conn, resp = self.open_stream(method, path, params)
        return frames(conn, resp, "multiplexed" not in resp.getheader("Content-Type", ""))


def frames(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
           raw: bool) -> Iterator[tuple[int, bytes]]:
    """Docker's stream framing (8-byte header: stream, 0, 0, 0, big-endian size)."""
    try:
        while True:
            if raw:
                data = resp.read1(65536)
                if not data:
                    return
                yield 1, data
                continue
            head = resp.read(8)
            if len(head) < 8:
                return
            stream, size = struct.unpack(">BxxxL", head)
            yield stream, resp.read(size)
    finally:
        conn.close()
