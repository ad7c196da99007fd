"""Hosts and TLS options, client side (orlop.client.transport) and server side
(orlop.server.main): parsing, Docker's defaults, the SSL contexts they make, and the
half-close of a TLS socket.  No root, no orlopd: certificates come from the openssl CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.client.tls import HalfClosingSSLSocket, client_context
from orlop.client.transport import (
    Endpoint,
    TLSOptions,
    connect,
    default_cert_path,
    parse_host,
    resolve_tls,
)
from orlop.errors import InvalidParameterError
from orlop.server.main import (
    ListenAddress,
    ServerTLS,
    SocketSetupError,
    bind_tcp_socket,
    certificate_subject,
    parse_listen_host,
    server_tls,
    server_tls_context,
    tls_protocol,
)
from testsupport import make_pki

TLS = TLSOptions(verify=True, cacert="/c/ca.pem", cert="/c/cert.pem", key="/c/key.pem")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ca.pem, server-cert.pem/server-key.pem (127.0.0.1), cert.pem/key.pem (client)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI")
    d = tmp_path_factory.mktemp("pki")
    make_pki(d, "unit-ca", "srv", "unit-client")
    yield d


# --- client: -H / DOCKER_HOST --------------------------------------------------------


def test_parse_host_unix_forms_give_unix_endpoints() -> None:
    assert parse_host("unix:///run/o.sock") == Endpoint("unix", "/run/o.sock")
    assert parse_host("/run/o.sock", TLS) == Endpoint("unix", "/run/o.sock")
    with pytest.raises(InvalidParameterError, match="no socket path"):
        parse_host("unix://")


def test_parse_host_tcp_with_tls_gives_tls_endpoint() -> None:
    ep = parse_host("tcp://127.0.0.1:12376", TLS)
    assert ep == Endpoint("tcp", "127.0.0.1:12376", TLS)
    assert ep.url == "tcp://127.0.0.1:12376"
    assert ep.host_port == ("127.0.0.1", 12376)


def test_parse_host_tcp_defaults_port_2376_and_keeps_ipv6_brackets() -> None:
    assert parse_host("tcp://example.org", TLS).address == "example.org:2376"
    ep = parse_host("tcp://[::1]:9999", TLS)
    assert ep.address == "[::1]:9999"
    assert ep.host_port == ("::1", 9999)


def test_parse_host_tcp_without_tls_is_refused_with_the_flags_to_add() -> None:
    with pytest.raises(InvalidParameterError, match="only over TLS") as exc:
        parse_host("tcp://127.0.0.1:2376")
    assert "--tlsverify" in str(exc.value) and "DOCKER_TLS_VERIFY" in str(exc.value)


@pytest.mark.parametrize("host", ["http://127.0.0.1:2376", "https://h:1", "ssh://h",
                                  "fd://", "127.0.0.1:2376"])
def test_parse_host_other_schemes_are_unsupported(host: str) -> None:
    with pytest.raises(InvalidParameterError, match="unsupported host"):
        parse_host(host, TLS)


@pytest.mark.parametrize("host", ["tcp://h:notaport", "tcp://h:2376/path",
                                  "tcp://u@h:2376", "tcp://h:99999"])
def test_parse_host_malformed_tcp_is_invalid(host: str) -> None:
    with pytest.raises(InvalidParameterError, match="invalid host"):
        parse_host(host, TLS)


# --- client: Docker's TLS flags and environment --------------------------------------


def test_resolve_tls_nothing_asked_is_no_tls(tmp_path: Path) -> None:
    assert resolve_tls(environ={"DOCKER_CERT_PATH": str(tmp_path)}) is None
    assert resolve_tls(environ={"DOCKER_TLS_VERIFY": ""}) is None


def test_resolve_tls_verify_env_uses_cert_path_defaults(tmp_path: Path) -> None:
    for name in ("cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    assert resolve_tls(environ=env) == TLSOptions(
        verify=True, cacert=str(tmp_path / "ca.pem"), cert=str(tmp_path / "cert.pem"),
        key=str(tmp_path / "key.pem"))


def test_resolve_tls_verify_env_any_nonempty_value_enables_it_as_docker() -> None:
    opts = resolve_tls(environ={"DOCKER_TLS_VERIFY": "0", "DOCKER_CERT_PATH": "/nowhere"})
    assert opts is not None and opts.verify


def test_resolve_tls_missing_default_client_cert_is_dropped_explicit_kept(
        tmp_path: Path) -> None:
    opts = resolve_tls(verify=True, environ={"DOCKER_CERT_PATH": str(tmp_path)})
    assert opts == TLSOptions(True, str(tmp_path / "ca.pem"), None, None)
    opts = resolve_tls(verify=True, cert="/x/c.pem", key="/x/k.pem", cacert="/x/ca.pem",
                       environ={"DOCKER_CERT_PATH": str(tmp_path)})
    assert opts == TLSOptions(True, "/x/ca.pem", "/x/c.pem", "/x/k.pem")


def test_resolve_tls_flag_tls_alone_does_not_verify() -> None:
    opts = resolve_tls(tls=True, environ={"DOCKER_CERT_PATH": "/nowhere"})
    assert opts is not None and not opts.verify


def test_default_cert_path_follows_docker_config_then_home(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_cert_path({"DOCKER_CERT_PATH": "/a", "DOCKER_CONFIG": "/b"}) == "/a"
    assert default_cert_path({"DOCKER_CONFIG": "/b"}) == "/b"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cert_path({}) == str(tmp_path / ".docker")


# --- client: the SSL context ---------------------------------------------------------


def test_client_context_verifies_server_and_presents_certificate(pki: Path) -> None:
    ctx = client_context(TLSOptions(True, str(pki / "ca.pem"), str(pki / "cert.pem"),
                                    str(pki / "key.pem")))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.sslsocket_class is HalfClosingSSLSocket


def test_client_context_tls_without_verify_skips_server_check(pki: Path) -> None:
    ctx = client_context(TLSOptions(False, None, str(pki / "cert.pem"),
                                    str(pki / "key.pem")))
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


def test_client_context_bad_files_are_named(tmp_path: Path, pki: Path) -> None:
    with pytest.raises(InvalidParameterError,
                       match=f'Could not read CA certificate "{tmp_path}/ca.pem"'):
        client_context(TLSOptions(True, str(tmp_path / "ca.pem")))
    with pytest.raises(InvalidParameterError, match="go together"):
        client_context(TLSOptions(True, str(pki / "ca.pem"), str(pki / "cert.pem"), None))
    with pytest.raises(InvalidParameterError, match="Could not load X509 key pair"):
        client_context(TLSOptions(True, str(pki / "ca.pem"), str(pki / "cert.pem"),
                                  str(pki / "server-key.pem")))


def test_connect_tcp_endpoint_is_https_to_host_and_port(pki: Path) -> None:
    tls = TLSOptions(True, str(pki / "ca.pem"), str(pki / "cert.pem"), str(pki / "key.pem"))
    conn = connect(parse_host("tcp://127.0.0.1:12376", tls), 5)
    assert (conn.host, conn.port) == ("127.0.0.1", 12376)
    assert conn.__class__.__name__ == "TLSHTTPConnection"


class _AnswerAfterEOF(asyncio.Protocol):
    """Reads the client's input to its end, then answers and closes (what an attach
    does with stdin, then the container's output)."""

    def __init__(self, got: list[bytes]) -> None:
        self.got = got
        self.data = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.got.append(self.data)
        assert self.transport is not None
        self.transport.write(b"answer after EOF")
        self.transport.close()
        return True  # keep our side open: the answer must go out


