"""How the client reaches orlopd: HTTP/1.1 over AF_UNIX with the standard library
(docker-py ``transport/unixconn.py``), or over TCP with TLS (HTTPS).

``Endpoint`` is the parsed ``-H``/``DOCKER_HOST`` value plus the TLS options; every
request opens its connection through :func:`connect`, so the rest of the client does not
care which transport it rides on: a TLS connection is an ``http.client.HTTPSConnection``,
whose ``sock`` reads, writes and half-closes (``shutdown(SHUT_WR)``) like the unix one,
so streams and hijacked connections work unchanged.

orlopd never serves plain TCP (it requires client certificates), so a ``tcp://`` host
without TLS is refused here with a message saying which flags to add, rather than sent
in clear to be refused by the server.
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orlop.errors import InvalidParameterError, SystemFailureError

DEFAULT_TLS_PORT = 2376  # Docker's port for the API over TLS


@dataclass(frozen=True)
class TLSOptions:
    """Docker's client TLS flags: ``--tls``, ``--tlsverify``, ``--tlscacert``,
    ``--tlscert``, ``--tlskey`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).

    ``verify`` False is Docker's ``--tls`` alone: encrypted, the client certificate
    presented, but the server's certificate not checked."""

    verify: bool = True
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None


def default_cert_path(environ: Mapping[str, str] | None = None) -> str:
    """``$DOCKER_CERT_PATH``, else the docker CLI's config directory (``$DOCKER_CONFIG``,
    else ``~/.docker``), as the docker CLI resolves it."""
    env = os.environ if environ is None else environ
    return (env.get("DOCKER_CERT_PATH") or env.get("DOCKER_CONFIG")
            or os.path.join(os.path.expanduser("~"), ".docker"))


def resolve_tls(*, tls: bool = False, verify: bool = False, cacert: str | None = None,
                cert: str | None = None, key: str | None = None,
                environ: Mapping[str, str] | None = None) -> TLSOptions | None:
    """The docker CLI's TLS resolution (``cli/flags.ClientOptions.SetDefaultOptions``).

    ``--tlsverify``, or any non-empty ``DOCKER_TLS_VERIFY`` (even "0", as in Docker),
    turns TLS on and verifies the server; ``--tls`` alone turns TLS on without
    verification.  Unset paths default to ``ca.pem``, ``cert.pem`` and ``key.pem`` in
    :func:`default_cert_path`; a default client certificate or key that does not exist
    is dropped (an explicit one must exist).  None: no TLS."""
    env = os.environ if environ is None else environ
    verify = verify or bool(env.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify):
        return None
    base = default_cert_path(env)

    def default(name: str) -> str | None:
        path = os.path.join(base, name)
        return path if os.path.exists(path) else None

    return TLSOptions(verify=verify,
                      cacert=cacert or os.path.join(base, "ca.pem"),
                      cert=cert or default("cert.pem"),
                      key=key or default("key.pem"))


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "unix" or "tcp"
    address: str  # socket path, or host:port
    tls: TLSOptions | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    @property
    def host_port(self) -> tuple[str, int]:
        """Host (brackets of an IPv6 literal removed) and port of a tcp endpoint."""
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` whose socket is a unix socket at ``path``."""

    def __init__(self, path: str, timeout: float | None = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class HalfClosingSSLSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose ``shutdown(SHUT_WR)`` half-closes as a plain socket's does,
    so that a hijacked ``attach``/``exec`` ends the container's input the same way over
    unix or TLS and keeps reading its output.

    The stock ``SSLSocket.shutdown`` drops the TLS state first: what follows is read as
    raw ciphertext.  ``unwrap()`` would send the ``close_notify`` that Go's
    ``tls.Conn.CloseWrite`` (the docker CLI) sends, but its second ``SSL_shutdown``
    discards whatever the server had sent and we had not read yet.  So only the TCP side
    is shut; orlopd takes that FIN as the end of input (server/main.py) as it takes the
    docker CLI's ``close_notify``."""

    def shutdown(self, how: int) -> None:
        if how == socket.SHUT_WR:
            socket.socket.shutdown(self, how)
            return
        super().shutdown(how)


