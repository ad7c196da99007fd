"""`orlop import`, `images`, `rmi`, `tag` and the `orlop image` group, with Docker's
flags, output and texts."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orlop.cli.context import Context, Parser, UsageError, require_args
from orlop.cli.output import dump_json, format_template, render_table

if TYPE_CHECKING:
    from orlop.images.store import Image, ImageStore

_GROUP = {"ls": "images", "list": "images", "import": "import", "inspect": "inspect",
          "rm": "rmi", "remove": "rmi", "tag": "tag", "prune": "prune"}
_GROUP_HELP = """
Usage:  orlop image COMMAND

Manage images

Commands:
  import      Import the contents from a tarball to create a filesystem image
  inspect     Display detailed information on one or more images
  ls          List images
  prune       Remove unused images
  rm          Remove one or more images
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
"""

# Column titles for `images --format "table ..."`, as Docker's image formatter names them.
_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
            "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
            "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE",
            "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
_DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "image":
        if not argv or argv[0] in ("-h", "--help"):
            print(_GROUP_HELP, file=ctx.stdout)
            return 0
        sub = _GROUP.get(argv[0])
        if sub is None:
            raise UsageError(f'unknown command "{argv[0]}" for "orlop image"')
        ctx.command = f"image {argv[0]}"
        argv = argv[1:]
        name = sub
    commands: dict[str, Callable[[list[str], Context], int]] = {
        "import": _import, "images": _images, "rmi": _rmi, "tag": _tag,
        "inspect": _inspect, "prune": _prune,
    }
    return commands[name](argv, ctx)


def _store(ctx: Context) -> ImageStore:
    return ctx.engine().images


# --- import ------------------------------------------------------------------


def _import(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("--platform", default="")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, at_least=1, at_most=2)
    source = args.args[0]
    reference = args.args[1] if len(args.args) > 1 else None
    if args.platform and args.platform.split("/")[0] != "linux":
        raise UsageError(f'"{args.platform}": operating system is not supported')
    if source.startswith(("http://", "https://")):
        from orlop.errors import UnsupportedError

        raise UnsupportedError(
            f"importing from a URL ({source}) is not supported: Orlop never reaches the "
            "network; download the file and import it")
    store = _store(ctx)
    if source == "-":
        image = store.import_tar(sys.stdin.buffer, reference, args.change, args.message)
    else:
        try:
            f = open(source, "rb")
        except OSError as err:
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(
                f"open {source}: {(err.strerror or str(err)).lower()}") from err
        with f:
            image = store.import_tar(f, reference, args.change, args.message)
    print(image.id, file=ctx.stdout)
    return 0


# --- images --------------------------------------------------------------------


def _rows(images: list[Image], no_trunc: bool) -> list[dict[str, Any]]:
    from orlop.cli.units import docker_date, human_size, time_ago
    from orlop.images.reference import split_tagged

    rows = []
    for image in images:
        pairs = [split_tagged(t) for t in image.repo_tags] or [("<none>", "<none>")]
        for repo, tag in pairs:
            rows.append({
                "ID": image.id if no_trunc else image.short_id,
                "Repository": repo,
                "Tag": tag,
                "Digest": "<none>",
                "CreatedSince": time_ago(image.created),
                "CreatedAt": docker_date(image.created),
                "Size": human_size(image.size),
                "VirtualSize": human_size(image.size),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
            })
    return rows


def _matches(pattern: str, repo: str, tag: str) -> bool:
    """Docker's `images REPOSITORY[:TAG]` and `reference=` filter: a glob on the
    repository, and on the tag when the pattern has one."""
    from orlop.images.reference import split_tagged

    prepo, ptag = split_tagged(pattern)
    if not fnmatch.fnmatchcase(repo, prepo):
        return False
    return not ptag or fnmatch.fnmatchcase(tag, ptag)


def _images(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--digests", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, at_most=1)
    dangling: bool | None = None
    patterns = list(args.args)
    for flt in args.filter:
        key, eq, value = flt.partition("=")
        if not eq:
            raise UsageError("bad format of filter (expected name=value)")
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                from orlop.errors import InvalidParameterError

                raise InvalidParameterError(
                    f"Invalid filter 'dangling=[{value}]'")
            dangling = value.lower() in ("true", "1")
        elif key == "reference":
            patterns.append(value)
        else:
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(f"invalid filter '{key}'")
    images = _store(ctx).list()
    if dangling is not None:
        images = [i for i in images if (not i.repo_tags) == dangling]
    rows = _rows(images, args.no_trunc)
    if patterns:
        rows = [r for r in rows if r["Repository"] != "<none>"
                and any(_matches(pat, r["Repository"], r["Tag"]) for pat in patterns)]
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

        table = [[format_template(col, r) for col in columns] for r in rows]
        print(render_table([title(c) for c in columns], table), file=ctx.stdout)
        return
    for r in rows:
        print(format_template(fmt, r), file=ctx.stdout)


# --- rmi / tag / inspect / prune ---------------------------------------------------


def _rmi(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--no-prune", action="store_true")
    p.add_argument("images", nargs="*")
    args = p.parse_args(argv)
    require_args(args.images, ctx.command, at_least=1)
    from orlop.errors import OrlopError

    store = _store(ctx)
    failed = False
    for ref in args.images:
        try:
            for line in store.remove(ref, force=args.force):
                print(line, file=ctx.stdout)
        except OrlopError as err:
            # Docker goes on with the other images and reports each failure.
            print(f"Error: {err}", file=ctx.stderr)
            failed = True
    return 1 if failed else 0


def _tag(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, exactly=2)
    _store(ctx).tag(args.args[0], args.args[1])
    return 0


def _inspect(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-f", "--format", default="")
    p.add_argument("images", nargs="*")
    args = p.parse_args(argv)
    ctx.command = "image inspect"
    require_args(args.images, ctx.command, at_least=1)
    from orlop.errors import NotFoundError

    store = _store(ctx)
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for ref in args.images:
        try:
            results.append(store.inspect(store.get(ref)))
        except NotFoundError as err:
            errors.append(f"Error: {err}")
    if args.format:
        for r in results:
            print(format_template(args.format, r), file=ctx.stdout)
    else:
        print(dump_json(results), file=ctx.stdout)
    for e in errors:
        print(e, file=ctx.stderr)
    return 1 if errors else 0


def _prune(argv: list[str], ctx: Context) -> int:
    p = Parser(prog=f"orlop {ctx.command}", add_help=False)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if args.filter:
        from orlop.errors import UnsupportedError

        raise UnsupportedError("image prune --filter is not supported yet")
    if not args.force:
        what = ("all images without at least one container associated to them"
                if args.all else "all dangling images")
        print(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ",
              end="", file=ctx.stdout, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    from orlop.cli.units import human_size
    from orlop.errors import ConflictError

    store = _store(ctx)
    lines: list[str] = []
    reclaimed = 0
    for image in store.list():
        if image.repo_tags and not args.all:
            continue
        if store.containers_using(image.id):
            continue  # used by a container: not "unused"
        try:
            out = store.remove(image.id, force=True)
        except ConflictError:
            continue  # a container started using it meanwhile
        if any(line.startswith("Deleted:") for line in out):
            reclaimed += image.size
            lines += [line[0].lower() + line[1:] for line in out]
    if lines:
        print("Deleted Images:", file=ctx.stdout)
        print("\n".join(lines) + "\n", file=ctx.stdout)
    print(f"Total reclaimed space: {human_size(reclaimed)}", file=ctx.stdout)
    return 0
