"""orlopd on TCP with mutual TLS: the docker CLI, docker-py and orlop's own CLI get in
with a certificate from the server's CA and nobody else gets to send a request.

Certificates (EC P-256) are made per module with the ``openssl`` CLI in a temporary
directory: a CA, a server certificate for 127.0.0.1/localhost, a client certificate, and
a second CA with its own client certificate.  Each test gets an orlopd serving its unix
socket and ``tcp://127.0.0.1:<free port>`` with a temporary root (busybox imported
through the unix socket), started with ``--log-level debug`` so the access log can be
checked.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.compat.conftest import Server, start_server, stop_server

from testsupport import make_ca, make_cert

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="needs the openssl CLI (scripts/setup.sh)")


@dataclass(frozen=True)
class Certs:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    @property
    def ca(self) -> str:
        return self.path("ca.pem")

    @property
    def client(self) -> tuple[str, str]:
        return self.path("cert.pem"), self.path("key.pem")

    @property
    def rogue(self) -> tuple[str, str]:
        """A client certificate signed by another CA."""
        return self.path("rogue-cert.pem"), self.path("rogue-key.pem")


@pytest.fixture(scope="module")
def certs() -> Iterator[Certs]:
    d = Path(tempfile.mkdtemp(prefix="orlop-tls-"))
    try:
        make_ca(d, "ca", "orlop-test-ca")
        make_cert(d, "ca", "server-cert.pem", "server-key.pem", "orlopd",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")
        make_cert(d, "ca", "cert.pem", "key.pem", "orlop-test-client",
                   "extendedKeyUsage=clientAuth\n")
        # A server certificate whose SAN names another host: clients must refuse it.
        make_cert(d, "ca", "elsewhere-cert.pem", "elsewhere-key.pem", "elsewhere",
                   "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n")
        make_ca(d, "rogue-ca", "rogue-ca")
        make_cert(d, "rogue-ca", "rogue-cert.pem", "rogue-key.pem", "rogue-client",
                   "extendedKeyUsage=clientAuth\n")
        yield Certs(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TLSServer:
    server: Server
    certs: Certs
    port: int

    @property
    def tcp(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def tls_flags(self, cert: tuple[str, str] | None = None) -> list[str]:
        cert = cert or self.certs.client
        return ["--tlsverify", "--tlscacert", self.certs.ca, "--tlscert", cert[0],
                "--tlskey", cert[1]]

    def docker(self, *args: str, flags: list[str] | None = None, input: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The docker CLI over TCP; ``flags`` replaces the TLS flags."""
        docker = shutil.which("docker")
        assert docker, "the docker CLI is not installed"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DOCKER_") and k not in ("ORLOP_HOST",)}
        env["DOCKER_CONFIG"] = str(self.server.dir / "cfg")
        argv = [docker, "-H", self.tcp, *(self.tls_flags() if flags is None else flags),
                *args]
        return subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)

    def orlop(self, *args: str, env: dict[str, str] | None = None,
              flags: list[str] | None = None,
              input: str | None = None) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("DOCKER_") and k != "ORLOP_HOST"}
        argv = [sys.executable, "-m", "orlop", "-H", self.tcp,
                *(self.tls_flags() if flags is None else flags), *args]
        return subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=60, env={**base, **(env or {})}, check=False)

    def volumes(self) -> list[str]:
        """Volume names, asked over the unix socket (the side channel of every test)."""
        status, _, body = self.server.raw("GET", "/volumes")
        assert status == 200
        return sorted(v["Name"] for v in json.loads(body)["Volumes"] or [])

    def log(self) -> str:
        return (self.server.dir / "orlopd.log").read_text()


def _tls_args(certs: Certs, port: int, cert: str = "server-cert.pem",
              key: str = "server-key.pem") -> list[str]:
    return ["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", certs.ca,
            "--tlscert", certs.path(cert), "--tlskey", certs.path(key),
            "--log-level", "debug"]


def _import_busybox(server: Server, busybox_tar: Path) -> None:
    with open(busybox_tar) as f:
        res = subprocess.run([shutil.which("docker") or "docker", "import", "-",
                              "busybox:latest"], stdin=f, capture_output=True, text=True,
                             env={**os.environ, "DOCKER_HOST": server.host,
                                  "DOCKER_CONFIG": str(server.dir / "cfg")}, check=False)
    assert res.returncode == 0, res.stderr


