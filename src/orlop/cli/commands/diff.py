"""`orlop diff CONTAINER` (`container diff`): the container's changes, ``C``/``A``/``D``
and the path, one per line, as ``docker diff`` prints them."""

from __future__ import annotations

from orlop.cli.context import Context, Parser, parse_with_args

# Works through orlopd too (GET /containers/{id}/changes).
REMOTE = frozenset({"diff"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop diff")
    args = parse_with_args(p, argv, ctx.command, exactly=1, positional="container")
    for change in ctx.backend().container_changes(args.container[0]):
        print(f"{'CAD'[int(change['Kind'])]} {change['Path']}", file=ctx.stdout)
    return 0
