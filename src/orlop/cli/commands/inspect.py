"""`orlop inspect`: containers first, then images, then volumes (Docker's lookup order)."""

from __future__ import annotations

from typing import Any

from orlop.cli.context import Context, Parser, parse_with_args
from orlop.cli.output import FORMAT_PLAIN, write_inspect

# Containers, images and volumes are inspected through the backend, local or remote.
REMOTE = frozenset({"inspect"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    p.add_argument("-f", "--format", default="", help=FORMAT_PLAIN)
    p.add_argument("--type", default="", help="Only inspect objects of the given type")
    p.add_argument("-s", "--size", action="store_true",
                   help="Display total file sizes if the type is container")
    args = parse_with_args(p, argv, name, at_least=1, positional="objects")
    from orlop.errors import NotFoundError

    backend = ctx.backend()
    kinds = [args.type] if args.type else ["container", "image", "volume"]
    if name == "container inspect":
        kinds = ["container"]
    results: list[Any] = []
    errors: list[str] = []
    for ref in args.objects:
        for kind in kinds:
            try:
                if kind == "container":
                    results.append(backend.container_inspect(ref, size=args.size))
                elif kind == "image":
                    results.append(backend.image_inspect(ref))
                elif kind == "volume":
                    results.append(backend.volume_inspect(ref))
                break
            except NotFoundError:
                continue
        else:
            errors.append(f"No such object: {ref}" if len(kinds) > 1
                          else f"No such {kinds[0]}: {ref}")
    return write_inspect(ctx.stdout, ctx.stderr, results, errors, args.format)
