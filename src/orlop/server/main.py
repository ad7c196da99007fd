"""``orlopd``: serve the Docker Engine API on a unix socket, and on TCP with mutual TLS.

The socket is made as moby's ``listenUnix`` does (security-principles §4 F1): bound,
then its mode set to 0 before ``chown``/``chmod 0660`` and only then ``listen``, so no
other user can connect in between; an existing path is replaced only if it is a socket;
its directory must not be writable by group or others.

A TCP listener (``-H tcp://host:port``, dockerd's flags) is opened only with
``--tlsverify`` and a CA, certificate and key: TLS >= 1.2 and ``CERT_REQUIRED``, so a
peer without a certificate signed by that CA fails the handshake and never gets to send
a request.  The API is root on this host (it runs containers with any mount): plain TCP,
or TLS without client verification, would hand that to anyone who can reach the port,
which is why dockerd's "warn and continue" is refused here (docs/differences.md).
``-H`` repeats, so one server serves its socket and a TCP port at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import logging
import os
import signal
import socket
import ssl
import stat
import struct
import sys
import urllib.parse
from asyncio import sslproto
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orlop.config import EngineConfig

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("orlopd")
access_log = logging.getLogger("orlopd.access")

DEFAULT_SOCKET = "/run/orlop/orlop.sock"
DEFAULT_TLS_PORT = 2376  # dockerd's port for the API over TLS
# An unauthenticated peer may hold a connection only this long before its handshake
# is done (asyncio's default is 60 s).
TLS_HANDSHAKE_TIMEOUT = 10.0


class SocketSetupError(Exception):
    pass


@dataclass(frozen=True)
class ListenAddress:
    """One ``-H`` value: a unix socket path, or a TCP host and port."""

    scheme: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    @property
    def url(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


def parse_listen_host(host: str) -> ListenAddress:
    """``unix:///path`` (or ``/path``) or ``tcp://host:port``; ``tcp://:port`` means
    localhost, as for dockerd, and the port defaults to 2376 (TLS is mandatory)."""
    if host.startswith("unix://"):
        if not host[len("unix://"):]:
            raise SocketSetupError(f"invalid host {host!r}: no socket path")
        return ListenAddress("unix", path=host[len("unix://"):])
    if host.startswith("/"):
        return ListenAddress("unix", path=host)
    if host.startswith("tcp://"):
        try:
            parts = urllib.parse.urlsplit(host)
            port = parts.port
        except ValueError as err:
            raise SocketSetupError(f"invalid host {host!r}: {err}") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise SocketSetupError(f"invalid host {host!r}: expected tcp://host:port")
        return ListenAddress("tcp", host=parts.hostname or "localhost",
                             port=DEFAULT_TLS_PORT if port is None else port)
    raise SocketSetupError(
        f"unsupported host {host!r}: orlopd listens on unix:///path or, with "
        "--tlsverify, tcp://host:port")


@dataclass(frozen=True)
class ServerTLS:
    """dockerd's ``--tlscacert``/``--tlscert``/``--tlskey``: the CA that client
    certificates must chain to, and the server's own certificate and key."""

    cacert: str
    cert: str
    key: str


def server_tls(args: argparse.Namespace, tcp: Sequence[ListenAddress],
               environ: Mapping[str, str] | None = None) -> ServerTLS | None:
    """The TLS settings for the TCP listeners, or why there cannot be any.

    Paths not given default, as dockerd's do, to ``ca.pem``, ``cert.pem`` and
    ``key.pem`` in ``$DOCKER_CERT_PATH`` (else ``~/.docker``); each must exist."""
    if not tcp:
        return None
    where = ", ".join(a.url for a in tcp)
    if not args.tlsverify:
        why = ("--tls alone does not verify clients" if args.tls else
               "plain TCP would give the API (root on this host) to anyone who can "
               "reach the port")
        raise SocketSetupError(
            f"refusing to listen on {where} without TLS client verification ({why}): "
            "add --tlsverify with --tlscacert (the CA that signs client certificates), "
            "--tlscert and --tlskey (the server's certificate and key)")
    env = os.environ if environ is None else environ
    base = env.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
    paths = {"--tlscacert": args.tlscacert or os.path.join(base, "ca.pem"),
             "--tlscert": args.tlscert or os.path.join(base, "cert.pem"),
             "--tlskey": args.tlskey or os.path.join(base, "key.pem")}
    for flag, path in paths.items():
        if not os.path.isfile(path):
            raise SocketSetupError(
                f"{where} needs TLS client verification: {flag} {path}: no such file "
                "(give --tlscacert, --tlscert and --tlskey, or put ca.pem, cert.pem and "
                "key.pem in $DOCKER_CERT_PATH)")
    return ServerTLS(paths["--tlscacert"], paths["--tlscert"], paths["--tlskey"])


