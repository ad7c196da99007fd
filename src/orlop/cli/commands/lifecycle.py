"""`stop`, `kill`, `restart`, `wait`, `pause`, `unpause`, `rename`, `top`, `logs`, `attach`."""

from __future__ import annotations

import sys
from collections.abc import Callable

from orlop.cli.context import Context, Parser, UsageError, for_each, parse_with_args, require_args
from orlop.cli.output import render_table

# Every command of this module works through orlopd (cli/backend/containers.py).
REMOTE = frozenset({"stop", "kill", "restart", "wait", "pause", "unpause", "rename", "top",
                    "logs", "attach"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    handler = {
        "stop": _stop, "restart": _stop, "kill": _kill, "wait": _wait, "pause": _pause,
        "unpause": _pause, "rename": _rename, "top": _top, "logs": _logs, "attach": _attach,
    }[name]
    return handler(name, argv, ctx)


def _each(refs: list[str], ctx: Context, action: Callable[[str], object]) -> int:
    """Docker's multi-container verbs: print each ref done, report each failure, exit 1."""
    return for_each(refs, ctx, action, error_prefix="Error response from daemon: ")


def _stop(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    p.add_argument("-t", "--timeout", "--time", dest="time", type=int, default=None,
                   help="Seconds to wait before killing the container")
    p.add_argument("-s", "--signal", default=None, help="Signal to send to the container")
    args = parse_with_args(p, argv, name, at_least=1, positional="containers")
    if args.signal:
        from orlop.engine.containers.lifecycle import parse_signal

        parse_signal(args.signal)  # refused before any container is touched
    backend = ctx.backend()
    if name == "stop":
        return _each(args.containers, ctx,
                     lambda ref: backend.container_stop(ref, args.time, args.signal))
    return _each(args.containers, ctx,
                 lambda ref: backend.container_restart(ref, args.time, args.signal))


def _kill(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop kill", add_help=False)
    p.add_argument("-s", "--signal", default="SIGKILL", help="Signal to send to the container")
    args = parse_with_args(p, argv, "kill", at_least=1, positional="containers")
    from orlop.engine.containers.lifecycle import parse_signal

    parse_signal(args.signal)
    backend = ctx.backend()
    return _each(args.containers, ctx, lambda ref: backend.container_kill(ref, args.signal))


def _wait(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop wait", add_help=False)
    args = parse_with_args(p, argv, "wait", at_least=1, positional="containers")
    backend = ctx.backend()
    return for_each(args.containers, ctx,
                    lambda ref: print(backend.container_wait(ref), file=ctx.stdout, flush=True),
                    error_prefix="Error response from daemon: ", echo=False)


def _pause(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    args = parse_with_args(p, argv, name, at_least=1, positional="containers")
    backend = ctx.backend()
    return _each(args.containers, ctx,
                 lambda ref: backend.container_pause(ref, name == "pause"))


def _rename(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop rename", add_help=False)
    args = parse_with_args(p, argv, "rename", exactly=2, positional="names")
    ctx.backend().container_rename(args.names[0], args.names[1])
    return 0


def _top(name: str, argv: list[str], ctx: Context) -> int:
    import argparse

    p = Parser(prog="orlop top")
    p.add_argument("container", nargs="?")
    p.add_argument("ps_args", nargs=argparse.REMAINDER)  # ps's options: not parsed here
    args = p.parse_args(argv)
    if not args.container:
        require_args([], "top", at_least=1)
    ref, ps_args = args.container, list(args.ps_args)
    out = ctx.backend().container_top(ref, ps_args)
    print(render_table(out.get("Titles") or [], out.get("Processes") or []), file=ctx.stdout)
    return 0


def _logs(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop logs", add_help=False)
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("-n", "--tail", default="all",
                   help="Number of lines to show from the end of the logs")
    p.add_argument("--since", default="",
                   help="Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative "
                        "(e.g. "
                        "\"42m\" for 42 minutes)")
    p.add_argument("--until", default="",
                   help="Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative "
                        "(e.g. \"42m\" for 42 minutes)")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    args = parse_with_args(p, argv, "logs", exactly=1, positional="container")
    from orlop.cli.backend.containers import LogOptions
    from orlop.engine.containers.logs import parse_since

    if args.tail == "all":
        tail = -1
    else:
        try:
            tail = int(args.tail)
        except ValueError:
            raise UsageError(f'invalid argument "{args.tail}" for "-n, --tail" flag') \
                from None
        tail = -1 if tail < 0 else tail
    parse_since(args.since)  # checked here: the same error locally and through orlopd
    parse_since(args.until)
    sys.stdout.flush()
    ctx.backend().container_logs(args.container[0], LogOptions(
        follow=args.follow, tail=tail, since=args.since, until=args.until,
        timestamps=args.timestamps, details=args.details))
    return 0


def _attach(name: str, argv: list[str], ctx: Context) -> int:
    """Stream the container's output from now on, feed our stdin to it when it was
    created with -i, forward SIGINT/SIGTERM (--sig-proxy), and exit with the
    container's code when it ends."""
    p = Parser(prog="orlop attach", add_help=False)
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", help="Proxy all received signals to the process")
    p.add_argument("--detach-keys", default="",
                   help="Override the key sequence for detaching a container")
    args = parse_with_args(p, argv, "attach", exactly=1, positional="container")
    from orlop.detachkeys import Detached, detach_keys_text, parse_detach_keys
    from orlop.errors import ContainerStateError

    keys = detach_keys_text(args.detach_keys)
    if keys:
        parse_detach_keys(keys)  # a bad sequence is refused before anything is attached

    backend = ctx.backend()
    state = backend.container_inspect(args.container[0]).get("State") or {}
    if not state.get("Running"):
        raise ContainerStateError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise ContainerStateError(
            "You cannot attach to a paused container, unpause it first")
    sys.stdout.flush()
    try:
        return backend.container_attach(args.container[0], stdin=not args.no_stdin,
                                        sig_proxy=args.sig_proxy.lower() in ("true", "1", ""),
                                        detach_keys=keys)
    except Detached as d:
        # The docker CLI's attach returns moby/term's EscapeError: printed, exit 1.
        ctx.stderr.write(f"{d}\n")
        return 1
