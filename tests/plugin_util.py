"""Real Docker volume plugins for the tests: Debian's ``rclone``, run as
``rclone serve docker`` (the Docker volume plugin built into rclone) on a private socket,
backed by ``rclone serve webdav`` on 127.0.0.1 over a temporary directory (the
"remote").  Nothing of the host's: the socket lives in a private plugin directory that
the engine under test is given with ``ORLOP_PLUGIN_DIRS``; rclone's config, cache and
state, and its FUSE mounts, are under the test's temporary directory and go with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testsupport import mounts_under, unmount_all_under

RCLONE = shutil.which("rclone")
needs_rclone = pytest.mark.skipif(
    RCLONE is None or shutil.which("fusermount3") is None or not os.path.exists("/dev/fuse"),
    reason="rclone and FUSE (fuse3, /dev/fuse) are needed (scripts/setup.sh installs them)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(sock: Path, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One plugin-protocol call, straight to the plugin (to check what it was told)."""
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(30)
            self.sock.connect(str(sock))

    conn = Conn("localhost", timeout=30)
    try:
        conn.request("POST", f"/{method}", json.dumps(body or {}),
                     {"Content-Type": "application/vnd.docker.plugins.v1.2+json"})
        data = conn.getresponse().read()
    finally:
        conn.close()
    out = json.loads(data or b"{}")
    assert isinstance(out, dict)
    return out