def server_tls_context(tls: ServerTLS) -> ssl.SSLContext:
    """TLS >= 1.2, server side, a client certificate required and chained to the CA
    (only that CA: the system's trust store is not loaded)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cafile=tls.cacert)
    except (OSError, ssl.SSLError) as err:
        raise SocketSetupError(f"--tlscacert {tls.cacert}: cannot load the CA: "
                               f"{_why(err)}") from None
    try:
        ctx.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as err:
        raise SocketSetupError(f"--tlscert {tls.cert} / --tlskey {tls.key}: cannot load "
                               f"the server's certificate and key: {_why(err)}") from None
    return ctx


def _why(err: Exception) -> str:
    if isinstance(err, ssl.SSLError):
        return str(err.reason or err)
    return (err.strerror if isinstance(err, OSError) and err.strerror else str(err))


def bind_unix_socket(path: str, *, group: str | None = "root", mode: int = 0o660,
                     backlog: int = 512) -> socket.socket:
    """A listening AF_UNIX socket at ``path`` with ``mode`` and ``root:group``."""
    parent = os.path.dirname(os.path.abspath(path)) or "/"
    os.makedirs(parent, mode=0o755, exist_ok=True)
    pst = os.stat(parent)
    if pst.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not pst.st_mode & stat.S_ISVTX:
        raise SocketSetupError(f"refusing to create the API socket in {parent}: the "
                               "directory is writable by group or others")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise SocketSetupError(f"{path} exists and is not a socket: not replacing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody listens
        else:
            raise SocketSetupError(f"another server is listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0)
        gid = grp.getgrnam(group).gr_gid if group else os.getgid()
        os.chown(path, 0 if os.geteuid() == 0 else -1, gid)
        os.chmod(path, mode & 0o770)  # never world-accessible
        sock.listen(backlog)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    sock.setblocking(False)
    return sock


def bind_tcp_socket(host: str, port: int, *, backlog: int = 512) -> socket.socket:
    """A listening TCP socket on the first address ``host`` resolves to, and only there
    (``localhost`` is one loopback address, not every interface)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise SocketSetupError(f"cannot resolve {host!r}: {err.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise SocketSetupError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.setblocking(False)
    return sock


@dataclass
class Listener:
    """A bound socket and, for TCP, the TLS context its connections go through."""

    address: ListenAddress
    sock: socket.socket
    tls: ssl.SSLContext | None = None


def peer_credentials(sock: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) of a unix-socket peer (SO_PEERCRED), for the access log."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", data)
    return pid, uid, gid


def certificate_subject(cert: Mapping[str, Any] | None) -> str:
    """``CN=alice,O=example`` from ``SSLSocket.getpeercert()``'s nested tuples."""
    if not cert:
        return "-"
    return ",".join(f"{_RDN_SHORT.get(k, k)}={v}"
                    for rdn in cert.get("subject", ()) for k, v in rdn)


_RDN_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
              "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}


def peer_identity(transport: asyncio.BaseTransport | None) -> str:
    """Who is on the other end: ``pid= uid= gid=`` on the unix socket (SO_PEERCRED),
    ``address:port CN=...`` on TCP, where the verified certificate is the identity."""
    if transport is None:
        return "-"
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            pid, uid, gid = peer_credentials(sock)
        except OSError:
            return "unix"
        return f"pid={pid} uid={uid} gid={gid}"
    peer = transport.get_extra_info("peername") or ("?", 0)
    host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
    return f"{host}:{peer[1]} {certificate_subject(transport.get_extra_info('peercert'))}"


