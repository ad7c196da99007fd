"""Low-level client: one method per endpoint, Docker's wire dicts in and out.

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

from orlop.client.transport import UnixHTTPConnection, parse_host
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    OrlopError,
    PermissionDeniedError,
    SystemFailureError,
    UnsupportedError,
)

API_VERSION = "1.45"

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


class APIClient:
    """One connection per call (the server keeps none alive for us); cheap on a socket."""

    def __init__(self, host: str, timeout: float | None = 300) -> None:
        self.path = parse_host(host)
        self.timeout = timeout

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, raw: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, bytes]:
        query = ""
        if params:
            clean = {k: (json.dumps(v) if isinstance(v, dict) else
                         ("1" if v is True else "0" if v is False else str(v)))
                     for k, v in params.items() if v is not None}
            query = "?" + urllib.parse.urlencode(clean)
        data = raw if raw is not None else (json.dumps(body).encode()
                                            if body is not None else None)
        headers = {"Content-Type": content_type} if data is not None else {}
        conn = UnixHTTPConnection(self.path, self.timeout)
        try:
            conn.request(method, f"/v{API_VERSION}{path}{query}", body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as err:
            raise SystemFailureError(
                f"Cannot connect to the Orlop daemon at unix://{self.path}. Is orlopd "
                f"running? ({err.strerror or err})") from None
        finally:
            conn.close()
        if resp.status >= 400:
            try:
                message = str(json.loads(payload).get("message", ""))
            except (ValueError, AttributeError):
                message = payload.decode(errors="replace").strip()
            raise APIError(resp.status, message).to_orlop()
        return resp.status, payload

    def json(self, method: str, path: str, **kw: Any) -> Any:
        _, payload = self.request(method, path, **kw)
        return json.loads(payload) if payload.strip() else None

    # --- system -----------------------------------------------------------------------

    def ping(self) -> bool:
        return self.request("GET", "/_ping")[1] == b"OK"

    def version(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/version")
        return out

    # --- volumes ----------------------------------------------------------------------

    def volumes(self, filters: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
        data = self.json("GET", "/volumes", params={"filters": dict(filters)} if filters
                         else None)
        return list(data.get("Volumes") or [])

    def create_volume(self, name: str | None = None, driver: str = "local",
                      driver_opts: Mapping[str, str] | None = None,
                      labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": name or "", "Driver": driver}
        if driver_opts is not None:
            body["DriverOpts"] = dict(driver_opts)
        if labels is not None:
            body["Labels"] = dict(labels)
        out: dict[str, Any] = self.json("POST", "/volumes/create", body=body)
        return out

    def inspect_volume(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/volumes/{urllib.parse.quote(name, safe='')}")
        return out

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.request("DELETE", f"/volumes/{urllib.parse.quote(name, safe='')}",
                     params={"force": force})

    def prune_volumes(self, filters: Mapping[str, list[str]] | None = None
                      ) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/volumes/prune", params={
            "filters": dict(filters)} if filters else None)
        return out

    # --- containers and images (read side) ---------------------------------------------

    def containers(self, all_: bool = False) -> list[dict[str, Any]]:
        return list(self.json("GET", "/containers/json", params={"all": all_}))

    def inspect_container(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/containers/{urllib.parse.quote(ref)}/json")
        return out

    def images(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/images/json"))

    # --- containers (write side) ------------------------------------------------------

    def create_container(self, body: Mapping[str, Any], name: str = "") -> str:
        out = self.json("POST", "/containers/create", params={"name": name or None},
                        body=dict(body))
        return str(out["Id"])

    def start_container(self, ref: str) -> None:
        self.request("POST", f"/containers/{urllib.parse.quote(ref)}/start")

    def wait_container(self, ref: str, condition: str = "not-running") -> int:
        out = self.json("POST", f"/containers/{urllib.parse.quote(ref)}/wait",
                        params={"condition": condition})
        return int(out.get("StatusCode", 0))

    def remove_container(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.request("DELETE", f"/containers/{urllib.parse.quote(ref)}",
                     params={"force": force, "v": volumes})

    def stream(self, method: str, path: str, params: Mapping[str, Any] | None = None
               ) -> Iterator[tuple[int, bytes]]:
        """A multiplexed (or, with a tty, raw: stream 1) response, chunk by chunk, as it
        comes: ``logs -f`` and ``attach`` (without a connection upgrade).  The request is
        made and its head read before this returns (an attach is then registered)."""
        clean = {k: ("1" if v is True else "0" if v is False else str(v))
                 for k, v in (params or {}).items() if v is not None}
        conn = UnixHTTPConnection(self.path, None)
        try:
            conn.request(method, f"/v{API_VERSION}{path}?{urllib.parse.urlencode(clean)}")
            resp = conn.getresponse()
        except OSError as err:
            conn.close()
            raise SystemFailureError(
                f"Cannot connect to the Orlop daemon at unix://{self.path}. Is orlopd "
                f"running? ({err.strerror or err})") from None
        if resp.status >= 400:
            payload = resp.read()
            conn.close()
            try:
                message = str(json.loads(payload).get("message", ""))
            except (ValueError, AttributeError):
                message = payload.decode(errors="replace").strip()
            raise APIError(resp.status, message).to_orlop()
        return _frames(conn, resp, "multiplexed" not in resp.getheader("Content-Type", ""))


def _frames(conn: UnixHTTPConnection, resp: http.client.HTTPResponse,
            raw: bool) -> Iterator[tuple[int, bytes]]:
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
