"""`orlop export`: Docker's flags and texts."""

from __future__ import annotations

import os

from orlop.cli.context import Context, Parser, UsageError, require_args


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop export", add_help=False)
    p.add_argument("-o", "--output", default="")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, "export", exactly=1)
    engine = ctx.engine()
    if args.output:
        tmp = f"{args.output}.tmp-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            engine.export_container(args.args[0], fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.rename(tmp, args.output)
        return 0
    if os.isatty(ctx.stdout.fileno()):
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or "
                         "redirect")
    ctx.stdout.flush()
    engine.export_container(args.args[0], ctx.stdout.fileno())
    return 0
