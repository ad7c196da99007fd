"""`orlop dashboard`: open orlopd's volumes dashboard in a browser.

orlopd serves the pages itself (server/dashboard/) on the listeners it already has.  A
unix socket is out of a browser's reach, so this command opens a loopback port that
forwards to it, guarded by a token made for this launch (cli/dashboardproxy.py), prints
the address to open and serves until interrupted.  The TLS TCP listener needs no helper:
a browser with the client certificate opens ``https://HOST:PORT/dashboard/`` directly.
"""

from __future__ import annotations

from orlop.cli.context import Context, Parser, UsageError

REMOTE = frozenset({"dashboard"})
DEFAULT_SOCKET = "/run/orlop/orlop.sock"  # orlopd's default (server/main.py)


def socket_path(ctx: Context) -> str:
    """The unix socket of the orlopd to show: -H/$ORLOP_HOST/$DOCKER_HOST, else the
    default one."""
    from orlop.client.transport import parse_host

    if ctx.host is None:
        return DEFAULT_SOCKET
    endpoint = parse_host(ctx.host)
    if endpoint.scheme != "unix":
        raise UsageError(f"{ctx.host} is a TLS listener: open https://{endpoint.address}"
                         "/dashboard/ in a browser holding the client certificate")
    return endpoint.address


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop dashboard", add_help=False)
    p.add_argument("--port", type=int, default=0,
                   help="Loopback port to listen on (default: a free one)")
    p.add_argument("--open", action="store_true",
                   help="Open the dashboard in the default web browser")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    if args.args:
        raise UsageError(f'"orlop {name}" accepts no arguments.')
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid port {args.port}")
    import asyncio

    return asyncio.run(_serve(ctx, socket_path(ctx), args.port, args.open))


async def _serve(ctx: Context, path: str, port: int, open_browser: bool) -> int:
    import asyncio
    import os
    import signal

    from orlop.cli.dashboardproxy import DashboardProxy
    from orlop.errors import SystemFailureError

    if not os.path.exists(path):
        raise SystemFailureError(f"no orlopd socket at {path}: start orlopd (or name its "
                                 "socket with -H unix:///path)")
    proxy = DashboardProxy(path, port=port)
    await proxy.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        ctx.stdout.write(proxy.url + "\n")
        ctx.stdout.flush()
        ctx.stderr.write(f"Orlop dashboard for {path} on 127.0.0.1:{proxy.port} (this "
                         "address carries a token for this launch only); Ctrl-C stops it\n")
        ctx.stderr.flush()
        if open_browser:
            import webbrowser

            webbrowser.open(proxy.url)
        await stop.wait()
    finally:
        await proxy.close()
    return 0
