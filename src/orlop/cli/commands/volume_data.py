"""`orlop volume export|import|clone`: native volume backup, restore and copy.

Dispatched from orlop.cli.commands.volume (``volume_data.main(sub, argv, ctx)``).  With
``-H`` they go to orlopd's libpod endpoints (``/libpod/volumes/{name}/export`` and
``/import``) and Orlop's ``/libpod/volumes/{name}/clone``: the clone is made on the
server (reflinked where its filesystem can), never sent over the socket and back.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    parse_with_args,
    write_archive,
)
from orlop.cli.units import human_size


def main(sub: str, argv: list[str], ctx: Context) -> int:
    ctx.command = f"volume {sub}"
    commands: dict[str, Callable[[list[str], Context], int]] = {
        "export": _export, "import": _import, "clone": _clone, "cp": _cp}
    if sub not in commands:
        raise UsageError(f'unknown command "{sub}" for "orlop volume"')
    return commands[sub](argv, ctx)


def _progress(ctx: Context, verb: str) -> Callable[[int], None] | None:
    """A one-line progress display on a terminal (stderr), at most ~10 updates a second."""
    try:
        if not os.isatty(ctx.stderr.fileno()):
            return None
    except (OSError, ValueError):
        return None
    last = [0.0]

    def show(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            print(f"\r{verb} {human_size(done)}   ", end="", file=ctx.stderr, flush=True)
    return show


def _export(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume export", add_help=False)
    p.add_argument("-o", "--output", default="",
                   help="Write to a file, instead of STDOUT (written to a temporary name, "
                        "then renamed)")
    p.add_argument("--checksum", default="crc32", choices=["crc32", "sha256"],
                   help="Checksum of the archive written in its trailer (crc32, sha256)")
    p.add_argument("--consistent", action="store_true",
                   help="Freeze the running containers writing to the volume, so the "
                        "archive is a point-in-time copy")
    p.add_argument("--snapshot", default="", metavar="string",
                   help="Export this snapshot's content instead of the volume's")
    p.add_argument("--since", default="", metavar="string",
                   help="Write only what changed since this snapshot (incremental)")
    args = parse_with_args(p, argv, ctx.command, exactly=1)
    backend = ctx.backend()
    if not args.consistent and not args.snapshot:
        # Docker's way: say what was not done rather than do it silently.
        users = [u.get("Name", "") for u in
                 backend.volume_inspect(args.args[0]).get("UsedBy") or []
                 if u.get("Running") and u.get("RW", True)]
        if users:
            print(f"WARNING: volume {args.args[0]} is in use by running containers "
                  f"({', '.join(sorted(set(users)))}): the archive may not be a "
                  "point-in-time copy; use --consistent to freeze them while it is "
                  "written", file=ctx.stderr)
    progress = _progress(ctx, "Exporting")
    sizes: list[int] = []
    # -o FILE is written beside the target and renamed into place: a failed export never
    # leaves a truncated archive under that name.  Not fsync'ed, as GNU tar and
    # `docker save` do not: `sync` it if it must survive a power cut.
    write_archive(ctx, "" if args.output == "-" else args.output,
                  lambda fd: sizes.append(backend.volume_export(
                      args.args[0], fd, progress=progress, checksum=args.checksum,
                      consistent=args.consistent, snapshot=args.snapshot or None,
                      since=args.since or None)))
    size = sizes[0]
    if progress is not None:
        print(f"\rExported {human_size(size)}   ", file=ctx.stderr)
    return 0


def _import(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume import", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Import into a volume that containers are using (its content is "
                        "replaced entry by entry)")
    p.add_argument("-i", "--input", default="",
                   help="Read from tar archive file, instead of STDIN")
    args = parse_with_args(p, argv, ctx.command, at_least=1, at_most=2)
    source = args.input or (args.args[1] if len(args.args) > 1 else "-")
    backend = ctx.backend()
    if source == "-":
        name = backend.volume_import(args.args[0], sys.stdin.buffer, force=args.force)
    else:
        with open(source, "rb") as f:
            name = backend.volume_import(args.args[0], f, force=args.force)
    print(name, file=ctx.stdout)
    return 0


def _clone(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume clone", add_help=False)
    args = parse_with_args(p, argv, ctx.command, exactly=2)
    print(ctx.backend().volume_clone(args.args[0], args.args[1]), file=ctx.stdout)
    return 0


def _cp(argv: list[str], ctx: Context) -> int:
    """``volume cp``: ``VOLUME:PATH`` or a host path on each side (docker cp's split: a
    path starting with ``/`` or ``.``, or without ``:``, is the host's)."""
    from orlop.cli.commands.cp import _split, parse_copy_args

    p = Parser(prog="orlop volume cp", add_help=False)
    args = parse_copy_args(p, argv, ctx.command)
    src_v, src = _split(args.args[0])
    dst_v, dst = _split(args.args[1])
    if not src_v and not dst_v:
        raise UsageError("must specify at least one volume source")
    if "-" in (src, dst) and not (src_v and dst_v):
        raise UsageError("volume cp does not read or write a tar on STDIN/STDOUT: use "
                         "volume export / volume import")
    backend = ctx.backend()
    size = backend.volume_cp(src_v, src, dst_v, dst, archive=args.archive)
    target = f"{dst_v}:{dst}" if dst_v else dst
    # as cp: only when stderr is a terminal
    if not args.quiet and os.isatty(ctx.stderr.fileno()):
        print(f"Successfully copied {human_size(size)} to {target}", file=ctx.stderr)
    return 0
