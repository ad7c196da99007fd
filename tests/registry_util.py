"""A real registry for the tests: Debian's ``docker-registry`` (distribution 2.8) run as
``docker-registry serve config.yml`` on 127.0.0.1 with a private storage dir (never the
system service), optionally with TLS (a ``trustme`` CA), htpasswd or token auth (a small
token issuer below, signing with ``pyjwt``), and a TCP proxy that slows or cuts
downloads."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REGISTRY_BIN = shutil.which("docker-registry")
needs_registry = pytest.mark.skipif(
    REGISTRY_BIN is None, reason="docker-registry (Debian package) is not installed")


def private_env(tmp: Path, **extra: str) -> dict[str, str]:
    """What an ``orlop`` under test reads of registries, all private to ``tmp``: its own
    docker config dir, no host daemon.json, no host certs.d."""
    env = {"DOCKER_CONFIG": str(tmp / "docker-config"),
           "ORLOP_REGISTRY_CONFIG": str(tmp / "no-daemon.json"),
           "ORLOP_CERTS_D": str(tmp / "certs.d")}
    env.update(extra)
    return env


def run_orlop(root: Path, tmp: Path, *args: str) -> str:
    """``orlop --root ROOT ARGS`` with :func:`private_env`; must exit 0; its stdout."""
    import sys

    env = {**os.environ, **private_env(tmp)}
    env.pop("ORLOP_ROOT", None)
    res = subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), *args],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    assert res.returncode == 0, f"orlop {' '.join(args)}: {res.stdout}{res.stderr}"
    return res.stdout


def push_imported(server_dir: Path, host: str, tarball: Path) -> tuple[str, str, str]:
    """``tarball`` imported by Orlop as ``<host>/interop/bb:v1`` and pushed there (for
    another client to pull): (the reference, its image id, the digest push printed)."""
    root = server_dir / "root"
    ref = f"{host}/interop/bb:v1"
    run_orlop(root, server_dir, "import", str(tarball), ref)
    image_id = run_orlop(root, server_dir, "image", "inspect", "-f", "{{.Id}}", ref).strip()
    out = run_orlop(root, server_dir, "push", ref)
    return ref, image_id, out.split("v1: digest: ", 1)[1].split()[0]


def start_htpasswd_registry(workdir: Path, user: str, password: str, *,
                            realm: str = "test") -> Registry:
    """:func:`start_registry` in the new directory ``workdir`` with htpasswd basic auth
    and one user; the caller stops it."""
    workdir.mkdir()
    subprocess.run(["htpasswd", "-Bbc", str(workdir / "htpasswd"), user, password],
                   check=True, capture_output=True)
    return start_registry(workdir, auth={"htpasswd": {"realm": realm,
                                                      "path": str(workdir / "htpasswd")}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    storage: Path
    proc: subprocess.Popen[bytes]
    scheme: str = "http"
    log: Path | None = None

    def blob_file(self, digest: str) -> Path:
        hexd = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_registry(workdir: Path, *, tls: tuple[Path, Path] | None = None,
                   auth: dict[str, Any] | None = None) -> Registry:
    """Start a registry with its own storage under ``workdir``; the caller stops it."""
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    http: dict[str, Any] = {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex}
    if tls is not None:
        http["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)},
                    "delete": {"enabled": True}, "cache": {}},
        "http": http,
    }
    if auth is not None:
        config["auth"] = auth
    cfg = workdir / "config.yml"
    cfg.write_text(json.dumps(config))  # YAML is a superset of JSON
    log = workdir / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(cfg)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_port(port)
    except AssertionError:
        proc.kill()
        proc.wait()
        raise AssertionError(log.read_text()) from None
    return Registry(f"127.0.0.1:{port}", storage, proc, "https" if tls else "http", log)


# --- token auth ------------------------------------------------------------------------


@dataclass
class TokenIssuer:
    """distribution's ``auth.token`` counterpart: Basic credentials in, a JWT with the
    requested repository actions out, signed by a key whose certificate chain (``x5c``)
    the registry trusts through ``rootcertbundle``."""

    users: dict[str, str]
    key_pem: bytes
    cert_der: bytes
    service: str = "orlop-test-registry"
    issuer: str = "orlop-test-issuer"
    port: int = 0
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def token(self, user: str, scopes: list[str]) -> str:
        import jwt

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name:
                access.append({"type": "repository", "name": name,
                               "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        headers = {"x5c": [base64.b64encode(self.cert_der).decode()]}
        return str(jwt.encode(claims, self.key_pem, algorithm="RS256", headers=headers))

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                issuer.requests.append(self.path)
                user = ""
                hdr = self.headers.get("Authorization", "")
                if hdr.startswith("Basic "):
                    u, _, p = base64.b64decode(hdr[6:]).decode().partition(":")
                    if issuer.users.get(u) == p:
                        user = u
                if not user:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"token": issuer.token(user, q.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- a proxy that slows or cuts responses ---------------------------------------------


class CuttingProxy:
    """Forwards 127.0.0.1:port to the registry.  ``cut_after``: the first ``cuts``
    connections that send more than that many bytes back are closed at that point (a
    broken download); ``delay``: seconds of sleep per 64 KiB sent back (a slow one)."""

    def __init__(self, target_port: int, *, cut_after: int = 0, cuts: int = 0,
                 delay: float = 0.0) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = cuts
        self.delay = delay
        self.cut_done = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True),
                             daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, back: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if back and self.cut_after and sent + len(data) > self.cut_after:
                    with self._lock:
                        cut = self.cut_done < self.cuts
                        if cut:
                            self.cut_done += 1
                    if cut:
                        dst.sendall(data[: self.cut_after - sent])
                        break
                dst.sendall(data)
                sent += len(data)
                if back and self.delay:
                    time.sleep(self.delay)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop = True
        self._sock.close()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A plain-HTTP registry on 127.0.0.1 (insecure by default, as in Docker)."""
    reg = start_registry(tmp_path / "registry")
    try:
        yield reg
    finally:
        reg.stop()


