"""Slow clients (the Slowloris class): a request head must be complete within 10 s, an
idle keep-alive connection is closed after the idle timeout, and a connection whose
request is under way (``logs -f``, ``attach``, ``events``, ``wait``) stays open however
quiet it is.  Raw sockets against a real orlopd."""

from __future__ import annotations

import json
import select
import socket
import time
from pathlib import Path

from .conftest import Server, start_server, stop_server


def _connect(server: Server) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(server.socket))
    return s


def _closed_after(s: socket.socket, start: float, limit: float) -> float | None:
    """Seconds from ``start`` until the server closes ``s`` (reading and dropping what it
    sends), or None if it is still open ``limit`` seconds after ``start``."""
    while (left := start + limit - time.monotonic()) > 0:
        ready, _, _ = select.select([s], [], [], left)
        if ready:
            try:
                if not s.recv(65536):
                    return time.monotonic() - start
            except ConnectionResetError:
                return time.monotonic() - start
    return None


def _is_open(s: socket.socket) -> bool:
    """Still connected: nothing, or only data, is waiting; no EOF."""
    while select.select([s], [], [], 0)[0]:
        try:
            if not s.recv(65536):
                return False
        except ConnectionResetError:
            return False
    return True


def _read_until(s: socket.socket, marker: bytes, timeout: float) -> bytes:
    s.settimeout(timeout)
    data = b""
    try:
        while marker not in data:
            chunk = s.recv(65536)
            assert chunk, f"closed before {marker!r}: {data!r}"
            data += chunk
    finally:
        s.settimeout(None)
    return data


def _request(s: socket.socket, method: str, path: str, *extra: str) -> None:
    head = [f"{method} {path} HTTP/1.1", "Host: orlop", *extra, "", ""]
    s.sendall("\r\n".join(head).encode())


def test_unfinished_request_head_is_closed_within_10s_streams_stay_open(bbd: Server) -> None:
    """The product default (10 s), with the streams that must outlive it."""
    cid = bbd.ok("run", "-d", "busybox", "sh", "-c",
                 "while true; do echo tick; sleep 3; done").strip()
    conns: list[socket.socket] = []
    try:
        logs = _connect(bbd)
        _request(logs, "GET", f"/v1.45/containers/{cid}/logs?follow=1&stdout=1")
        attach = _connect(bbd)
        _request(attach, "POST", f"/v1.45/containers/{cid}/attach?stream=1&stdout=1",
                 "Connection: Upgrade", "Upgrade: tcp", "Content-Length: 0")
        events = _connect(bbd)
        _request(events, "GET", "/v1.45/events")
        wait = _connect(bbd)
        _request(wait, "POST", f"/v1.45/containers/{cid}/wait", "Content-Length: 0")
        conns += [logs, attach, events, wait]
        assert b" 200 " in _read_until(logs, b"tick", 15).split(b"\r\n")[0]
        assert b" 101 " in _read_until(attach, b"tick", 15).split(b"\r\n")[0]

        start = time.monotonic()
        half = _connect(bbd)  # a head that never ends
        half.sendall(b"GET /v1.45/version HTTP/1.1\r\nHost: orlop\r\nX-Slow: ")
        silent = _connect(bbd)  # connects and sends nothing
        conns += [half, silent]
        closed = _closed_after(half, start, 14)
        assert closed is not None, "a half-sent request head was still open after 14 s"
        assert 9 <= closed <= 12.5, closed
        assert _closed_after(silent, start, 14) is not None

        # Well past the head timeout: every stream is open and still delivering.
        time.sleep(max(0.0, start + 13 - time.monotonic()))
        for name, s in (("logs", logs), ("attach", attach), ("events", events),
                        ("wait", wait)):
            assert _is_open(s), f"the {name} stream was closed"
        for s in (logs, attach):
            _read_until(s, b"tick", 10)
        # And the server still answers.
        status, _, body = bbd.raw("GET", "/v1.45/version")
        assert status == 200 and json.loads(body)["ApiVersion"]
    finally:
        for s in conns:
            s.close()
        bbd.docker("rm", "-f", cid)


def test_idle_keepalive_and_dribbled_heads_are_closed(server_dir: Path) -> None:
    """The configured deadlines (shorter here than the defaults, to keep the test short):
    an idle keep-alive connection is closed after --idle-timeout, a head sent a byte at a
    time after --read-header-timeout even though bytes keep coming."""
    server = start_server(server_dir, "--read-header-timeout", "1", "--idle-timeout", "3")
    try:
        idle = _connect(server)
        _request(idle, "GET", "/_ping")
        assert _read_until(idle, b"OK", 10).startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        # A second request on the same connection still works while it is kept alive.
        _request(idle, "GET", "/_ping")
        assert _read_until(idle, b"OK", 10).startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        closed = _closed_after(idle, start, 10)
        assert closed is not None and 2.5 <= closed <= 5, closed

        drip = _connect(server)
        start = time.monotonic()
        head = b"GET /_ping HTTP/1.1\r\nHost: orlop\r\n" + b"X-A: b\r\n" * 50
        closed_at = None
        for byte in head:
            try:
                drip.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - start
                break
            if not _is_open(drip):
                closed_at = time.monotonic() - start
                break
            time.sleep(0.1)
        drip.close()
        assert closed_at is not None and 0.9 <= closed_at <= 2.5, closed_at

        # The first bytes of a second head on a kept-alive connection start its clock.
        ka = _connect(server)
        _request(ka, "GET", "/_ping")
        _read_until(ka, b"OK", 10)
        time.sleep(0.5)
        start = time.monotonic()
        ka.sendall(b"GET /_ping HTTP/1.1\r\n")
        closed = _closed_after(ka, start, 10)
        ka.close()
        assert closed is not None and 0.9 <= closed <= 2, closed
    finally:
        stop_server(server)


def test_default_deadlines_are_10s_and_60s() -> None:
    from orlop.server import deadlines

    assert deadlines.READ_HEADER_TIMEOUT == 10.0
    assert deadlines.IDLE_TIMEOUT == 60.0
    assert deadlines.supported()
