"""`orlop run` and `orlop create`: Docker's flags, Docker's exit codes."""

from __future__ import annotations

import argparse
import os
import sys

from orlop.cli.context import Context, Parser, UsageError


def _parser(name: str) -> Parser:
    p = Parser(prog=f"orlop {name}", add_help=False,
               usage=f"orlop {name} [OPTIONS] IMAGE [COMMAND] [ARG...]")
    p.add_argument("--help", action="store_true")
    p.add_argument("--rm", action="store_true", help="Remove the container when it exits")
    p.add_argument("--name", default="")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--env-file", action="append", default=[])
    p.add_argument("-w", "--workdir", default="")
    p.add_argument("-u", "--user", default="")
    p.add_argument("--entrypoint", default=None)
    p.add_argument("-h", "--hostname", default="")
    p.add_argument("--network", "--net", default="none")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--runtime", default="")
    p.add_argument("-v", "--volume", action="append", default=[])
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--tmpfs", action="append", default=[])
    p.add_argument("--volumes-from", action="append", default=[])
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--pull", default="missing", choices=["always", "missing", "never"])
    p.add_argument("image", nargs="?")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def _env_file(path: str) -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                out.append(line.lstrip())
    except OSError as err:
        raise UsageError(f"open {path}: {err.strerror.lower() if err.strerror else err}") \
            from None
    return out


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = _parser(name)
    args = p.parse_args(argv)
    if args.help:
        print(p.format_help(), file=ctx.stdout)
        return 0
    if not args.image:
        raise UsageError(f'"orlop {name}" requires at least 1 argument.')
    if args.detach:
        raise UsageError("detached mode (-d) is not available yet in this Orlop version: "
                         "run in the foreground")
    from orlop.engine.models import RunOptions

    env = [e for f in args.env_file for e in _env_file(f)] + list(args.env)
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else []
    opts = RunOptions(
        image=args.image, command=list(args.command), entrypoint=entrypoint, name=args.name,
        env=env, working_dir=args.workdir, user=args.user, hostname=args.hostname,
        network=args.network, interactive=args.interactive, tty=args.tty,
        auto_remove=args.rm, runtime=args.runtime or "", volumes=list(args.volume),
        mounts=list(args.mount), tmpfs=list(args.tmpfs), volumes_from=list(args.volumes_from),
        labels=_labels(args.label), read_only=args.read_only, cwd=os.getcwd(),
    )
    engine = ctx.engine()
    if name == "create":
        c = engine.create_container(opts)
        print(c.id, file=ctx.stdout)
        return 0
    from orlop.engine.runner import Stdio

    sys.stdout.flush()
    return engine.run(opts, Stdio(stdin=0, stdout=1, stderr=2))
