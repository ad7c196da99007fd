"""`orlop load`: Docker's flags, output and texts."""

from __future__ import annotations

import os
import sys

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    add_platform_variant_flag,
    parse_with_args,
)

REMOTE = frozenset({"load"})  # POST /images/load with -H (the archive streamed)


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop load", add_help=False)
    p.add_argument("-i", "--input", default="", help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    add_platform_variant_flag(p, "Load")
    args = parse_with_args(p, argv, "load", exactly=0)
    backend = ctx.backend()
    if args.input:
        with open(args.input, "rb") as f:
            lines = backend.image_load(f)
    else:
        if os.isatty(sys.stdin.fileno()):
            raise UsageError("requested load from stdin, but stdin is empty")
        lines = backend.image_load(sys.stdin.buffer)
    for line in lines:
        print(line, file=ctx.stdout)
    return 0
