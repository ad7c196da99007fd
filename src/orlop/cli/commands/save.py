"""`orlop save`: Docker's flags and texts."""

from __future__ import annotations

from orlop.cli.context import (
    Context,
    Parser,
    add_platform_variant_flag,
    parse_with_args,
    write_archive,
)

REMOTE = frozenset({"save"})  # GET /images/get with -H


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop save", add_help=False)
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    add_platform_variant_flag(p, "Save")
    args = parse_with_args(p, argv, "save", at_least=1)
    backend = ctx.backend()
    return write_archive(ctx, args.output, lambda fd: backend.image_save(args.args, fd))