@pytest.fixture
def tlsd(server_dir: Path, certs: Certs, busybox_tar: Path) -> Iterator[TLSServer]:
    """orlopd on its unix socket and on TCP with mutual TLS, busybox loaded."""
    port = free_port()
    server = start_server(server_dir, *_tls_args(certs, port))
    try:
        _import_busybox(server, busybox_tar)
        yield TLSServer(server, certs, port)
    finally:
        stop_server(server)


# --- the clients that hold a certificate from the server's CA ------------------------


def test_tls_docker_cli_version_and_volumes_work(tlsd: TLSServer) -> None:
    res = tlsd.docker("version", "--format", "{{.Server.APIVersion}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1.45"
    res = tlsd.docker("volume", "create", "tlsvol")
    assert res.returncode == 0 and res.stdout.strip() == "tlsvol", res.stderr
    res = tlsd.docker("volume", "ls", "-q")
    assert res.stdout.split() == ["tlsvol"], res.stderr
    res = tlsd.docker("volume", "rm", "tlsvol")
    assert res.returncode == 0, res.stderr
    assert tlsd.volumes() == []


def test_tls_docker_cli_run_rm_prints_output(tlsd: TLSServer) -> None:
    # The CLI half-closes the hijacked attach with a TLS close_notify at once (no -i):
    # the container's output must still come back.
    res = tlsd.docker("run", "--rm", "--network", "none", "busybox", "echo", "hello tls")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hello tls\n"
    # With -i the close_notify comes after the piped input.
    piped = tlsd.docker("run", "--rm", "-i", "--network", "none", "busybox", "cat",
                        input="from stdin\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "from stdin\n"
    assert tlsd.docker("ps", "-aq").stdout.strip() == ""


def test_tls_docker_py_volumes_and_run_work(tlsd: TLSServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    docker = pytest.importorskip("docker")
    # requests lets $REQUESTS_CA_BUNDLE/$CURL_CA_BUNDLE override the client's CA
    # (psf/requests#3829): they would replace the test CA with the system's.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    tls = docker.tls.TLSConfig(client_cert=tlsd.certs.client, ca_cert=tlsd.certs.ca,
                               verify=True)
    c = docker.DockerClient(base_url=f"https://127.0.0.1:{tlsd.port}", tls=tls,
                            version="auto", timeout=60)
    try:
        assert c.version()["ApiVersion"] == "1.45"
        v = c.volumes.create("pyvol", labels={"via": "tls"})
        assert [x.name for x in c.volumes.list()] == ["pyvol"]
        # Detached, then wait and logs: the same requests as run(remove=True) without
        # its `logs --follow` race (a quick exit can leave the follow hanging, over the
        # unix socket as well: not a TLS matter, reported).
        ctr = c.containers.run("busybox", ["echo", "py over tls"], detach=True,
                               network_mode="none")
        assert ctr.wait(timeout=30)["StatusCode"] == 0
        assert ctr.logs() == b"py over tls\n"
        ctr.remove()
        v.remove()
    finally:
        c.close()
    assert tlsd.volumes() == []


def test_tls_orlop_cli_volume_ls_works(tlsd: TLSServer) -> None:
    res = tlsd.orlop("volume", "create", "ov")
    assert res.returncode == 0 and res.stdout == "ov\n", res.stderr
    res = tlsd.orlop("volume", "ls")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["DRIVER    VOLUME NAME", "local     ov"]
    # Docker's environment instead of flags: DOCKER_TLS_VERIFY + DOCKER_CERT_PATH.
    certdir = tlsd.server.dir / "certs"
    certdir.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(tlsd.certs.path(name), certdir / name)
    res = tlsd.orlop("volume", "ls", "-q", flags=[],
                     env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certdir)})
    assert res.returncode == 0, res.stderr
    assert res.stdout == "ov\n"
    res = tlsd.orlop("run", "--rm", "--network", "none", "busybox", "echo", "orlop tls")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "orlop tls\n"
    # Its stdin ends with a half-close of the hijacked TLS connection.
    res = tlsd.orlop("run", "--rm", "-i", "--network", "none", "busybox", "cat",
                     input="orlop stdin\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "orlop stdin\n"


def test_tls_orlop_client_hijack_half_close_keeps_output(tlsd: TLSServer) -> None:
    # What an attach with stdin does: upgrade the connection, send, half-close (the
    # TCP side: client/transport.HalfClosingSSLSocket), and read the echo back over TLS.
    from orlop.client import APIClient, TLSOptions

    cert, key = tlsd.certs.client
    api = APIClient(tlsd.tcp, TLSOptions(True, tlsd.certs.ca, cert, key), timeout=60)
    cid = api.create_container({
        "Image": "busybox", "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True,
        "AttachStdin": True, "AttachStdout": True,
        "HostConfig": {"NetworkMode": "none"}}, None)
    conn = api.connection(30)
    try:
        conn.request("POST", f"/v1.45/containers/{cid}/attach?stream=1&stdin=1&stdout=1",
                     headers={"Connection": "Upgrade", "Upgrade": "tcp"})
        resp = conn.getresponse()
        assert resp.status == 101
        assert isinstance(conn.sock, ssl.SSLSocket)
        api.start_container(cid)
        conn.sock.sendall(b"half closed\n")
        conn.sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := resp.fp.read1(65536):  # type: ignore[union-attr]
            out += chunk
    finally:
        conn.close()
    assert out == b"\x01\x00\x00\x00\x00\x00\x00\x0chalf closed\n"
    assert api.wait_container(cid) == 0
    api.remove_container(cid, force=True, volumes=True)


def test_tls_access_log_names_peer_by_certificate_subject(tlsd: TLSServer) -> None:
    assert tlsd.docker("volume", "ls").returncode == 0
    tlsd.server.raw("GET", "/volumes")
    # The access log line is written once the response is sent: the client may read the
    # answer before the server has logged it.
    deadline = time.monotonic() + 10
    while True:
        lines = tlsd.log().splitlines()
        tcp = [line for line in lines if '"GET /v1.' in line and "/volumes" in line
               and "127.0.0.1:" in line]
        unix = [line for line in lines if '"GET /volumes"' in line]
        if (tcp and unix) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert tcp and "CN=orlop-test-client" in tcp[-1], lines
    assert unix and "uid=0" in unix[-1], lines


# --- everybody else: refused before a request, nothing created ----------------------


def _raw_tls(tlsd: TLSServer, cert: tuple[str, str] | None) -> tuple[int, bytes] | str:
    """POST /volumes/create through Python's ssl with ``cert`` (or none): the response,
    or the error that stopped it."""
    ctx = ssl.create_default_context(cafile=tlsd.certs.ca)
    if cert:
        ctx.load_cert_chain(*cert)
    conn = http.client.HTTPSConnection("127.0.0.1", tlsd.port, context=ctx, timeout=10)
    try:
        conn.request("POST", "/volumes/create", body=b'{"Name": "sneaky"}',
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    except OSError as err:
        return repr(err)
    finally:
        conn.close()


def _refused(stderr: str, alert: str) -> bool:
    """The docker CLI's words for a refused handshake: the alert, or what it was doing
    when the server's close overtook the alert (TLS 1.3 sends the request first)."""
    return any(why in stderr for why in (alert, "reset", "use of closed network connection",
                                         "broken pipe", "EOF"))


def test_tls_client_without_certificate_is_refused(tlsd: TLSServer) -> None:
    res = tlsd.docker("volume", "create", "sneaky", flags=["--tlsverify", "--tlscacert",
                                                          tlsd.certs.ca])
    # The refusal comes as TLS 1.3's alert, or, when the server's close overtakes it, as
    # whatever the Go client was doing then: a reset, a write on the closed connection.
    assert res.returncode != 0
    assert _refused(res.stderr, "certificate required"), res.stderr
    res = tlsd.orlop("volume", "create", "sneaky",
                     flags=["--tlsverify", "--tlscacert", tlsd.certs.ca])
    assert res.returncode == 1
    assert ("remote error: tls: certificate required" in res.stderr
            or "closed the TLS connection before answering" in res.stderr), res.stderr
    assert "--tlscert" in res.stderr
    outcome = _raw_tls(tlsd, None)
    assert isinstance(outcome, str), outcome
    assert tlsd.volumes() == []
    assert "refused: PEER_DID_NOT_RETURN_A_CERTIFICATE" in tlsd.log()


def test_tls_client_certificate_from_another_ca_is_refused(tlsd: TLSServer) -> None:
    res = tlsd.docker("volume", "create", "sneaky", flags=tlsd.tls_flags(tlsd.certs.rogue))
    assert res.returncode != 0
    assert _refused(res.stderr, "unknown certificate authority"), res.stderr
    res = tlsd.orlop("volume", "create", "sneaky", flags=tlsd.tls_flags(tlsd.certs.rogue))
    assert res.returncode == 1
    assert ("remote error: tls: unknown ca" in res.stderr
            or "signed by the CA orlopd trusts?" in res.stderr), res.stderr
    outcome = _raw_tls(tlsd, tlsd.certs.rogue)
    assert isinstance(outcome, str), outcome
    assert tlsd.volumes() == []


def test_tls_plain_http_is_refused(tlsd: TLSServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tlsd.port, timeout=10)
    try:
        conn.request("POST", "/volumes/create", body=b'{"Name": "sneaky"}',
                     headers={"Content-Type": "application/json"})
        got: object = conn.getresponse().status
    except OSError as err:
        got = err
    finally:
        conn.close()
    assert isinstance(got, OSError), got
    res = tlsd.docker("volume", "create", "sneaky", flags=[])
    assert res.returncode != 0
    # orlop's own CLI does not even try plain TCP.
    res = tlsd.orlop("volume", "create", "sneaky", flags=[])
    assert res.returncode == 1
    assert "orlopd serves TCP only over TLS with client certificates" in res.stderr
    assert tlsd.volumes() == []


def test_tls_client_refuses_server_from_another_ca(tlsd: TLSServer) -> None:
    # The client verifies the server too: a CA that did not sign orlopd's certificate.
    rogue_ca = tlsd.certs.path("rogue-ca.pem")
    flags = ["--tlsverify", "--tlscacert", rogue_ca, "--tlscert", tlsd.certs.client[0],
             "--tlskey", tlsd.certs.client[1]]
    res = tlsd.orlop("volume", "ls", flags=flags)
    assert res.returncode == 1
    assert "tls: failed to verify the certificate" in res.stderr
    assert tlsd.docker("volume", "ls", flags=flags).returncode != 0


def test_tls_client_refuses_server_certificate_for_another_host(
        server_dir: Path, certs: Certs) -> None:
    # As the docker CLI does: the server certificate's SAN must name the host dialled.
    port = free_port()
    server = start_server(server_dir, *_tls_args(certs, port, "elsewhere-cert.pem",
                                                 "elsewhere-key.pem"))
    try:
        tls = TLSServer(server, certs, port)
        res = tls.orlop("volume", "ls")
        assert res.returncode == 1
        assert "failed to verify the certificate" in res.stderr
        assert "mismatch" in res.stderr or "elsewhere" in res.stderr, res.stderr
        res = tls.docker("volume", "ls")
        assert res.returncode != 0
        assert "elsewhere.example" in res.stderr or "certificate" in res.stderr
    finally:
        stop_server(server)


# --- orlopd's own refusals and where it binds ---------------------------------------


def _orlopd(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orlop.server.main", "--root",
                           str(base / "root"), *args], capture_output=True, text=True,
                          timeout=30, check=False)


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp{,6}) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                addr, _, hexport = fields[1].rpartition(":")
                if fields[3] == "0A" and int(hexport, 16) == port:
                    found.append(addr)
    return found


