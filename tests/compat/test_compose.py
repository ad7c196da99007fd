"""Debian's docker-compose (1.29) against orlopd: two services sharing a named volume and
a bind mount; ``down -v`` removes the volume."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from .conftest import Server

COMPOSE = """\
version: "3.7"
services:
  writer:
    image: busybox
    command: sh -c "echo hello > /data/msg; cp /data/msg /bind/msg; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    volumes:
      - shared:/data
      - ./bind:/bind
  reader:
    image: busybox
    command: sh -c "while [ ! -f /data/msg ]; do sleep 0.1; done; cat /data/msg; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    volumes:
      - shared:/data
volumes:
  shared:
"""  # noqa: E501


def _compose(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    env = {**os.environ, "DOCKER_HOST": server.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}
    return subprocess.run([exe, "-p", "proj", *args], cwd=server.dir / "app", env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_compose_up_shares_named_volume_and_bind_then_down_v_removes_it(bbd: Server) -> None:
    app = bbd.dir / "app"
    (app / "bind").mkdir(parents=True)
    (app / "docker-compose.yml").write_text(COMPOSE)
    res = _compose(bbd, "up", "-d")
    assert res.returncode == 0, res.stderr
    assert "proj_shared" in bbd.ok("volume", "ls", "-q").split()
    deadline = time.monotonic() + 20
    while not (app / "bind" / "msg").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (app / "bind" / "msg").read_text() == "hello\n"
    logs = ""
    while "hello" not in logs and time.monotonic() < deadline:
        logs = bbd.ok("logs", "proj_reader_1")
        time.sleep(0.1)
    assert logs == "hello\n"
    res = _compose(bbd, "down", "-v")
    assert res.returncode == 0, res.stderr
    assert bbd.ok("ps", "-aq").split() == []
    assert "proj_shared" not in bbd.ok("volume", "ls", "-q").split()


NETWORKED = """\
version: "3.7"
services:
  web:
    image: busybox
    command: httpd -f -h /www
    volumes:
      - ./www:/www
    ports:
      - "127.0.0.1:{port}:80"
  client:
    image: busybox
    command: sh -c "until wget -q -O /out/got http://web/; do sleep 0.2; done; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    volumes:
      - ./out:/out
"""  # noqa: E501


def test_compose_ports_and_service_names_resolve(bbd: Server) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = bbd.dir / "app"
    (app / "www").mkdir(parents=True)
    (app / "out").mkdir()
    (app / "www" / "index.html").write_text("compose web\n")
    (app / "docker-compose.yml").write_text(NETWORKED.format(port=port))
    res = _compose(bbd, "up", "-d")
    assert res.returncode == 0, res.stderr
    try:
        deadline = time.monotonic() + 20
        while not (app / "out" / "got").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        # The client reached the web service by its service name (aardvark-dns).
        assert (app / "out" / "got").read_text() == "compose web\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.read() == b"compose web\n"
        assert "proj_default" in bbd.ok("network", "ls", "--format", "{{.Name}}").split()
        res = _compose(bbd, "ps")
        assert f"127.0.0.1:{port}->80/tcp" in res.stdout
    finally:
        res = _compose(bbd, "down")
    assert res.returncode == 0, res.stderr
    assert bbd.ok("ps", "-aq").split() == []
    assert "proj_default" not in bbd.ok("network", "ls", "--format", "{{.Name}}").split()


SHARED_NETNS = """\
version: "3.7"
services:
  app:
    image: busybox
    command: httpd -f -h /www
    volumes:
      - ./www:/www
  side:
    image: busybox
    network_mode: "service:app"
    command: sh -c "until wget -q -O /out/got http://127.0.0.1/; do sleep 0.2; done; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    volumes:
      - ./out:/out
networks:
  default:
    internal: true
"""  # noqa: E501


def test_compose_network_mode_service_shares_the_namespace(bbd: Server) -> None:
    """``network_mode: service:app``: compose 1.29 starts ``side`` with
    ``container:<app's id>``; it reaches app's server on its own 127.0.0.1."""
    import json

    app = bbd.dir / "app"
    (app / "www").mkdir(parents=True)
    (app / "out").mkdir()
    (app / "www" / "index.html").write_text("same netns\n")
    (app / "docker-compose.yml").write_text(SHARED_NETNS)
    res = _compose(bbd, "up", "-d")
    assert res.returncode == 0, res.stderr
    try:
        deadline = time.monotonic() + 20
        while not (app / "out" / "got").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (app / "out" / "got").read_text() == "same netns\n"
        app_id = bbd.ok("inspect", "-f", "{{.Id}}", "proj_app_1").strip()
        side = json.loads(bbd.ok("inspect", "proj_side_1"))[0]
        assert side["HostConfig"]["NetworkMode"] == f"container:{app_id}"
    finally:
        res = _compose(bbd, "down")
    assert res.returncode == 0, res.stderr
    assert bbd.ok("ps", "-aq").split() == []
