"""Archive endpoints: container filesystems and volume data as tar streams."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from typing import Any

from orlop.client.base import BaseClient, quote
from orlop.client.bodies import chunks, copy_body

STAT_HEADER = "X-Docker-Container-Path-Stat"


def path_stat(resp: http.client.HTTPResponse) -> dict[str, Any]:
    """Docker's ``ContainerPathStat`` from an archive response (name, size, mode as Go's
    os.FileMode bits, mtime, linkTarget)."""
    raw = resp.getheader(STAT_HEADER) or ""
    try:
        out = json.loads(base64.b64decode(raw)) if raw else {}
    except ValueError:
        out = {}
    return out if isinstance(out, dict) else {}


def _archive_url(ref: str, volume: bool) -> str:
    return (f"/libpod/volumes/{quote(ref)}/archive" if volume
            else f"/containers/{quote(ref)}/archive")


class ArchiveAPI(BaseClient):
    def get_archive(self, ref: str, path: str, *, volume: bool = False
                    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse,
                               dict[str, Any]]:
        """``GET /containers/{id}/archive?path=`` (``volume``: Orlop's
        ``/libpod/volumes/{name}/archive``): (connection, response whose body is the
        tar, the path's stat)."""
        conn, resp = self.open_stream("GET", _archive_url(ref, volume), {"path": path})
        return conn, resp, path_stat(resp)

    def stat_path(self, ref: str, path: str, *, volume: bool = False
                  ) -> dict[str, Any] | None:
        """``HEAD /containers/{id}/archive?path=``: the stat, or None when there is
        nothing at ``path`` (a HEAD answer has no body, so no message either)."""
        conn = self.connection(self.timeout)
        try:
            from orlop.client.base import encode_params
            from orlop.wire.version import API_VERSION

            conn.request("HEAD", f"/v{API_VERSION}{_archive_url(ref, volume)}"
                         f"{encode_params({'path': path})}")
            resp = conn.getresponse()
            resp.read()
        except OSError as err:
            raise self.unreachable(err) from None
        finally:
            conn.close()
        if resp.status == 404:
            return None
        if resp.status >= 400:
            from orlop.client.base import error_from

            raise error_from(resp.status, b"")
        return path_stat(resp)

    def put_archive(self, ref: str, path: str, stream: Any, *, volume: bool = False
                    ) -> None:
        """``PUT /containers/{id}/archive?path=``: extract the tar ``stream`` (a file
        object or an iterator of bytes, sent chunked) into the directory ``path``."""
        body = stream if not hasattr(stream, "read") else chunks(stream)
        conn, resp = self.open_stream("PUT", _archive_url(ref, volume),
                                      {"path": path}, body=body,
                                      headers={"Content-Type": "application/x-tar"})
        try:
            resp.read()
        finally:
            conn.close()

    def copy_volume_path(self, src_vol: str, src: str, dst_vol: str, dest: str,
                         archive: bool = False) -> int:
        """Orlop's ``POST /libpod/volumes/{src}/copy``: ``volume cp A:SRC B:DEST`` done on
        the server (the data never crosses the socket); the bytes of tar moved."""
        out = self.json("POST", f"/libpod/volumes/{quote(src_vol)}/copy",
                        params={"path": src, "volume": dst_vol, "dest": dest,
                                "archive": archive})
        return int(out.get("Size") or 0)

    def export_container(self, ref: str, out_fd: int) -> int:
        """``GET /containers/{id}/export`` written to ``out_fd``."""
        conn, resp = self.open_stream("GET", f"/containers/{quote(ref)}/export")
        return copy_body(conn, resp, out_fd)

    def export_volume(self, name: str, out_fd: int, checksum: str = "crc32",
                      progress: Callable[[int], None] | None = None, *,
                      consistent: bool = False, snapshot: str | None = None,
                      since: str | None = None) -> int:
        """``GET /libpod/volumes/{name}/export`` written to ``out_fd`` (Orlop's
        ``consistent``, ``snapshot`` and ``since`` only when asked)."""
        params: dict[str, Any] = {"checksum": checksum}
        if consistent:
            params["consistent"] = True
        if snapshot:
            params["snapshot"] = snapshot
        if since:
            params["since"] = since
        conn, resp = self.open_stream("GET", f"/libpod/volumes/{quote(name)}/export",
                                      params)
        return copy_body(conn, resp, out_fd, progress)

    def import_volume(self, name: str, stream: Any, force: bool = False) -> None:
        """``POST /libpod/volumes/{name}/import`` with the archive streamed as the body."""
        conn, resp = self.open_stream("POST", f"/libpod/volumes/{quote(name)}/import",
                                      {"force": force}, body=chunks(stream),
                                      headers={"Content-Type": "application/x-tar"})
        try:
            resp.read()
        finally:
            conn.close()
