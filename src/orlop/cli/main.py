"""Entry point of the `orlop` CLI: the only place where an exception becomes an exit code.

Exit codes follow Docker: 125 when the engine fails for run/create/start (so that a
container's own 1 or 2 stays distinguishable), 1 for other commands' errors, and
the container's status otherwise.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from orlop.cli.context import Context, HelpRequested, Parser, UsageError
from orlop.cli.registry import INDEX, Command

# typing.TYPE_CHECKING without importing typing (with contextlib: ~1.5 ms of `--help`,
# whose modules import it nowhere else); mypy takes any TYPE_CHECKING name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

# Commands whose engine errors exit 125, as Docker's `run`, `create` and `start` do.
_ENGINE_EXIT_125 = {"run", "create", "start"}


def _top_parser() -> Parser:
    p = Parser(prog="orlop", docker_help=False, usage="orlop [OPTIONS] COMMAND")
    p.add_argument("--root", help="Root of persistent state (default /var/lib/orlop, $ORLOP_ROOT)")
    p.add_argument("--run-root", help="Root of run-time state (default /run/orlop)")
    p.add_argument("--runtime", dest="global_runtime",
                   help="OCI runtime: orlop (built-in), crun, runc or a path")
    p.add_argument("-H", "--host", default=None)
    # Docker's client TLS flags (bare booleans only: `--tlsverify=false` is not parsed,
    # so that a flag never takes the command name as its value).
    p.add_argument("--tls", action="store_true")
    p.add_argument("--tlsverify", action="store_true")
    p.add_argument("--tlscacert", default=None)
    p.add_argument("--tlscert", default=None)
    p.add_argument("--tlskey", default=None)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-v", "--version", action="store_true")
    p.add_argument("command", nargs="?")
    p.add_argument("args", nargs="...")
    return p


def _help_text() -> str:
    from orlop.cli.help import top_help
    from orlop.client.tlsoptions import default_cert_path

    cert_path = default_cert_path()
    options = [
        "      --root string        Root of persistent state (default \"/var/lib/orlop\")",
        "      --run-root string    Root of run-time state (default \"/run/orlop\")",
        "      --runtime string     OCI runtime: orlop (built-in), crun, runc or a path",
        "  -H, --host string        orlopd to use: unix:///path, or tcp://host:port with "
        "TLS ($ORLOP_HOST, $DOCKER_HOST)",
        "      --tls                Use TLS; implied by --tlsverify",
        "      --tlscacert string   Trust certs signed only by this CA (default "
        f"\"{cert_path}/ca.pem\")",
        "      --tlscert string     Path to TLS certificate file (default "
        f"\"{cert_path}/cert.pem\")",
        "      --tlskey string      Path to TLS key file (default "
        f"\"{cert_path}/key.pem\")",
        "      --tlsverify          Use TLS and verify the remote ($DOCKER_TLS_VERIFY)",
        "  -v, --version            Print version information and quit"]
    return top_help("A container engine for Linux built around its containers' data",
                    options)


def resolve(name: str, args: list[str]) -> tuple[str, list[str]]:
    """The command a command line names (``container ls`` for ``container ls -a``, or
    the group itself when its next word is not one of its commands) and its arguments."""
    cmd = INDEX[name]
    if cmd.group and args and f"{name} {args[0]}" in INDEX:
        return f"{name} {args[0]}", args[1:]
    return name, args


def _remote_ok(name: str, cmd: Command) -> bool:
    """Whether the command may run through orlopd: its module's ``REMOTE`` names it (by
    a top-level name of its family), or the typed group's module names the group."""
    def remote(module: str) -> frozenset[str]:
        names: frozenset[str] = getattr(
            importlib.import_module(f"orlop.cli.commands.{module}"), "REMOTE", frozenset())
        return names

    return name in remote(INDEX[name].module) or any(
        n in remote(cmd.module) for n in cmd.names if " " not in n)


