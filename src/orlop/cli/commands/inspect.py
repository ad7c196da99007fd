"""`orlop inspect`: containers first, then images, then volumes (Docker's lookup order)."""

from __future__ import annotations

from typing import Any

from orlop.cli.context import Context, Parser, require_args
from orlop.cli.output import dump_json, format_template

# Containers, images and volumes are inspected through the backend, local or remote.
REMOTE = frozenset({"inspect"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {name}", add_help=False)
    p.add_argument("-f", "--format", default="")
    p.add_argument("--type", default="")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("objects", nargs="*")
    args = p.parse_args(argv)
    require_args(args.objects, name, at_least=1)
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
                    results.append(backend.container_inspect(ref))
                elif kind == "image":
                    results.append(backend.image_inspect(ref))
                elif kind == "volume":
                    results.append(backend.volume_inspect(ref))
                break
            except NotFoundError:
                continue
        else:
            errors.append(f"Error: No such object: {ref}" if len(kinds) > 1
                          else f"Error: No such {kinds[0]}: {ref}")
    if args.format:
        for r in results:
            print(format_template(args.format, r), file=ctx.stdout)
    else:
        print(dump_json(results), file=ctx.stdout)
    for e in errors:
        print(e, file=ctx.stderr)
    return 1 if errors else 0