def _access_logger_class() -> type[Any]:
    from aiohttp.abc import AbstractAccessLogger

    class PeerAccessLogger(AbstractAccessLogger):
        """One line per request at debug level (``--log-level debug``), naming the peer
        by :func:`peer_identity`."""

        @property
        def enabled(self) -> bool:
            return self.logger.isEnabledFor(logging.DEBUG)

        def log(self, request: web.BaseRequest, response: web.StreamResponse,
                time: float) -> None:
            self.logger.debug("%s \"%s %s\" %s %.3fs", peer_identity(request.transport),
                              request.method, request.path_qs, response.status, time)

    return PeerAccessLogger


class HalfCloseTLSProtocol(sslproto.SSLProtocol):
    """asyncio's server-side TLS, except that a client's ``close_notify`` ends only its
    half of the connection when the application protocol asks so (``eof_received``
    returning True), as on a plain socket: the docker CLI's ``close_notify`` and the
    TCP-level half-close of Python clients alike.

    The docker CLI half-closes a hijacked ``attach``/``exec`` connection when its stdin
    ends (at once without ``-i``) with Go's ``tls.Conn.CloseWrite``: a ``close_notify``
    on a TCP connection it keeps reading from.  Stock asyncio answers it by shutting the
    whole connection down (and warns that returning True "has no effect when using
    ssl"), so ``docker run busybox echo`` over TLS would lose its output.  The rest of
    the protocol is asyncio's; only the private hooks below are replaced (checked by
    :func:`_half_close_supported`), with the stock behaviour kept when the application
    did not ask to stay open, which is every request but a hijacked attach/exec.  A
    refused handshake is also logged, with its reason, and its alert sent.
    """

    _peer_write_closed = False

    # typeshed describes little of SSLProtocol's private side: ``me`` (self as Any)
    # reaches it.

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        me: Any = self
        if handshake_exc is not None and me._transport is not None:
            # Say why (a client without a certificate, or with one from another CA),
            # and send OpenSSL's alert before asyncio aborts the connection, so that
            # the client can report it instead of "connection reset".
            peer = me._transport.get_extra_info("peername") or ("?", 0)
            log.info("TLS connection from %s:%s refused: %s", peer[0], peer[1],
                     getattr(handshake_exc, "reason", None) or handshake_exc)
            with contextlib.suppress(Exception):
                alert = me._outgoing.read()
                if alert:
                    me._transport.write(alert)
        super()._on_handshake_complete(handshake_exc)

    def eof_received(self) -> Any:
        # A TCP FIN without close_notify: a Python client's half-close (the ssl module
        # cannot send close_notify alone without discarding what it has not read yet;
        # see orlop.client.transport.HalfClosingSSLSocket).  Honoured like close_notify
        # when the application keeps its output flowing; a truncation is then no worse
        # than a reset, which ends the client's input just the same.
        me: Any = self
        wrapped = sslproto.SSLProtocolState.WRAPPED
        if me._state == wrapped and not me._app_reading_paused:
            me._do_read()  # what arrived before the FIN goes first
            if me._state == wrapped:
                self._call_eof_received()
                if self._peer_write_closed:
                    # No close_notify exchange to wait for when we close in turn.
                    me._eof_received = True
                    return True
        return super().eof_received()

    def _call_eof_received(self) -> None:
        # asyncio's own, but keeping the protocol's answer.
        me: Any = self
        try:
            if me._app_state == sslproto.AppProtocolState.STATE_CON_MADE:
                me._app_state = sslproto.AppProtocolState.STATE_EOF
                if me._app_protocol.eof_received():
                    self._peer_write_closed = True
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            me._fatal_error(exc, "Error calling eof_received()")

    def _start_shutdown(self) -> None:
        me: Any = self
        app_transport = me._app_transport
        if self._peer_write_closed and app_transport is not None \
                and not app_transport._closed:
            return  # the client is done sending; our side stays open until we close it
        super()._start_shutdown()


