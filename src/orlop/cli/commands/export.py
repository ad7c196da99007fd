"""`orlop export`: Docker's flags and texts."""

from __future__ import annotations

from orlop.cli.context import Context, Parser, parse_with_args, write_archive

REMOTE = frozenset({"export"})  # GET /containers/{id}/export with -H


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop export", add_help=False)
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    args = parse_with_args(p, argv, "export", exactly=1)
    backend = ctx.backend()
    return write_archive(ctx, args.output,
                         lambda fd: backend.container_export(args.args[0], fd))

