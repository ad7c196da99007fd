"""What the dashboard tests share: one orlopd per test module (with busybox imported and a
container using a volume), a small HTTP client over its socket that speaks the
dashboard's forms (CSRF token read from the page, as a browser would), and tar builders
for hostile volume content."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testsupport import busybox_tarball, mounts_under, unmount_all_under

from .conftest import Server, start_server, stop_server

HOSTILE = ["<script>alert(1)</script>", "../x", "new\nline", "quote\"s'", "a&b"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """HTTP over orlopd's unix socket (a non-browser client: no Origin unless given)."""

    def __init__(self, sock: Path, host: str = "localhost") -> None:
        self.sock = sock
        self.host = host

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        sock_path = str(self.sock)

        class Conn(http.client.HTTPConnection):
            def connect(conn) -> None:  # noqa: N805
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(60)
                s.connect(sock_path)
                conn.sock = s

        c = Conn(self.host)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def csrf(self) -> str:
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', self.get("/dashboard/").text)
        assert m, "no CSRF token on the volumes page"
        return m.group(1)

    def post_form(self, path: str, fields: dict[str, str], *, csrf: str | None = "auto",
                  **headers: str) -> Reply:
        import urllib.parse

        data = dict(fields)
        if csrf == "auto":
            data["csrf"] = self.csrf()
        elif csrf is not None:
            data["csrf"] = csrf
        body = urllib.parse.urlencode(data).encode()
        return self.request("POST", path, body, {
            "Content-Type": "application/x-www-form-urlencoded", **headers})

    def post_files(self, path: str, fields: dict[str, str],
                   files: list[tuple[str, str, bytes]], *, csrf: str | None = "auto") -> Reply:
        """A multipart form: ``fields`` (the CSRF token first), then ``files`` as
        (field, filename, content)."""
        from urllib3 import encode_multipart_formdata

        parts: list[tuple[str, object]] = []
        if csrf is not None:
            parts.append(("csrf", self.csrf() if csrf == "auto" else csrf))
        parts.extend(fields.items())
        parts.extend((field, (fname, content, "application/octet-stream"))
                     for field, fname, content in files)
        body, ctype = encode_multipart_formdata(parts)  # type: ignore[arg-type]
        return self.request("POST", path, body, {"Content-Type": ctype})

    def api(self, method: str, path: str, obj: object | None = None) -> Reply:
        body = json.dumps(obj).encode() if obj is not None else None
        return self.request(method, path, body, {"Content-Type": "application/json"})


def tar_of(entries: list[tuple[str, bytes | str]]) -> bytes:
    """A tar: (name, bytes) is a file, (name, "->target") a symlink, (name, "/") a dir."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, what in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if isinstance(what, bytes):
                info.size, info.mode = len(what), 0o644
                t.addfile(info, io.BytesIO(what))
            elif what == "/":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            else:
                info.type, info.linkname = tarfile.SYMTYPE, what[2:]
                t.addfile(info)
    return buf.getvalue()


@dataclass
class Stage:
    """One orlopd for a module: its socket client, a container 'user1' (created, not
    running) mounting volume 'used' read-only."""

    server: Server
    client: Client


def staged_server() -> Iterator[Stage]:
    base = Path(tempfile.mkdtemp(prefix="orlop-dashboard-", dir="/tmp"))
    os.chmod(base, 0o755)
    server = start_server(base)
    try:
        client = Client(server.socket)
        with open(busybox_tarball(), "rb") as f:
            r = client.request("POST", "/images/create?fromSrc=-&repo=busybox&tag=latest",
                               f.read(), {"Content-Type": "application/x-tar"})
        assert r.status == 200, r.text
        assert client.api("POST", "/volumes/create", {"Name": "used"}).status == 201
        r = client.api("POST", "/containers/create?name=user1", {
            "Image": "busybox:latest", "Cmd": ["true"],
            "HostConfig": {"Binds": ["used:/srv/data:ro"]}})
        assert r.status == 201, r.text
        yield Stage(server, client)
    finally:
        stop_server(server)
        log = base / "orlopd.log"
        if log.exists() and "Traceback" in log.read_text():
            print(log.read_text())
        unmount_all_under(str(base))
        shutil.rmtree(base, ignore_errors=True)
        assert not mounts_under(str(base))


def start_dashboard(server: Server) -> tuple[subprocess.Popen[str], str]:
    """``orlop dashboard`` for the server: (process, the URL it printed)."""
    import sys

    env = {**os.environ, "ORLOP_HOST": server.host}
    env.pop("DOCKER_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "orlop", "dashboard"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url:
        proc.kill()
        raise AssertionError("orlop dashboard printed no URL: " + (proc.stderr.read()
                                                                  if proc.stderr else ""))
    return proc, url


def stop_dashboard(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
