"""`stop`, `kill`, `restart`, `wait`, `pause`, `unpause`, `rename`, `top`, `logs`, `attach`."""

from __future__ import annotations

import os
import signal
import sys

from orlop.cli.context import Context, Parser, UsageError, require_args
from orlop.cli.output import render_table


def main(name: str, argv: list[str], ctx: Context) -> int:
    handler = {
        "stop": _stop, "restart": _stop, "kill": _kill, "wait": _wait, "pause": _pause,
        "unpause": _pause, "rename": _rename, "top": _top, "logs": _logs, "attach": _attach,
    }[name]
    return handler(name, argv, ctx)


def _each(refs: list[str], ctx: Context, action: object) -> int:
    """Docker's multi-container verbs: print each ref done, report each failure, exit 1."""
    from collections.abc import Callable

    from orlop.errors import OrlopError

    assert callable(action)
    fn: Callable[[str], object] = action
    failed = False
    for ref in refs:
        try:
            fn(ref)
            print(ref, file=ctx.stdout)
        except OrlopError as err:
            print(f"Error response from daemon: {err}", file=ctx.stderr)
            failed = True
    return 1 if failed else 0


def _stop(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    p.add_argument("-t", "--time", "--timeout", dest="time", type=int, default=None)
    p.add_argument("-s", "--signal", default=None)
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, name, at_least=1)
    engine = ctx.engine()
    if args.signal:
        from orlop.engine.lifecycle import parse_signal

        parse_signal(args.signal)  # refused before any container is touched
    if name == "stop":
        return _each(args.containers, ctx,
                     lambda ref: engine.stop_container(ref, args.time, args.signal))
    return _each(args.containers, ctx,
                 lambda ref: engine.restart_container(ref, args.time, args.signal))


def _kill(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop kill", add_help=False)
    p.add_argument("-s", "--signal", default="SIGKILL")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, "kill", at_least=1)
    from orlop.engine.lifecycle import parse_signal

    parse_signal(args.signal)
    engine = ctx.engine()
    return _each(args.containers, ctx, lambda ref: engine.signal_container(ref, args.signal))


def _wait(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop wait", add_help=False)
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, "wait", at_least=1)
    from orlop.errors import OrlopError

    engine = ctx.engine()
    failed = False
    for ref in args.containers:
        try:
            print(engine.wait_container(ref), file=ctx.stdout, flush=True)
        except OrlopError as err:
            print(f"Error response from daemon: {err}", file=ctx.stderr)
            failed = True
    return 1 if failed else 0


def _pause(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, name, at_least=1)
    engine = ctx.engine()
    return _each(args.containers, ctx,
                 lambda ref: engine.pause_container(ref, name == "pause"))


def _rename(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop rename", add_help=False)
    p.add_argument("names", nargs="*")
    args = p.parse_args(argv)
    require_args(args.names, "rename", exactly=2)
    ctx.engine().rename_container(args.names[0], args.names[1])
    return 0


def _top(name: str, argv: list[str], ctx: Context) -> int:
    if not argv:
        require_args([], "top", at_least=1)
    ref, ps_args = argv[0], argv[1:]
    header, rows = ctx.engine().top_container(ref, ps_args)
    print(render_table(header, rows), file=ctx.stdout)
    return 0


def _logs(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop logs", add_help=False)
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--details", action="store_true")
    p.add_argument("container", nargs="*")
    args = p.parse_args(argv)
    require_args(args.container, "logs", exactly=1)
    from orlop.engine.logs import Entry, follow, parse_since, read_entries

    if args.tail == "all":
        tail = -1
    else:
        try:
            tail = int(args.tail)
        except ValueError:
            raise UsageError(f'invalid argument "{args.tail}" for "-n, --tail" flag') \
                from None
        tail = -1 if tail < 0 else tail
    since, until = parse_since(args.since), parse_since(args.until)
    engine = ctx.engine()
    c = engine.get_container(args.container[0])
    path = engine.log_path(c)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def emit(e: Entry) -> None:
        stream = err if e.stream == "stderr" else out
        if args.timestamps:
            stream.write(e.time.encode() + b" ")
        stream.write(e.data)
        stream.flush()

    for e in read_entries(path, tail=tail, since=since, until=until):
        emit(e)
    if args.follow and engine.is_running(c):
        for e in follow(path, lambda: engine.is_running(c)):
            emit(e)
    return 0


def _attach(name: str, argv: list[str], ctx: Context) -> int:
    """Stream the container's output from now on (its log), feed our stdin to its
    stdin FIFO when it was created with -i, forward SIGINT/SIGTERM (--sig-proxy), and
    exit with the container's code when it ends."""
    p = Parser(prog="orlop attach", add_help=False)
    p.add_argument("--no-stdin", action="store_true")
    p.add_argument("--sig-proxy", default="true")
    p.add_argument("--detach-keys", default="")
    p.add_argument("container", nargs="*")
    args = p.parse_args(argv)
    require_args(args.container, "attach", exactly=1)
    from orlop.engine.logs import follow
    from orlop.engine.monitor import stdin_fifo
    from orlop.errors import ContainerStateError

    engine = ctx.engine()
    c = engine.get_container(args.container[0])
    if not engine.is_running(c):
        raise ContainerStateError("You cannot attach to a stopped container, start it first")
    if c.status == "paused":
        raise ContainerStateError(
            "You cannot attach to a paused container, unpause it first")
    if args.sig_proxy.lower() in ("true", "1", ""):
        def proxy(signum: int, _frame: object) -> None:
            from orlop.errors import OrlopError

            try:
                engine.signal_container(c.id, str(signum))
            except OrlopError:
                pass

        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, proxy)
    feeder = 0
    if c.config.open_stdin and not args.no_stdin:
        feeder = _feed_stdin(str(stdin_fifo(engine.config, c.id)))
    out, err = sys.stdout.buffer, sys.stderr.buffer
    try:
        for e in follow(engine.log_path(c), lambda: engine.is_running(c)):
            stream = err if e.stream == "stderr" else out
            stream.write(e.data)
            stream.flush()
    finally:
        if feeder > 0:
            import contextlib

            with contextlib.suppress(ProcessLookupError):
                os.kill(feeder, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(feeder, 0)
    return engine.wait_container(c.id)


def _feed_stdin(fifo: str) -> int:
    """A child copying our stdin into the container's stdin FIFO; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_CLOEXEC)
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            os.write(fd, data)
    except OSError:
        code = 1
    os._exit(code)