def _host_from_env() -> tuple[str | None, str]:
    """The remote host from the environment (None: in-process) and the variable it came
    from; $DOCKER_HOST's is checked before use (cli/backend.check_docker_host)."""
    for var in ("ORLOP_HOST", "DOCKER_HOST"):
        if os.environ.get(var):
            return os.environ[var], var
    return None, ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        top = _top_parser().parse_args(argv)
    except UsageError as err:
        print(f"orlop: {err}\nSee 'orlop --help'.", file=sys.stderr)
        return 125
    if top.version:
        from orlop import __version__

        print(f"Orlop version {__version__}")
        return 0
    if top.help or not top.command:
        print(_help_text())
        return 0
    name = top.command
    if name not in INDEX or " " in name:
        print(f"orlop: '{name}' is not an orlop command.\nSee 'orlop --help'", file=sys.stderr)
        return 1
    invoked, args = resolve(name, list(top.args))
    cmd = INDEX[invoked]
    if cmd.group and (not args or args[0] in ("-h", "--help")):
        from orlop.cli.help import group_help

        print(group_help(invoked))
        return 0

    from orlop.config import EngineConfig

    config = EngineConfig.from_env(top.root, top.run_root, top.global_runtime)
    ctx = Context(config=config, command=name, stdout=sys.stdout, stderr=sys.stderr)
    failure_code = 125 if cmd.entry in _ENGINE_EXIT_125 else 1
    # -H, else $ORLOP_HOST/$DOCKER_HOST unless a local root is named: through orlopd.
    host, ctx.host_source = (top.host, "-H") if top.host else (
        (None, "") if top.root or top.run_root else _host_from_env())
    ctx.host = host
    if host:
        from orlop.client.tlsoptions import resolve_tls

        ctx.tls = resolve_tls(tls=top.tls, verify=top.tlsverify, cacert=top.tlscacert,
                              cert=top.tlscert, key=top.tlskey)
    if cmd.entry is None:
        entry = name  # the group dispatches its own command (volume, system)
        args = list(top.args)
    else:
        entry = cmd.entry
        from orlop.cli.help import usage_name

        ctx.command = usage_name(invoked)
    try:
        module = importlib.import_module(f"orlop.cli.commands.{cmd.module}")
        if host and not _remote_ok(name, cmd):
            # Every command declares REMOTE today; a new one must say so to be reachable.
            raise UsageError(f"'{name}' cannot be used with -H/--host")
        code: int = module.main(entry, args, ctx)
        return code
    except HelpRequested as req:
        from orlop.cli.help import command_help

        print(command_help(invoked, req.parser))
        return 0
    except UsageError as err:
        print(f"orlop: {err}\nSee 'orlop {ctx.command} --help'.", file=sys.stderr)
        return failure_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
    except Exception as err:
        from orlop.errors import OrlopError

        if isinstance(err, OrlopError):
            code = getattr(err, "exit_code", failure_code)
            prefix = "orlop: " if cmd.entry in _ENGINE_EXIT_125 else ""
            print(f"{prefix}Error: {err}", file=sys.stderr)
            return int(code)
        if isinstance(err, PermissionError | OSError):
            print(f"Error: {err}", file=sys.stderr)
            return failure_code
        raise
    finally:
        ctx.close()


def run() -> NoReturn:
    """The ``orlop`` command (``python -m orlop``, the console script): :func:`main`,
    then :func:`exit_now`."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit as the interpreter would, without its teardown.

    Once main() has returned, all that is left of a normal exit is freeing every module
    and object one by one: 9 to 13 ms of an `exec CTR true`, a `volume ls` or a `run
    --rm` here (measured, interleaved), 10 % of the command.  What a normal exit does
    that matters is done first: non-daemon threads are waited for, atexit functions
    run, stdout and stderr are flushed (a failed flush is exit status 120, as
    Python's); every file Orlop writes is closed by the code that opened it.  Under a
    profiler or a tracer (``python -m cProfile -m orlop``, coverage), a normal exit.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # Under cProfile or a coverage tracer: they write their data once we return.
        raise SystemExit(code)
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()  # what Py_Finalize calls
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            if code == 0:
                code = 120
    os._exit(code)
