"""``orlopd``: serve the Docker Engine API on a unix socket.

The socket is made as moby's ``listenUnix`` does (security-principles §4 F1): bound,
then its mode set to 0 before ``chown``/``chmod 0660`` and only then ``listen``, so no
other user can connect in between; an existing path is replaced only if it is a socket;
its directory must not be writable by group or others.  No TCP listener is offered.
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
import stat
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from orlop.config import EngineConfig

log = logging.getLogger("orlopd")

DEFAULT_SOCKET = "/run/orlop/orlop.sock"


class SocketSetupError(Exception):
    pass


def _parse_host(host: str) -> str:
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise SocketSetupError(
        f"unsupported host {host!r}: orlopd listens on unix sockets only (unix:///path); "
        "TCP would need TLS with client certificates, which this version does not offer")


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


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of a unix-socket peer (SO_PEERCRED), for the access log."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", data)
    return pid, uid, gid


async def serve(config: EngineConfig, sock: socket.socket, *, workers: int = 8,
                ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when run as the main program)."""
    from aiohttp import web

    from orlop.server.app import build_app
    from orlop.server.context import ServerContext

    context = ServerContext(config=config, workers=workers)
    app = build_app(context)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                           keepalive_timeout=75)
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=5)
    await site.start()
    log.info("orlopd listening on %s", sock.getsockname())
    stop = stop or asyncio.Event()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="orlopd", description="Orlop's Docker Engine API server")
    p.add_argument("-H", "--host", default=os.environ.get("ORLOP_HOST") or
                   f"unix://{DEFAULT_SOCKET}", help="unix:///path of the socket to serve")
    p.add_argument("--root", help="Root of persistent state (default /var/lib/orlop)")
    p.add_argument("--run-root", help="Root of run-time state (default /run/orlop)")
    p.add_argument("--runtime", help="OCI runtime: orlop (built-in), crun, runc or a path")
    p.add_argument("--group", default="root",
                   help="group owning the socket (default root; '' = this process's)")
    p.add_argument("--socket-mode", default="660", help="octal mode of the socket (<= 0770)")
    p.add_argument("--workers", type=int, default=8, help="engine worker threads")
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s orlopd %(levelname)s %(message)s")
    config = EngineConfig.from_env(args.root, args.run_root, args.runtime)
    try:
        path = _parse_host(args.host)
        sock = bind_unix_socket(path, group=args.group or None, mode=int(args.socket_mode, 8))
    except (SocketSetupError, OSError, KeyError, ValueError) as err:
        print(f"orlopd: {err}", file=sys.stderr)
        return 1

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await serve(config, sock, workers=args.workers, stop=stop)

    try:
        asyncio.run(run())
    finally:
        with contextlib.suppress(OSError):
            if Path(path).is_socket():
                os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
