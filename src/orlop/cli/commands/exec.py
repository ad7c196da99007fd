"""`orlop exec [-d] [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER COMMAND [ARG...]`."""

from __future__ import annotations

import argparse
import sys

from orlop.cli.context import Context, Parser, UsageError

# exec works through orlopd too: exec create + a hijacked exec start.
REMOTE = frozenset({"exec"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop exec", add_help=False,
               usage="orlop exec [OPTIONS] CONTAINER COMMAND [ARG...]")
    p.add_argument("-d", "--detach", action="store_true",
                   help="Detached mode: run command in the background")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="Keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[],
                   help="Read in a file of environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-u", "--user", default="",
                   help="Username or UID (format: \"<name|uid>[:<group|gid>]\")")
    p.add_argument("--privileged", action="store_true",
                   help="Give extended privileges to the command")
    p.add_argument("--detach-keys", default="",
                   help="Override the key sequence for detaching a container")
    p.add_argument("container", nargs="?")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if not args.container or not args.command:
        raise UsageError('"orlop exec" requires at least 2 arguments.')
    if args.privileged:
        raise UsageError("exec --privileged is not supported by Orlop")
    if not ctx.remote:
        # The exec joins the container's cgroups ~25 ms from now: the kernel's grace
        # period for that first migration passes meanwhile (kernel/cgwarm.py).
        from orlop.kernel import cgwarm

        cgwarm.start()
    from orlop.detachkeys import (
        Detached,
        detach_keys_text,
        parse_detach_keys,
        resolve_detach_keys,
    )
    from orlop.engine.containers.exec import ExecOptions

    # the flag, else the config's detachKeys; refused before anything runs when bad.
    # Through orlopd the text goes in the exec's DetachKeys; locally, a terminal's
    # input is scanned for the bytes (Ctrl-P Ctrl-Q when none is set).
    keys_text = detach_keys_text(args.detach_keys)
    if keys_text:
        parse_detach_keys(keys_text)
    keys = resolve_detach_keys(keys_text) if args.tty and args.interactive else b""

    from orlop.cli.envfile import env_options

    env = env_options(args.env_file, args.env)
    opts = ExecOptions(command=list(args.command), detach=args.detach,
                       interactive=args.interactive, tty=args.tty, env=env,
                       workdir=args.workdir, user=args.user, detach_keys=keys,
                       detach_keys_text=keys_text)
    sys.stdout.flush()
    try:
        return ctx.container_backend().container_exec(args.container, opts)
    except Detached as d:
        # The docker CLI's exec, as its attach: moby/term's EscapeError, exit 1; the
        # process runs on.
        ctx.stderr.write(f"{d}\n")
        return 1