def _close_notify_client(ctx: ssl.SSLContext, port: int) -> bytes:
    """Go's ``tls.Conn.CloseWrite`` (the docker CLI's half-close) done with OpenSSL
    over memory BIOs: send, send close_notify, then read the answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")

    def flush() -> None:
        if data := outgoing.read():
            raw.sendall(data)

    def fill() -> bool:
        data = raw.recv(65536)
        if not data:
            incoming.write_eof()
        incoming.write(data)
        return bool(data)

    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                fill()
        tls.write(b"input")
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.unwrap()
        flush()
        reply = b""
        while True:
            try:
                chunk = tls.read(100)
            except ssl.SSLWantReadError:
                if not fill():
                    break
                continue
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            reply += chunk
        return reply
    finally:
        raw.close()


@pytest.mark.parametrize("half_close", ["tcp", "close_notify"])
def test_half_close_over_tls_keeps_the_server_answer(pki: Path, half_close: str) -> None:
    # The client half-closes (TCP FIN from HalfClosingSSLSocket, or the close_notify the
    # docker CLI sends) and still reads the server's answer: orlopd's TLS protocol keeps
    # its side open when the application asks, as on a plain socket.
    server_ctx = server_tls_context(ServerTLS(str(pki / "ca.pem"),
                                              str(pki / "server-cert.pem"),
                                              str(pki / "server-key.pem")))
    listener = bind_tcp_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    got: list[bytes] = []
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)

        def factory() -> asyncio.BaseProtocol:
            return tls_protocol(loop, _AnswerAfterEOF(got), server_ctx)

        server = loop.run_until_complete(loop.create_server(factory, sock=listener))
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    t = threading.Thread(target=serve)
    t.start()
    started.wait(10)
    ctx = client_context(TLSOptions(True, str(pki / "ca.pem"), str(pki / "cert.pem"),
                                    str(pki / "key.pem")))
    try:
        if half_close == "tcp":
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.sendall(b"input")
                sock.shutdown(socket.SHUT_WR)
                reply = b""
                while chunk := sock.recv(100):
                    reply += chunk
        else:
            reply = _close_notify_client(ctx, port)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
    assert got == [b"input"]
    assert reply == b"answer after EOF"


# --- server: -H and the TLS it requires ----------------------------------------------


def test_parse_listen_host_forms() -> None:
    assert parse_listen_host("unix:///run/o.sock") == ListenAddress("unix", path="/run/o.sock")
    assert parse_listen_host("/run/o.sock") == ListenAddress("unix", path="/run/o.sock")
    assert parse_listen_host("tcp://127.0.0.1:1234") == ListenAddress(
        "tcp", host="127.0.0.1", port=1234)
    assert parse_listen_host("tcp://:1234") == ListenAddress("tcp", host="localhost",
                                                             port=1234)
    assert parse_listen_host("tcp://10.0.0.1").port == 2376
    assert parse_listen_host("tcp://[::1]:5").url == "tcp://[::1]:5"


@pytest.mark.parametrize("host", ["http://h:1", "fd://", "h:1", "unix://", "tcp://h:x",
                                  "tcp://h:1/p"])
def test_parse_listen_host_refuses_what_it_cannot_serve(host: str) -> None:
    with pytest.raises(SocketSetupError):
        parse_listen_host(host)


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"tls": False, "tlsverify": False, "tlscacert": None,
                               "tlscert": None, "tlskey": None}
    return argparse.Namespace(**{**base, **kw})


TCP = [ListenAddress("tcp", host="127.0.0.1", port=2376)]


def test_server_tls_unix_only_needs_none() -> None:
    assert server_tls(_args(), []) is None


def test_server_tls_plain_tcp_is_refused_with_the_reason() -> None:
    with pytest.raises(SocketSetupError, match=r"refusing to listen on "
                       r"tcp://127\.0\.0\.1:2376 without TLS client verification") as exc:
        server_tls(_args(), TCP)
    assert "--tlsverify" in str(exc.value) and "--tlscacert" in str(exc.value)
    with pytest.raises(SocketSetupError, match="--tls alone does not verify clients"):
        server_tls(_args(tls=True), TCP)


def test_server_tls_files_default_to_cert_path_and_must_exist(tmp_path: Path) -> None:
    env = {"DOCKER_CERT_PATH": str(tmp_path)}
    with pytest.raises(SocketSetupError, match=f"--tlscacert {tmp_path}/ca.pem: no such"):
        server_tls(_args(tlsverify=True), TCP, env)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    assert server_tls(_args(tlsverify=True), TCP, env) == ServerTLS(
        str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_server_tls_context_requires_client_certificates(pki: Path) -> None:
    ctx = server_tls_context(ServerTLS(str(pki / "ca.pem"), str(pki / "server-cert.pem"),
                                       str(pki / "server-key.pem")))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_server_tls_context_mismatched_key_is_refused(pki: Path) -> None:
    with pytest.raises(SocketSetupError, match="cannot load the server's certificate"):
        server_tls_context(ServerTLS(str(pki / "ca.pem"), str(pki / "server-cert.pem"),
                                     str(pki / "key.pem")))


def test_bind_tcp_socket_binds_the_address_asked() -> None:
    sock = bind_tcp_socket("127.0.0.1", 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_certificate_subject_short_names() -> None:
    cert = {"subject": ((("commonName", "alice"),), (("organizationName", "Ex"),))}
    assert certificate_subject(cert) == "CN=alice,O=Ex"
    assert certificate_subject(None) == "-"
