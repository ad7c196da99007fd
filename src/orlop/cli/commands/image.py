"""`orlop import`, `images`, `rmi`, `tag` and the `orlop image` group, with Docker's
flags, output and texts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    add_prune_flags,
    for_each,
    parse_with_args,
    require_args,
)
from orlop.cli.output import (
    FORMAT_PLAIN,
    FORMAT_TABLE,
    format_template,
    render_table,
    write_inspect,
)

# Every verb goes through ctx.backend(): in-process, or orlopd with -H.
REMOTE = frozenset({"import", "images", "rmi", "tag", "image", "history"})

# Column titles for `images --format "table ..."`, as Docker's image formatter names them.
_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
            "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
            "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE",
            "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
_DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "image":  # main() routes every `image <verb>` it knows (cli/registry.py)
        raise UsageError(f'unknown command "{argv[0] if argv else ""}" for "orlop image"')
    commands: dict[str, Callable[[list[str], Context], int]] = {
        "import": _import, "images": _images, "rmi": _rmi, "tag": _tag,
        "inspect": _inspect, "prune": _prune, "history": _history,
    }
    return commands[name](argv, ctx)


# --- import ------------------------------------------------------------------


def _import(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-c", "--change", action="append", default=[],
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    p.add_argument("--platform", default="",
                   help="Set platform if server is multi-platform capable")
    args = parse_with_args(p, argv, ctx.command, at_least=1, at_most=2)
    source = args.args[0]
    reference = args.args[1] if len(args.args) > 1 else None
    if args.platform and args.platform.split("/")[0] != "linux":
        raise UsageError(f'"{args.platform}": operating system is not supported')
    if source.startswith(("http://", "https://")):
        from orlop.errors import UnsupportedError

        raise UnsupportedError(
            f"importing from a URL ({source}) is not supported: Orlop never reaches the "
            "network; download the file and import it")
    from orlop.cli.commands.load import with_progress

    backend = ctx.backend()
    if source == "-":
        image_id = backend.image_import(
            with_progress(ctx, sys.stdin.buffer, "Importing", False), reference,
            args.change, args.message)
    else:
        try:
            f = open(source, "rb")
        except OSError as err:
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(
                f"open {source}: {(err.strerror or str(err)).lower()}") from err
        with f:
            image_id = backend.image_import(with_progress(ctx, f, "Importing", False),
                                            reference, args.change, args.message)
    print(image_id, file=ctx.stdout)
    return 0


# --- images --------------------------------------------------------------------


def _rows(images: Sequence[Mapping[str, Any]], no_trunc: bool) -> list[dict[str, Any]]:
    """One row per tag (``<none>`` for an untagged image), from ``GET /images/json``."""
    import time

    from orlop.cli.units import human_duration, human_size
    from orlop.images.reference import split_tagged

    now = time.time()
    rows = []
    for image in images:
        image_id = str(image["Id"])
        created = int(image.get("Created") or 0)
        size = int(image.get("Size") or 0)
        digests = {d.partition("@")[0]: d.partition("@")[2]
                   for d in image.get("RepoDigests") or []}
        pairs = [split_tagged(t) for t in image.get("RepoTags") or []] \
            or [(r, "<none>") for r in digests] or [("<none>", "<none>")]
        for repo, tag in pairs:
            rows.append({
                "ID": image_id if no_trunc else image_id.removeprefix("sha256:")[:12],
                "Repository": repo,
                "Tag": tag,
                "Digest": digests.get(repo, "<none>"),
                "CreatedSince": human_duration(now - created) + " ago",
                "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC",
                                           time.gmtime(created)),
                "Size": human_size(size),
                "VirtualSize": human_size(size),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
            })
    return rows


def _images(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Show all images (default hides intermediate images)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    p.add_argument("-f", "--filter", action="append", default=[], metavar="filter",
                   help="Filter output based on conditions provided")
    args = parse_with_args(p, argv, ctx.command, at_most=1)
    # The docker CLI sends `images REPO[:TAG]` as a reference filter; the engine
    # (wire/images.py) validates and applies them, in-process or in orlopd.
    from orlop.cli.context import parse_filter_flags

    filters = parse_filter_flags(args.filter)
    if args.args:
        filters.setdefault("reference", []).append(args.args[0])
    rows = _rows(ctx.backend().image_list(filters or None), args.no_trunc)
    if args.quiet:
        for r in rows:
            print(r["ID"], file=ctx.stdout)
        return 0
    fmt = args.format or _DEFAULT_TABLE
    if args.digests and not args.format:
        fmt = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t"
               "{{.Size}}")
    _print_rows(fmt, rows, ctx)
    return 0


def _print_rows(fmt: str, rows: list[dict[str, Any]], ctx: Context) -> None:
    if fmt == "table" or fmt.startswith("table "):
        body = fmt[len("table"):].strip() or _DEFAULT_TABLE[len("table "):]
        columns = body.replace("\\t", "\t").split("\t")

        def title(m: str) -> str:
            import re

            return re.sub(r"\{\{\s*\.(\w+)\s*\}\}",
                          lambda x: _HEADERS.get(x.group(1), x.group(1).upper()), m)

        table = [[format_template(col, r, row=True) for col in columns] for r in rows]
        print(render_table([title(c) for c in columns], table), file=ctx.stdout)
        return
    for r in rows:
        print(format_template(fmt, r, row=True), file=ctx.stdout)


# --- rmi / tag / inspect / prune ---------------------------------------------------


def _rmi(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    args = parse_with_args(p, argv, ctx.command, at_least=1, positional="images")
    backend = ctx.backend()

    def remove(ref: str) -> None:
        for record in backend.image_remove(ref, args.force, args.no_prune):
            for key, value in record.items():
                print(f"{key}: {value}", file=ctx.stdout)

    # Docker goes on with the other images and reports each failure.
    return for_each(args.images, ctx, remove, echo=False)


def _tag(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    args = parse_with_args(p, argv, ctx.command, exactly=2)
    ctx.backend().image_tag(args.args[0], args.args[1])
    return 0


def _inspect(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-f", "--format", default="", help=FORMAT_PLAIN)
    p.add_argument("images", nargs="*")
    args = p.parse_args(argv)
    ctx.command = "image inspect"
    require_args(args.images, ctx.command, at_least=1)
    from orlop.errors import NotFoundError

    backend = ctx.backend()
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for ref in args.images:
        try:
            results.append(backend.image_inspect(ref))
        except NotFoundError as err:
            errors.append(str(err))
    return write_inspect(ctx.stdout, ctx.stderr, results, errors, args.format)


def _history(argv: list[str], ctx: Context) -> int:
    """``image history``: Docker's columns, newest layer first."""
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-H", "--human", nargs="?", const="true", default="true",
                   help="Print sizes and dates in human readable format")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    args = parse_with_args(p, argv, ctx.command, exactly=1)
    import time

    from orlop.cli.units import human_duration, human_size

    human = args.human.lower() not in ("false", "0")
    now = time.time()
    rows = []
    for h in ctx.backend().image_history(args.args[0]):
        hid = str(h.get("Id") or "")
        if hid != "<missing>" and not args.no_trunc:
            hid = hid.removeprefix("sha256:")[:12]
        created = int(h.get("Created") or 0)
        created_by = str(h.get("CreatedBy") or "")
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        size = int(h.get("Size") or 0)
        rows.append({
            "ID": hid,
            "CreatedSince": (human_duration(now - created) + " ago") if human and created
            else ("N/A" if not created else time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))),
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
            "CreatedBy": created_by, "Size": human_size(size) if human else str(size),
            "Comment": str(h.get("Comment") or "")})
    if args.quiet:
        for r in rows:
            print(r["ID"], file=ctx.stdout)
        return 0
    if args.format:
        for r in rows:
            print(format_template(args.format, r, row=True), file=ctx.stdout)
        return 0
    print(render_table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                       [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]]
                        for r in rows]), file=ctx.stdout)
    return 0


def _prune(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Remove all unused images, not just dangling ones")
    add_prune_flags(p, '"until=<timestamp>"')
    args = p.parse_args(argv)
    from orlop.cli.context import parse_filter_flags

    filters = parse_filter_flags(args.filter)
    if args.all:
        filters["dangling"] = ["false"]
    if not args.force:
        what = ("all images without at least one container associated to them"
                if args.all else "all dangling images")
        print(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ",
              end="", file=ctx.stdout, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    from orlop.cli.units import human_size

    report = ctx.backend().image_prune(filters or None)
    lines = [f"{key.lower()}: {value}" for record in report.get("ImagesDeleted") or []
             for key, value in record.items()]
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    if lines:
        print("Deleted Images:", file=ctx.stdout)
        print("\n".join(lines) + "\n", file=ctx.stdout)
    print(f"Total reclaimed space: {human_size(reclaimed)}", file=ctx.stdout)
    return 0
