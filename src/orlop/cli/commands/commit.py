"""`orlop commit`: Docker's flags and output (``sha256:<id>``)."""

from __future__ import annotations

from orlop.cli.context import Context, Parser, parse_with_args

REMOTE = frozenset({"commit"})  # POST /commit with -H


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop commit", add_help=False)
    p.add_argument("-a", "--author", default="",
                   help="Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
    p.add_argument("-c", "--change", action="append", default=[],
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", help="Commit message")
    # Docker pauses the container while committing; Orlop reads the upper directory by
    # fd and needs no freeze for a consistent tar stream, so the flag is accepted only.
    p.add_argument("-p", "--pause", nargs="?", const="true", default="true",
                   help="Pause container during commit")
    args = parse_with_args(p, argv, "commit", at_least=1, at_most=2)
    reference = args.args[1] if len(args.args) > 1 else None
    pause = str(args.pause).lower() not in ("false", "0")
    image_id = ctx.backend().commit(args.args[0], reference, changes=args.change,
                                    author=args.author, message=args.message, pause=pause)
    print(image_id, file=ctx.stdout)
    return 0
