"""Real Docker clients against an ``orlopd`` started per test on a temporary socket and root.

The docker CLI (``DOCKER_HOST=unix://<socket>``), docker-py (``docker==7.2.0``) and
Debian's docker-compose talk to the server exactly as they would to dockerd.  Each test
gets its own root (busybox:latest imported) and server process, stopped on teardown; the
root is unmounted and removed, as in the integration tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plugin_util import rclone  # noqa: F401 - pytest fixture (a real volume plugin)
from registry_util import registry  # noqa: F401 - pytest fixture (a real registry)
from testsupport import busybox_tarball, mounts_under, scratch_dir  # noqa: F401 - mounts_under: for the tests

REPO = Path(__file__).resolve().parents[2]
# docker-py's own suite, vendored: run by test_dockerpy_suite.py in a subprocess against
# orlopd, never collected as Orlop's tests.
collect_ignore = ["dockerpy_suite"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "compat" in str(item.fspath) and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="compat tests run containers: need root"))


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    """The busybox rootfs tarball built from Debian's busybox-static (cached in .cache/)."""
    return busybox_tarball()


@dataclass
class Server:
    dir: Path
    root: Path
    socket: Path
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, input: str | None = None, timeout: float = 60,
               check: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The real docker CLI against this server."""
        docker = shutil.which("docker")
        assert docker, "the docker CLI is not installed"
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.dir / "cfg")}
        env.pop("DOCKER_CONTEXT", None)
        res = subprocess.run([docker, *args], input=input, capture_output=True, text=True,
                             timeout=timeout, env=env, cwd=cwd or self.dir, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def ok(self, *args: str, **kw: Any) -> str:
        return self.docker(*args, check=True, **kw).stdout

    def raw(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request (for bad-input cases no client would send)."""
        import http.client

        class Conn(http.client.HTTPConnection):
            def connect(conn) -> None:  # noqa: N805
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(30)
                s.connect(str(self.socket))
                conn.sock = s

        c = Conn("localhost")
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()


def start_server(base: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    """orlopd on ``base``/orlopd.sock and ``base``/root; ``env``: added to its environment."""
    root = base / "root"
    sock = base / "orlopd.sock"
    log = open(base / "orlopd.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop.server.main", "-H", f"unix://{sock}", "--root",
         str(root), *extra], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, **env} if env else None)
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("orlopd exited: " + (base / "orlopd.log").read_text())
        if sock.exists():
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(sock))
                break
            except OSError:
                pass
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("orlopd did not come up: " + (base / "orlopd.log").read_text())
    return Server(dir=base, root=root, socket=sock, proc=proc)


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def server_dir() -> Iterator[Path]:
    with scratch_dir("orlop-compat-", mode=0o755) as d:
        yield d


@pytest.fixture
def orlopd(server_dir: Path) -> Iterator[Server]:
    """An orlopd with an empty root."""
    server = start_server(server_dir)
    try:
        yield server
    finally:
        stop_server(server)
        # Containers still running under a monitor hold mounts: let them finish.
        log = server_dir / "orlopd.log"
        if log.exists() and "Traceback" in log.read_text():
            print(log.read_text())


@pytest.fixture
def bbd(orlopd: Server, busybox_tar: Path) -> Server:
    """An orlopd whose root has busybox:latest (imported through the API)."""
    with open(busybox_tar) as f:
        res = subprocess.run([shutil.which("docker") or "docker", "import", "-",
                              "busybox:latest"], stdin=f, capture_output=True, text=True,
                             env={**os.environ, "DOCKER_HOST": orlopd.host,
                                  "DOCKER_CONFIG": str(orlopd.dir / "cfg")}, check=False)
    assert res.returncode == 0, res.stderr
    return orlopd


@pytest.fixture
def client(bbd: Server) -> Iterator[Any]:
    """docker-py's high-level client against the server."""
    docker = pytest.importorskip("docker")
    c = docker.DockerClient(base_url=bbd.host, version="auto", timeout=60)
    try:
        yield c
    finally:
        c.close()