class TLSHTTPConnection(http.client.HTTPSConnection):
    """HTTPS to orlopd; a failed handshake is an error that says what failed (not
    'is orlopd running?', which is what an ``OSError`` from here would become)."""

    def __init__(self, endpoint: Endpoint, context: ssl.SSLContext,
                 timeout: float | None) -> None:
        host, port = endpoint.host_port
        super().__init__(host, port, timeout=timeout, context=context)
        self.endpoint = endpoint

    def connect(self) -> None:
        try:
            super().connect()
        except ssl.SSLCertVerificationError as err:
            raise SystemFailureError(
                f"error during connect: tls: failed to verify the certificate of "
                f"{self.endpoint.url}: {err.verify_message}") from None
        except ssl.SSLError as err:
            raise SystemFailureError(
                f"error during connect: tls handshake with {self.endpoint.url} failed: "
                f"{err.reason or err}") from None

    # With TLS 1.3 the server judges the client's certificate after the client's side
    # of the handshake is done: its refusal arrives on the first write or read of the
    # request, as an alert or (when the reset overtakes the alert) as a dropped
    # connection, so those are where it is turned into a readable error.
    def request(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().request(*args, **kwargs)
        except (ssl.SSLError, ConnectionError) as err:
            raise self._dropped(err) from None

    def getresponse(self) -> http.client.HTTPResponse:
        try:
            return super().getresponse()
        except (ssl.SSLError, ConnectionError) as err:
            raise self._dropped(err) from None

    def _dropped(self, err: OSError) -> SystemFailureError:
        """Docker's ``remote error: tls: certificate required`` wording, and what to do."""
        url = self.endpoint.url
        has_cert = self.endpoint.tls is not None and bool(self.endpoint.tls.cert)
        reason = str(err.reason or err) if isinstance(err, ssl.SSLError) else ""
        if "ALERT_" in reason:
            text = reason.split("ALERT_", 1)[1].replace("_", " ").lower()
            hint = ""
            if "CERTIFICATE_REQUIRED" in reason:
                hint = (" (orlopd accepts only clients with a certificate signed by its CA: "
                        "give --tlscert and --tlskey)")
            elif "UNKNOWN_CA" in reason or "BAD_CERTIFICATE" in reason:
                hint = " (the client certificate is not signed by the CA orlopd trusts)"
            return SystemFailureError(
                f"error during connect: {url}: remote error: tls: {text}{hint}")
        hint = ("is the client certificate signed by the CA orlopd trusts?" if has_cert else
                "orlopd accepts only clients with a certificate signed by its CA: give "
                "--tlscert and --tlskey")
        return SystemFailureError(
            f"error during connect: {url} closed the TLS connection before answering "
            f"({hint}): {reason or err.strerror or err}")


def parse_host(host: str, tls: TLSOptions | None = None) -> Endpoint:
    """``unix:///run/orlop/orlop.sock`` (or a bare absolute path) -> a unix endpoint;
    ``tcp://host[:port]`` (port 2376 by default) with ``tls`` -> a TLS endpoint."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path:
            raise InvalidParameterError(f"invalid host {host!r}: no socket path")
        return Endpoint("unix", path)
    if host.startswith("/"):
        return Endpoint("unix", host)
    if host.startswith("tcp://"):
        try:
            parts = urllib.parse.urlsplit(host)
            port = parts.port or DEFAULT_TLS_PORT
        except ValueError as err:
            raise InvalidParameterError(f"invalid host {host!r}: {err}") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise InvalidParameterError(f"invalid host {host!r}: expected tcp://host:port")
        name = parts.hostname or "localhost"
        if tls is None:
            raise InvalidParameterError(
                f"{host}: orlopd serves TCP only over TLS with client certificates; use "
                "--tlsverify (or DOCKER_TLS_VERIFY=1) with --tlscacert, --tlscert and "
                "--tlskey (default ca.pem, cert.pem, key.pem in $DOCKER_CERT_PATH)")
        address = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        return Endpoint("tcp", address, tls)
    raise InvalidParameterError(
        f"unsupported host {host!r}: expected unix:///path or tcp://host:port (with TLS)")


@functools.lru_cache(maxsize=8)
def client_context(tls: TLSOptions) -> ssl.SSLContext:
    """The client side of the mutual TLS, built once per option set (loading the CA and
    key costs more than a request): TLS >= 1.2, the server verified against the CA with
    its certificate's SAN matching the host (Go's ``tls`` checks, which the docker CLI
    uses), the client certificate presented."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.sslsocket_class = HalfClosingSSLSocket
    if tls.verify:
        if not tls.cacert:
            raise InvalidParameterError("--tlsverify needs a CA certificate (--tlscacert)")
        try:
            ctx.load_verify_locations(cafile=tls.cacert)
        except (OSError, ssl.SSLError) as err:
            raise InvalidParameterError(
                f'Could not read CA certificate "{tls.cacert}": {_why(err)}') from None
    else:  # Docker's --tls without --tlsverify
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert or tls.key:
        if not (tls.cert and tls.key):
            raise InvalidParameterError(
                "Could not load X509 key pair: --tlscert and --tlskey go together (cert "
                f"{tls.cert or 'missing'}, key {tls.key or 'missing'})")
        try:
            ctx.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as err:
            raise InvalidParameterError(
                f"Could not load X509 key pair ({tls.cert}, {tls.key}): {_why(err)}"
            ) from None
    return ctx


def _why(err: Exception) -> str:
    if isinstance(err, ssl.SSLError):
        return str(err.reason or err)
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return str(err)


def connect(endpoint: Endpoint, timeout: float | None) -> http.client.HTTPConnection:
    """A new, not yet connected, HTTP connection to ``endpoint``."""
    if endpoint.scheme == "unix":
        return UnixHTTPConnection(endpoint.address, timeout)
    if endpoint.scheme == "tcp" and endpoint.tls is not None:
        return TLSHTTPConnection(endpoint, client_context(endpoint.tls), timeout)
    raise InvalidParameterError(f"unsupported endpoint {endpoint.url}")
