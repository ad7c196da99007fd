"""Ctrl-P Ctrl-Q through orlopd (issue 15): the docker CLI's run -it, attach and exec -it,
and `orlop -H run -it` / `attach`, each under a pty; the container runs on."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import termios
import time
from typing import Any

import pytest

from .conftest import Server


class _Pty:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, self.slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, start_new_session=True, env=env)
        self.out = bytearray()

    def pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.out += os.read(self.master, 65536)
            except OSError:
                pass

    def read_until(self, needle: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            assert time.monotonic() < deadline, f"{needle!r} not in {bytes(self.out)!r}"
            self.pump(0.2)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump(0.1)
        code = self.proc.wait(timeout=1)
        # What it wrote just before exiting may still wait in the terminal (the
        # test holds the other side open: no EOF comes): read until nothing is left.
        while True:
            size = len(self.out)
            self.pump(0.05)
            if len(self.out) == size:
                return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def _docker(server: Server, *args: str) -> _Pty:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed")
    env = {**os.environ, "DOCKER_HOST": server.host, "DOCKER_CONFIG": str(server.dir / "cfg")}
    return _Pty([docker, *args], env)


def _orlop(server: Server, *args: str) -> _Pty:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    return _Pty([sys.executable, "-m", "orlop", "-H", server.host, *args], env)


def _running(server: Server, name: str) -> str:
    return server.ok("inspect", "-f", "{{.State.Running}}", name).strip()


def _session(p: _Pty, marker: str) -> None:
    time.sleep(1)
    half = len(marker) // 2
    os.write(p.master, f"echo {marker[:half]}''{marker[half:]}\r".encode())
    p.read_until(marker.encode())


@pytest.mark.parametrize("client", ["docker", "orlop"])
def test_run_it_then_attach_detach_through_orlopd(bbd: Server, client: str) -> None:
    start = _docker if client == "docker" else _orlop
    name = f"d{client}"
    p = start(bbd, "run", "-it", "--name", name, "busybox", "sh")
    try:
        before = termios.tcgetattr(p.slave)[3]
        _session(p, "alpha")
        os.write(p.master, b"\x10\x11")
        assert p.wait() == 0, bytes(p.out)
        assert termios.tcgetattr(p.slave)[3] == before
    finally:
        p.close()
    assert _running(bbd, name) == "true"
    p = start(bbd, "attach", name)
    try:
        _session(p, "bravo")
        os.write(p.master, b"\x10\x11")
        assert p.wait() == 1
        assert b"read escape sequence" in p.out
    finally:
        p.close()
    assert _running(bbd, name) == "true"
    p = start(bbd, "attach", "--detach-keys", "ctrl-x", name)
    try:
        _session(p, "charlie")
        os.write(p.master, b"\x18")
        assert p.wait() == 1
    finally:
        p.close()
    assert _running(bbd, name) == "true"
    bbd.ok("rm", "-f", name)


def test_docker_exec_it_detach_leaves_the_exec_running(bbd: Server) -> None:
    cid = bbd.ok("run", "-d", "--name", "ex", "busybox", "sleep", "300").strip()
    try:
        p = _docker(bbd, "exec", "-it", cid, "sh", "-c", "echo READY; exec sleep 200")
        try:
            p.read_until(b"READY")
            os.write(p.master, b"\x10\x11")
            # The docker CLI's exec returns moby/term's EscapeError, as its attach.
            assert p.wait() == 1, bytes(p.out)
            assert b"read escape sequence" in p.out
        finally:
            p.close()
        top = bbd.ok("top", cid)
        assert "sleep 200" in top
        assert _running(bbd, "ex") == "true"
    finally:
        bbd.docker("rm", "-f", cid)


@pytest.mark.parametrize("keys", [[], ["--detach-keys", "ctrl-a"]])
def test_orlop_exec_it_detach_through_orlopd(bbd: Server, keys: list[str]) -> None:
    """`orlop -H exec -it` (with --detach-keys sent as the exec's DetachKeys): the docker
    CLI's exit 1 and text, the exec runs on."""
    cid = bbd.ok("run", "-d", "busybox", "sleep", "300").strip()
    try:
        p = _orlop(bbd, "exec", "-it", *keys, cid, "sh", "-c", "echo READY; exec sleep 201")
        try:
            p.read_until(b"READY")
            os.write(p.master, b"\x01" if keys else b"\x10\x11")
            assert p.wait() == 1, bytes(p.out)
            assert b"read escape sequence" in p.out
        finally:
            p.close()
        assert "sleep 201" in bbd.ok("top", cid)
    finally:
        bbd.docker("rm", "-f", cid)


def _read_to_eof(sock: socket.socket, timeout: float = 15) -> bytes:
    sock.settimeout(timeout)
    buf = b""
    while data := sock.recv(65536):
        buf += data
    return buf


def test_api_detach_keys_end_attach_and_exec_streams(client: Any, bbd: Server) -> None:
    """The server's own scan (a client that sends the keys, such as docker-py's socket):
    `detachKeys` on attach and `DetachKeys` of an exec end the stream there, the keys
    never reach the process, and the container and the exec run on; a bad sequence is
    dockerd's 400."""
    api = client.api
    c = api.create_container("busybox", ["sh"], tty=True, stdin_open=True,
                             host_config=api.create_host_config(network_mode="none"))
    cid = c["Id"]
    try:
        api.start(cid)
        sock = _sock(api.attach_socket(cid, params={
            "stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x,y"}))
        try:
            sock.sendall(b"echo one''two\n")
            seen = b""
            sock.settimeout(15)
            while b"onetwo" not in seen:
                data = sock.recv(65536)
                assert data, seen
                seen += data
            sock.sendall(b"\x18y")
            _read_to_eof(sock)  # the server ends the stream
        finally:
            sock.close()
        assert api.inspect_container(cid)["State"]["Running"] is True
        ex = api.exec_create(cid, ["sh", "-c", "echo READY; exec sleep 100"], tty=True,
                             stdin=True, detach_keys="ctrl-a")["Id"]
        assert api.exec_inspect(ex)["DetachKeys"] == "ctrl-a"
        sock = _sock(api.exec_start(ex, tty=True, socket=True))
        try:
            time.sleep(0.5)
            sock.sendall(b"\x01")
            assert b"READY" in _read_to_eof(sock)
        finally:
            sock.close()
        time.sleep(0.5)
        assert api.exec_inspect(ex)["Running"] is True
        status, _, body = bbd.raw("POST", f"/v1.41/containers/{cid}/attach?stream=1&"
                                  "stdin=1&detachKeys=ctrl-1")
        assert (status, json.loads(body)["message"]) == (
            400, "Invalid detach keys (ctrl-1) provided")
    finally:
        api.remove_container(cid, force=True)


def _sock(obj: Any) -> socket.socket:
    return obj._sock if hasattr(obj, "_sock") else obj
