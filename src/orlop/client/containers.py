"""Container and exec endpoints: /containers/..., /exec/..."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from orlop.client.base import BaseClient, encode_params, error_from, quote
from orlop.errors import SystemFailureError
from orlop.wire.version import API_VERSION

_HEAD_LIMIT = 64 * 1024


class Hijacked:
    """A connection taken over after ``101 UPGRADED`` (``Connection: Upgrade``,
    ``Upgrade: tcp``), as the docker CLI does for ``attach`` and ``exec``: the
    container's output comes in (framed, or raw with a tty), our stdin goes out, and
    closing our writing half is the container's end of input."""

    def __init__(self, sock: socket.socket, pending: bytes, raw: bool) -> None:
        self.sock = sock
        self.pending = pending  # bytes that came with the response head
        self.raw = raw  # a tty: no framing

    def recv(self, size: int = 65536) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        try:
            return self.sock.recv(size)
        except OSError:
            return b""

    def _exactly(self, size: int) -> bytes:
        parts: list[bytes] = []
        while size > 0:
            data = self.recv(size)
            if not data:
                return b""
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(stream, data) until the server closes: 1 stdout, 2 stderr."""
        while True:
            if self.raw:
                data = self.recv()
                if not data:
                    return
                yield 1, data
                continue
            head = self._exactly(8)
            if not head:
                return
            stream, size = struct.unpack(">BxxxL", head)
            data = self._exactly(size) if size else b""
            if size and not data:
                return
            yield stream, data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """End both directions now (wakes a reader blocked in another thread, which a
        close alone does not)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class PendingWait:
    """A ``wait`` whose request is in (the server has registered it: its response head
    came back) and whose answer is read later: the docker CLI waits so before
    ``start``, so that a quick exit (or an ``--rm`` removal) is never missed."""

    def __init__(self, conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse) -> None:
        self.conn = conn
        self.resp = resp

    def result(self) -> int:
        try:
            payload = self.resp.read()
        except OSError as err:
            raise SystemFailureError(f"error waiting for the container: {err}") from None
        finally:
            self.conn.close()
        out = json.loads(payload) if payload.strip() else {}
        error = out.get("Error") or {}
        if error and error.get("Message"):
            raise SystemFailureError(str(error["Message"]))
        return int(out.get("StatusCode", 0))

    def close(self) -> None:
        self.conn.close()


