"""Registry requests honour HTTP(S)_PROXY and NO_PROXY as dockerd does (Go's rule:
loopback registries never go through a proxy)."""

from __future__ import annotations

import socket
import threading

import pytest

from orlop.distribution.http import Transport, proxy_for
from orlop.distribution.settings import RegistrySettings
from orlop.errors import RegistryError

_VARS = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for v in _VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    return monkeypatch


def test_proxy_by_scheme_no_proxy_and_loopback(env: pytest.MonkeyPatch) -> None:
    assert proxy_for("https", "registry-1.docker.io") is None
    env.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    env.setenv("HTTP_PROXY", "proxy.example")
    assert proxy_for("https", "registry-1.docker.io") == ("127.0.0.1", 3128)
    assert proxy_for("http", "reg.example:5000") == ("proxy.example", 80)
    for host in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000"):
        assert proxy_for("https", host) is None
    env.setenv("NO_PROXY", "internal.example,.corp")
    assert proxy_for("https", "internal.example:443") is None
    assert proxy_for("https", "reg.corp") is None
    assert proxy_for("https", "reg.example") == ("127.0.0.1", 3128)
    env.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(RegistryError, match="unsupported proxy"):
        proxy_for("https", "reg.example")


def test_plain_http_goes_to_the_proxy_with_the_whole_url(env: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            seen.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    t = threading.Thread(target=serve)
    t.start()
    env.setenv("HTTP_PROXY", f"http://127.0.0.1:{srv.getsockname()[1]}")
    tr = Transport(RegistrySettings())
    try:
        resp = tr.request("GET", "http://reg.example:5000/v2/?x=1")
        assert resp.status == 200 and resp.read(10) == b"ok"
        resp.close()
    finally:
        tr.close()
        t.join(5)
        srv.close()
    assert seen[0].startswith(b"GET http://reg.example:5000/v2/?x=1 HTTP/1.1\r\n")


def test_a_dead_proxy_fails_at_once_naming_it(env: pytest.MonkeyPatch) -> None:
    env.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    tr = Transport(RegistrySettings())
    with pytest.raises(RegistryError) as exc:
        tr.request("GET", "https://registry-1.docker.io/v2/")
    assert str(exc.value) == ('Get "https://registry-1.docker.io/v2/": proxyconnect tcp: '
                              "dial tcp 127.0.0.1:9: connect: connection refused")