class RedirectingFront:
    """A read-only front for a registry, like one whose blobs live in object storage:
    it wants Basic credentials for ``/v2/``, answers blob GETs with a 307 to another
    host (``localhost`` instead of ``127.0.0.1``: another netloc, the same server), where
    the blob is served to anyone; records whether an ``Authorization`` header reached the
    blob host.  ``huge_tag`` answers that tag with a 5 MiB manifest."""

    def __init__(self, target: str, user: str, password: str, huge_tag: str = "huge") -> None:
        self.target = target
        self.blob_auth_headers: list[str] = []
        self.redirects = 0
        front = self
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                import http.client

                path = self.path
                if path.startswith("/blobstore/"):
                    front.blob_auth_headers.append(self.headers.get("Authorization", ""))
                    path = "/v2/" + path.removeprefix("/blobstore/")
                else:
                    if self.headers.get("Authorization") != expected:
                        self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":'
                                        b'"authentication required"}]}',
                                   {"WWW-Authenticate": 'Basic realm="front"',
                                    "Content-Type": "application/json"})
                        return
                    if "/blobs/" in path:
                        front.redirects += 1
                        self._send(307, b"", {"Location": f"http://localhost:{front.port}"
                                              f"/blobstore/{path.removeprefix('/v2/')}"})
                        return
                    if path.endswith(f"/manifests/{huge_tag}"):
                        self._send(200, b"{" + b" " * (5 << 20) + b"}", {
                            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
                        return
                c = http.client.HTTPConnection(front.target, timeout=30)
                try:
                    hdrs = {k: v for k, v in self.headers.items()
                            if k.lower() in ("accept", "range")}
                    c.request(self.command, path, headers=hdrs)
                    r = c.getresponse()
                    body = r.read()
                    keep = {k: v for k, v in r.getheaders() if k.lower() in (
                        "content-type", "docker-content-digest", "content-range")}
                    self._send(r.status, body, keep)
                finally:
                    c.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
