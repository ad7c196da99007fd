"""The TLS half of the transport: the client's ``SSLContext`` (server checked against the
CA, client certificate presented) and the HTTPS connection to orlopd.  Apart from
transport.py so that the ``ssl`` module (~10 ms to import) loads only for ``tcp://``."""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
from typing import TYPE_CHECKING, Any

from orlop.client.tlsoptions import TLSOptions
from orlop.errors import InvalidParameterError, SystemFailureError

if TYPE_CHECKING:
    from orlop.client.transport import Endpoint


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
