"""`orlop volume push VOLUME REF` and `orlop volume pull REF [VOLUME]`: a volume's export
moved through a registry as an OCI artifact (docs/distribution.md).  With ``-H`` they
go to orlopd's ``/libpod/volumes/{name}/push`` and ``/libpod/volumes/pull``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orlop.cli.context import Context, Parser, UsageError, parse_with_args

if TYPE_CHECKING:
    from orlop.distribution.progress import Progress


def main(sub: str, argv: list[str], ctx: Context) -> int:
    ctx.command = f"volume {sub}"
    if sub == "push":
        return _push(argv, ctx)
    if sub == "pull":
        return _pull(argv, ctx)
    raise UsageError(f'unknown command "{sub}" for "orlop volume"')


def _progress(ctx: Context, quiet: bool) -> Progress:
    from orlop.cli.progress import for_stream
    from orlop.distribution.progress import Silent

    return Silent() if quiet else for_stream(ctx.stdout)


def _push(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume push", add_help=False)
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Print only the artifact's digest")
    args = parse_with_args(p, argv, ctx.command, exactly=2)
    out = ctx.backend().volume_push(args.args[0], args.args[1], _progress(ctx, args.quiet))
    if args.quiet:
        print(out.get("Digest", ""), file=ctx.stdout)
    return 0


def _pull(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume pull", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Replace the content of an existing volume")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Print only the volume's name")
    args = parse_with_args(p, argv, ctx.command, at_least=1, at_most=2)
    name = args.args[1] if len(args.args) > 1 else ""
    out = ctx.backend().volume_pull(args.args[0], name, args.force,
                                    _progress(ctx, args.quiet))
    print(out.get("Name", name), file=ctx.stdout)
    return 0