@dataclass
class RclonePlugin:
    """``rclone serve docker`` as plugin ``name`` in ``plugin_dir``."""

    name: str
    plugin_dir: Path
    work: Path
    config: Path  # rclone.conf: the remote "dav" (the test's webdav server)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.plugin_dir / f"{self.name}.sock"

    @property
    def base_dir(self) -> Path:
        return self.work / "mnt"

    def start(self) -> None:
        assert RCLONE is not None
        for d in (self.base_dir, self.work / "cache"):
            d.mkdir(parents=True, exist_ok=True)
        log = open(self.work / "plugin.log", "ab")
        self.proc = subprocess.Popen(
            [RCLONE, "serve", "docker", "--socket-addr", str(self.socket),
             "--base-dir", str(self.base_dir), "--cache-dir", str(self.work / "cache"),
             "--config", str(self.config), "--no-spec", "-v"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait_for_socket(self.socket, self.proc, self.work / "plugin.log")

    def stop(self) -> None:
        """Stop it as a crash would look to a client: the process gone, the socket file
        (if rclone left it) answering nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def call(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return call(self.socket, method, body)

    def mounts(self, volume: str) -> list[str]:
        """The mount IDs the plugin holds for ``volume`` (its Get's Status.Mounts)."""
        vol = self.call("VolumeDriver.Get", {"Name": volume}).get("Volume") or {}
        return list((vol.get("Status") or {}).get("Mounts") or [])


@dataclass
class RcloneSetup:
    """A webdav remote and the plugins that reach it."""

    dir: Path
    remote: Path
    url: str
    plugin_dir: Path
    webdav: subprocess.Popen[bytes]
    plugins: dict[str, RclonePlugin] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What an engine under test needs to see these plugins (and no others)."""
        return {"ORLOP_PLUGIN_DIRS": str(self.plugin_dir)}

    def volume_opts(self, subdir: str) -> list[str]:
        """``-o`` values for ``volume create -d rclone``: the configured remote ``dav``
        at ``subdir`` (made here: rclone does not make a missing base path).  A named
        remote rather than ``type=webdav,webdav-url=``: Debian 12's rclone (1.60) cannot
        restore volumes made with ``type=`` after a restart ("cannot parse path")."""
        (self.remote / subdir).mkdir(parents=True, exist_ok=True)
        return [f"remote=dav:{subdir}"]

    def plugin(self, name: str = "rclone") -> RclonePlugin:
        p = self.plugins.get(name)
        if p is None:
            p = self.plugins[name] = RclonePlugin(name, self.plugin_dir, self.dir / name,
                                                  self.dir / "rclone.conf")
            p.start()
        return p


def _wait_for_socket(path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{path.name}: exited: {log.read_text()}")
        try:
            call(path, "Plugin.Activate")
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{path.name} did not come up: {log.read_text()}")


@pytest.fixture
def rclone() -> Iterator[RcloneSetup]:
    """A webdav remote on 127.0.0.1 and ``rclone serve docker`` as plugin ``rclone``."""
    if RCLONE is None:
        pytest.skip("rclone is not installed (scripts/setup.sh installs it)")
    d = Path(tempfile.mkdtemp(prefix="orlop-rclone-", dir="/tmp"))
    remote, plugin_dir = d / "remote", d / "plugins"
    remote.mkdir()
    plugin_dir.mkdir()
    port = free_port()
    (d / "rclone.conf").write_text(
        f"[dav]\ntype = webdav\nurl = http://127.0.0.1:{port}/\nvendor = other\n")
    log = open(d / "webdav.log", "wb")
    webdav = subprocess.Popen(
        [RCLONE, "serve", "webdav", "--addr", f"127.0.0.1:{port}", str(remote),
         "--config", str(d / "rclone.conf")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    setup = RcloneSetup(d, remote, f"http://127.0.0.1:{port}/", plugin_dir, webdav)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if webdav.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("rclone serve webdav did not come up: "
                                         + (d / "webdav.log").read_text()) from None
                time.sleep(0.05)
        setup.plugin("rclone")
        yield setup
    finally:
        for p in setup.plugins.values():
            p.stop()
        webdav.send_signal(signal.SIGTERM)
        try:
            webdav.wait(timeout=15)
        except subprocess.TimeoutExpired:
            webdav.kill()
            webdav.wait()
        unmount_all_under(str(d))
        left = mounts_under(str(d))
        shutil.rmtree(d, ignore_errors=True)
        assert not left, f"mounts left under {d}: {left}"


class FakePlugin:
    """A protocol-conformant Docker volume plugin in this process, for the unit tests: a
    unix-socket HTTP server keeping volumes in memory, each "mounted" on a plain
    directory (no kernel mount), recording every call it gets.  ``fail`` maps a method
    name (``"VolumeDriver.Mount"``) to the ``Err`` text it answers with."""

    def __init__(self, sock: Path, base: Path, scope: str = "local") -> None:
        import socketserver
        import threading
        from http.server import BaseHTTPRequestHandler

        self.sock, self.base, self.scope = sock, base, scope
        self.volumes: dict[str, dict[str, Any]] = {}
        self.mounts: dict[str, list[str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, str] = {}
        plugin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                answer = plugin.handle(self.path.lstrip("/"), body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.docker.plugins.v1.2+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def get_request(self) -> tuple[Any, Any]:
                conn, _ = self.socket.accept()
                return conn, ("local", 0)  # BaseHTTPRequestHandler wants an address

        sock.parent.mkdir(parents=True, exist_ok=True)
        base.mkdir(parents=True, exist_ok=True)
        self.server = Server(str(sock), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def handle(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((method, body))
        if method in self.fail:
            return {"Err": self.fail[method]}
        name = str(body.get("Name") or "")
        if method == "Plugin.Activate":
            return {"Implements": ["VolumeDriver"]}
        if method == "VolumeDriver.Capabilities":
            return {"Capabilities": {"Scope": self.scope}}
        if method == "VolumeDriver.List":
            return {"Volumes": [self._wire(n) for n in sorted(self.volumes)]}
        if method == "VolumeDriver.Create":
            if name in self.volumes:
                return {"Err": "volume already exists"}
            self.volumes[name] = dict(body.get("Opts") or {})
            self.mounts[name] = []
            return {}
        if name not in self.volumes:
            return {"Err": "volume not found"}
        if method == "VolumeDriver.Get":
            return {"Volume": self._wire(name)}
        if method == "VolumeDriver.Path":
            return {"Mountpoint": str(self.base / name) if self.mounts[name] else ""}
        if method == "VolumeDriver.Remove":
            if self.mounts[name]:
                return {"Err": "volume is in use"}
            del self.volumes[name], self.mounts[name]
            return {}
        if method == "VolumeDriver.Mount":
            (self.base / name).mkdir(exist_ok=True)
            self.mounts[name].append(str(body["ID"]))
            return {"Mountpoint": str(self.base / name)}
        if method == "VolumeDriver.Unmount":
            if str(body["ID"]) not in self.mounts[name]:
                return {"Err": "unknown mount id"}
            self.mounts[name].remove(str(body["ID"]))
            return {}
        return {"Err": f"unknown method {method}"}

    def _wire(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Mountpoint": str(self.base / name),
                "Status": {"Mounts": list(self.mounts[name])}}

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]

    def close(self) -> None:
        """Stop serving and leave the socket file behind: a crashed plugin."""
        self.server.shutdown()
        self.server.server_close()