def test_tls_orlopd_refuses_plain_tcp_listener(server_dir: Path, certs: Certs) -> None:
    port = free_port()
    sock = server_dir / "plain.sock"
    res = _orlopd(server_dir, "-H", f"unix://{sock}", "-H", f"tcp://127.0.0.1:{port}")
    assert res.returncode == 1
    assert (f"refusing to listen on tcp://127.0.0.1:{port} without TLS client "
            "verification") in res.stderr
    assert "--tlsverify" in res.stderr and "--tlscacert" in res.stderr
    # Nothing was left listening: neither the port nor the socket asked with it.
    assert _listening(port) == []
    assert not sock.exists()
    # --tls alone (no client verification) is refused the same way.
    res = _orlopd(server_dir, "-H", f"tcp://127.0.0.1:{port}", "--tls", "--tlscert",
                  certs.path("server-cert.pem"), "--tlskey", certs.path("server-key.pem"))
    assert res.returncode == 1
    assert "--tls alone does not verify clients" in res.stderr
    # --tlsverify without the files: named in the message.
    res = _orlopd(server_dir, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                  "--tlscacert", str(server_dir / "missing-ca.pem"), "--tlscert",
                  certs.path("server-cert.pem"), "--tlskey", certs.path("server-key.pem"))
    assert res.returncode == 1
    assert f"--tlscacert {server_dir / 'missing-ca.pem'}: no such file" in res.stderr
    # A key that does not match the certificate.
    res = _orlopd(server_dir, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                  "--tlscacert", certs.ca, "--tlscert", certs.path("server-cert.pem"),
                  "--tlskey", certs.path("key.pem"))
    assert res.returncode == 1
    assert "cannot load the server's certificate and key" in res.stderr
    assert _listening(port) == []


def test_tls_listener_binds_only_where_asked(tlsd: TLSServer) -> None:
    assert _listening(tlsd.port) == ["0100007F"]  # 127.0.0.1, not 0.0.0.0 nor ::