def tls_protocol(loop: asyncio.AbstractEventLoop, app: asyncio.BaseProtocol,
                 context: ssl.SSLContext) -> asyncio.BaseProtocol:
    """A server-side :class:`HalfCloseTLSProtocol` around ``app``, as asyncio's
    ``create_server(ssl=...)`` makes its own (typeshed's signature is narrower than
    asyncio's: no waiter, a float timeout)."""
    make: Any = HalfCloseTLSProtocol
    protocol: asyncio.BaseProtocol = make(loop, app, context, None, server_side=True,
                                          ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
    return protocol


def _half_close_supported() -> bool:
    """The hooks :class:`HalfCloseTLSProtocol` replaces exist in this Python (3.11+)."""
    return all(hasattr(sslproto.SSLProtocol, name) for name in (
        "_call_eof_received", "_start_shutdown", "_fatal_error", "_on_handshake_complete",
        "_do_read")) and all(hasattr(sslproto, name) for name in (
            "AppProtocolState", "SSLProtocolState"))


def _site(runner: web.AppRunner, listener: Listener,
          header_timeout: float) -> web.BaseSite:
    """aiohttp's ``SockSite``, each connection's protocol wrapped in
    :class:`~orlop.server.deadlines.HeaderDeadline` (a request head within
    ``header_timeout``) and, on TCP, in :class:`HalfCloseTLSProtocol` rather than
    asyncio's stock TLS protocol."""
    from aiohttp import web

    from orlop.server import deadlines

    tls = listener.tls
    half_close = tls is not None and _half_close_supported()
    guard = header_timeout > 0 and deadlines.supported()
    if not guard and header_timeout > 0:
        log.warning("this aiohttp has no hook for the request head deadline: "
                    "only the idle timeout bounds a slow client")
    if not guard and not half_close:
        return web.SockSite(runner, listener.sock, ssl_context=tls)

    class GuardedSite(web.SockSite):
        async def start(self) -> None:
            await web.BaseSite.start(self)  # registers the site with the runner
            loop = asyncio.get_running_loop()
            factory = self._runner.server
            assert factory is not None

            def protocol() -> asyncio.BaseProtocol:
                app: asyncio.BaseProtocol = factory()
                if guard:
                    app = deadlines.HeaderDeadline(app, header_timeout)
                if half_close and tls is not None:
                    return tls_protocol(loop, app, tls)
                return app

            self._server = await loop.create_server(
                protocol, sock=self._sock, backlog=self._backlog,
                ssl=tls if tls is not None and not half_close else None)

    return GuardedSite(runner, listener.sock, ssl_context=tls)


async def serve(config: EngineConfig, sock: socket.socket | Sequence[Listener], *,
                workers: int = 8, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None,
                header_timeout: float | None = None,
                idle_timeout: float | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when run as the main program), on
    one unix socket or on every listener given.  A connection's request head must
    arrive within ``header_timeout`` and an idle keep-alive connection is closed after
    ``idle_timeout`` (deadlines.py; its defaults when None)."""
    from aiohttp import web

    from orlop.server import deadlines
    from orlop.server.app import build_app
    from orlop.server.context import ServerContext

    listeners = ([Listener(ListenAddress("unix", path=str(sock.getsockname())), sock)]
                 if isinstance(sock, socket.socket) else list(sock))
    context = ServerContext(config=config, workers=workers)
    app = build_app(context)
    if header_timeout is None:
        header_timeout = deadlines.READ_HEADER_TIMEOUT
    if idle_timeout is None:
        idle_timeout = deadlines.IDLE_TIMEOUT
    runner = web.AppRunner(app, handler_cancellation=True, keepalive_timeout=idle_timeout,
                           access_log_class=_access_logger_class(), access_log=access_log,
                           shutdown_timeout=5)
    await runner.setup()
    for listener in listeners:
        site = _site(runner, listener, header_timeout)
        await site.start()
        log.info("orlopd listening on %s%s", listener.address.url,
                 " (TLS, client certificates required)" if listener.tls else "")
    stop = stop or asyncio.Event()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orlopd", description="Orlop's Docker Engine API server")
    p.add_argument("-H", "--host", action="append", default=[],
                   help="unix:///path of the socket to serve, or tcp://host:port (TLS with "
                        "--tlsverify only); repeatable (default unix://" + DEFAULT_SOCKET +
                        ", $ORLOP_HOST)")
    p.add_argument("--tls", action="store_true",
                   help="use TLS; not enough for tcp:// (clients must be verified)")
    p.add_argument("--tlsverify", action="store_true",
                   help="use TLS and require client certificates signed by --tlscacert "
                        "(required for tcp://)")
    p.add_argument("--tlscacert", help="CA that client certificates must chain to "
                                       "(default $DOCKER_CERT_PATH/ca.pem)")
    p.add_argument("--tlscert", help="server certificate (default $DOCKER_CERT_PATH/cert.pem)")
    p.add_argument("--tlskey", help="server key (default $DOCKER_CERT_PATH/key.pem)")
    p.add_argument("--root", help="Root of persistent state (default /var/lib/orlop)")
    p.add_argument("--run-root", help="Root of run-time state (default /run/orlop)")
    p.add_argument("--runtime", help="OCI runtime: orlop (built-in), crun, runc or a path")
    p.add_argument("--group", default="root",
                   help="group owning the socket (default root; '' = this process's)")
    p.add_argument("--socket-mode", default="660", help="octal mode of the socket (<= 0770)")
    p.add_argument("--workers", type=int, default=8, help="engine worker threads")
    p.add_argument("--read-header-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="close a connection whose request head is not complete within "
                        "this time (default 10; 0 = never)")
    p.add_argument("--idle-timeout", type=lambda t: _seconds(t, zero=False), default=None,
                   metavar="SECONDS",
                   help="close a keep-alive connection idle this long (default 60)")
    p.add_argument("--log-level", default="info",
                   help="debug also logs every request with its peer (uid or certificate)")
    return p


def _seconds(text: str, *, zero: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: seconds expected"
                                         ) from None
    if not (0 <= value < 1e6 and (zero or value > 0)):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: out of range")
    return value


def open_listeners(args: argparse.Namespace) -> list[Listener]:
    """Every ``-H`` parsed, checked and bound before anything is served: one bad host, or
    a TCP host without client verification, and orlopd does not start at all."""
    hosts = args.host or [os.environ.get("ORLOP_HOST") or f"unix://{DEFAULT_SOCKET}"]
    addresses = [parse_listen_host(h) for h in hosts]
    tls = server_tls(args, [a for a in addresses if a.scheme == "tcp"])
    context = server_tls_context(tls) if tls is not None else None
    listeners: list[Listener] = []
    try:
        for a in addresses:
            if a.scheme == "unix":
                sock = bind_unix_socket(a.path, group=args.group or None,
                                        mode=int(args.socket_mode, 8))
                listeners.append(Listener(a, sock))
            else:
                listeners.append(Listener(a, bind_tcp_socket(a.host, a.port), context))
    except BaseException:
        close_listeners(listeners)
        raise
    return listeners


def close_listeners(listeners: Sequence[Listener]) -> None:
    for listener in listeners:
        listener.sock.close()
        if listener.address.scheme == "unix":
            with contextlib.suppress(OSError):
                if Path(listener.address.path).is_socket():
                    os.unlink(listener.address.path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s orlopd %(levelname)s %(message)s")
    config = EngineConfig.from_env(args.root, args.run_root, args.runtime)
    try:
        listeners = open_listeners(args)
    except (SocketSetupError, OSError, KeyError, ValueError) as err:
        print(f"orlopd: {err}", file=sys.stderr)
        return 1

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await serve(config, listeners, workers=args.workers, stop=stop,
                    header_timeout=args.read_header_timeout,
                    idle_timeout=args.idle_timeout)

    try:
        asyncio.run(run())
    finally:
        close_listeners(listeners)
    return 0


if __name__ == "__main__":
    sys.exit(main())