class ContainerAPI(BaseClient):
    def containers(self, all_: bool = False, filters: Mapping[str, list[str]] | None = None,
                   limit: int = -1, size: bool = False) -> list[dict[str, Any]]:
        return list(self.json("GET", "/containers/json", params={
            "all": all_, "filters": dict(filters) if filters else None,
            "limit": limit if limit > 0 else None, "size": True if size else None}))

    def inspect_container(self, ref: str, size: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/containers/{quote(ref)}/json",
                                        params={"size": True} if size else None)
        return out

    def create_container(self, body: dict[str, Any], name: str = "", platform: str = "") -> str:
        out = self.json("POST", "/containers/create",
                        params={"name": name or None, "platform": platform or None},
                        body=dict(body))
        return str(out["Id"])

    def start_container(self, ref: str) -> None:
        self.request("POST", f"/containers/{quote(ref)}/start")

    def wait_container(self, ref: str, condition: str = "not-running") -> int:
        out = self.json("POST", f"/containers/{quote(ref)}/wait",
                        params={"condition": condition})
        error = out.get("Error") or {}
        if error and error.get("Message"):
            raise SystemFailureError(str(error["Message"]))
        return int(out.get("StatusCode", 0))

    def open_wait(self, ref: str, condition: str = "not-running") -> PendingWait:
        conn, resp = self.open_stream("POST", f"/containers/{quote(ref)}/wait",
                                      {"condition": condition})
        return PendingWait(conn, resp)

    def remove_container(self, ref: str, force: bool = False, volumes: bool = False,
                         link: bool = False) -> None:
        """``link``: ``ref`` is a link's name (``/this/alias``): that link is removed."""
        self.request("DELETE", f"/containers/{quote(ref.removeprefix('/') if link else ref)}",
                     params={"force": force, "v": volumes, "link": link or None})

    def prune_containers(self, filters: dict[str, list[str]] | None = None
                         ) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/containers/prune", params={
            "filters": filters} if filters else None)
        return out

    def stop_container(self, ref: str, timeout: int | None = None,
                       signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote(ref)}/stop",
                     params={"t": timeout, "signal": signal})

    def restart_container(self, ref: str, timeout: int | None = None,
                          signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote(ref)}/restart",
                     params={"t": timeout, "signal": signal})

    def kill_container(self, ref: str, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{quote(ref)}/kill", params={"signal": signal})

    def pause_container(self, ref: str, paused: bool = True) -> None:
        verb = "pause" if paused else "unpause"
        self.request("POST", f"/containers/{quote(ref)}/{verb}")

    def rename_container(self, ref: str, name: str) -> None:
        self.request("POST", f"/containers/{quote(ref)}/rename", params={"name": name})

    def top_container(self, ref: str, ps_args: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/containers/{quote(ref)}/top", params={
            "ps_args": " ".join(ps_args) if ps_args else None})
        return out

    def container_changes(self, ref: str) -> list[dict[str, Any]]:
        """``GET /containers/{id}/changes``: ``[{"Path": ..., "Kind": 0|1|2}]``."""
        out: list[dict[str, Any]] | None = self.json("GET",
                                                     f"/containers/{quote(ref)}/changes")
        return list(out or [])

    def resize_container(self, ref: str, height: int, width: int) -> None:
        self.request("POST", f"/containers/{quote(ref)}/resize",
                     params={"h": height, "w": width})

    def container_logs(self, ref: str, params: Mapping[str, Any]
                       ) -> Iterator[tuple[int, bytes]]:
        return self.stream("GET", f"/containers/{quote(ref)}/logs", params)

    def attach_container(self, ref: str, *, stdin: bool, stdout: bool = True,
                         stderr: bool = True, logs: bool = False,
                         detach_keys: str = "") -> Hijacked:
        return self.hijack(f"/containers/{quote(ref)}/attach", {
            "stream": True, "logs": logs, "stdin": stdin, "stdout": stdout,
            "stderr": stderr, "detachKeys": detach_keys or None})

    # --- exec ------------------------------------------------------------------------

    def create_exec(self, ref: str, body: dict[str, Any]) -> str:
        out = self.json("POST", f"/containers/{quote(ref)}/exec", body=dict(body))
        return str(out["Id"])

    def start_exec(self, exec_id: str, *, tty: bool, detach: bool) -> Hijacked | None:
        """Start an exec: detached (None once it started), else the hijacked stream."""
        body = {"Detach": detach, "Tty": tty}
        if detach:
            self.request("POST", f"/exec/{quote(exec_id)}/start", body=body)
            return None
        return self.hijack(f"/exec/{quote(exec_id)}/start", None, body)

    def inspect_exec(self, exec_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/exec/{quote(exec_id)}/json")
        return out

    def resize_exec(self, exec_id: str, height: int, width: int) -> None:
        self.request("POST", f"/exec/{quote(exec_id)}/resize",
                     params={"h": height, "w": width})

    # --- the connection hijack -----------------------------------------------------

    def hijack(self, path: str, params: Mapping[str, Any] | None,
               body: Any = None) -> Hijacked:
        """POST ``path`` asking for the connection (``Upgrade: tcp``); the stream once
        the server answered ``101``, Docker's error otherwise."""
        conn = self.connection(None)
        try:
            conn.connect()
        except OSError as err:
            conn.close()
            raise self.unreachable(err) from None
        sock = conn.sock
        assert isinstance(sock, socket.socket)
        conn.sock = None  # ours now: http.client must not close it
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"POST /v{API_VERSION}{path}{encode_params(params)} HTTP/1.1\r\n"
                "Host: localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        try:
            sock.sendall(head.encode() + data)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk or len(buf) > _HEAD_LIMIT:
                    raise SystemFailureError("the server closed the connection before "
                                             "answering")
                buf += chunk
        except OSError as err:
            sock.close()
            raise self.unreachable(err) from None
        except BaseException:
            sock.close()
            raise
        raw_head, _, rest = buf.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            sock.close()
            raise SystemFailureError(f"bad response from the server: {lines[0]!r}") from None
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        if status == 101:
            raw = "multiplexed" not in headers.get("content-type", "")
            return Hijacked(sock, rest, raw)
        payload = _read_body(sock, rest, headers)
        sock.close()
        if status >= 400:
            raise error_from(status, payload)
        raise SystemFailureError(f"the server did not take over the connection "
                                 f"(status {status})")


def _read_body(sock: socket.socket, rest: bytes, headers: dict[str, str]) -> bytes:
    """An error response's body (Content-Length, chunked, or to the end)."""
    sock.settimeout(30)
    data = rest
    try:
        if "content-length" in headers:
            size = int(headers["content-length"])
            while len(data) < size and (chunk := sock.recv(65536)):
                data += chunk
            return data[:size]
        while chunk := sock.recv(65536):
            data += chunk
            if "chunked" in headers.get("transfer-encoding", "") and data.endswith(
                    b"0\r\n\r\n"):
                break
    except (OSError, ValueError):
        pass
    if "chunked" in headers.get("transfer-encoding", ""):
        out, pos = b"", 0
        while True:
            end = data.find(b"\r\n", pos)
            if end < 0:
                break
            try:
                size = int(data[pos:end].split(b";")[0], 16)
            except ValueError:
                break
            if size == 0:
                break
            out += data[end + 2:end + 2 + size]
            pos = end + 2 + size + 2
        return out
    return data
