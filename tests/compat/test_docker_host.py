"""$DOCKER_HOST is used only when it names an orlopd (issue 15).

A fake dockerd on a unix socket in a temp dir answers /_ping and /version as dockerd
20.10 does, and records every request: orlop must refuse it from $DOCKER_HOST without
sending anything but the /version probe, and use it as told from $ORLOP_HOST or -H."""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import Server

DOCKERD_VERSION = {
    "Platform": {"Name": "Docker Engine - Community"},
    "Components": [{"Name": "Engine", "Version": "20.10.24",
                    "Details": {"ApiVersion": "1.41", "MinAPIVersion": "1.12"}}],
    "Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12",
    "Os": "linux", "Arch": "amd64",
}


class _FakeDockerd(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    requests: list[tuple[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: _FakeDockerd

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path))
        if self.path.endswith("/_ping"):
            self._send(200, b"OK", "text/plain")
        elif self.path.endswith("/version"):
            self._send(200, json.dumps(DOCKERD_VERSION).encode(), "application/json")
        elif self.path.split("?")[0].endswith("/containers/json"):
            self._send(200, b"[]", "application/json")
        else:
            self._send(404, b'{"message":"page not found"}', "application/json")

    def do_POST(self) -> None:
        self.server.requests.append(("POST", self.path))
        self._send(500, b'{"message":"the fake dockerd does nothing"}', "application/json")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "fake"

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_dockerd(server_dir: Path) -> Iterator[_FakeDockerd]:
    srv = _FakeDockerd(str(server_dir / "docker.sock"), _Handler)
    srv.requests = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _orlop(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("DOCKER_HOST", "ORLOP_HOST", "ORLOP_ROOT", "ORLOP_RUN_ROOT")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "orlop", *args], capture_output=True,
                          text=True, timeout=60, env=full, check=False)


def test_docker_host_naming_dockerd_is_refused_before_any_call(fake_dockerd: _FakeDockerd,
                                                                server_dir: Path) -> None:
    host = f"unix://{server_dir / 'docker.sock'}"
    for args in (["ps", "-a"], ["run", "--rm", "busybox", "true"], ["volume", "ls"]):
        res = _orlop(*args, DOCKER_HOST=host)
        assert res.returncode != 0, args
        assert res.stdout == ""
        assert f"$DOCKER_HOST ({host}) points at a daemon that is not orlopd" in res.stderr
        assert "'Docker Engine - Community'" in res.stderr
        assert "$ORLOP_HOST" in res.stderr and "-H" in res.stderr
    # Only the probe reached the other engine: nothing listed, created or started.
    assert fake_dockerd.requests == [("GET", "/version")] * 3


@pytest.mark.parametrize("how", ["ORLOP_HOST", "-H"])
def test_orlop_host_and_flag_are_used_as_given(fake_dockerd: _FakeDockerd, server_dir: Path,
                                               how: str) -> None:
    """-H and $ORLOP_HOST name a daemon on purpose: no probe, the call goes there (and
    wins over $DOCKER_HOST)."""
    host = f"unix://{server_dir / 'docker.sock'}"
    if how == "-H":
        res = _orlop("-H", host, "ps", "-q", DOCKER_HOST="unix:///nonexistent.sock")
    else:
        res = _orlop("ps", "-q", ORLOP_HOST=host, DOCKER_HOST="unix:///nonexistent.sock")
    assert (res.returncode, res.stdout) == (0, ""), res.stderr
    assert [p.split("?")[0].rsplit("/", 2)[-2:] for _m, p in fake_dockerd.requests] == [
        ["containers", "json"]]


def test_docker_host_naming_orlopd_is_used(bbd: Server) -> None:
    res = _orlop("run", "--rm", "busybox", "echo", "via-docker-host", DOCKER_HOST=bbd.host)
    assert (res.returncode, res.stdout) == (0, "via-docker-host\n"), res.stderr
    assert _orlop("volume", "ls", "-q", DOCKER_HOST=bbd.host).returncode == 0
