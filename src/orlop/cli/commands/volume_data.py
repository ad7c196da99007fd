"""`orlop volume export|import|clone`: native volume backup, restore and copy.

Dispatched from orlop.cli.commands.volume (``volume_data.main(sub, argv, ctx)``).  With
``-H`` they go to orlopd's libpod endpoints (``/libpod/volumes/{name}/export`` and
``/import``) and Orlop's ``/libpod/volumes/{name}/clone``: the clone is made on the
server (reflinked where its filesystem can), never sent over the socket and back.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    parse_with_args,
    write_archive,
)
from orlop.cli.units import human_size

if TYPE_CHECKING:
    from orlop.cli.backend import Backend, VolumeBackend
    from orlop.cli.transfer import TransferLine


def main(sub: str, argv: list[str], ctx: Context) -> int:
    ctx.command = f"volume {sub}"
    commands: dict[str, Callable[[list[str], Context], int]] = {
        "export": _export, "import": _import, "clone": _clone, "cp": _cp}
    if sub not in commands:
        raise UsageError(f'unknown command "{sub}" for "orlop volume"')
    return commands[sub](argv, ctx)


def _progress(ctx: Context, verb: str) -> TransferLine | None:
    """``verb``'s progress line on stderr when it is a terminal (bytes done, the total
    when known, the rate), else None: the renderer is imported only then (start-up)."""
    try:
        if not os.isatty(ctx.stderr.fileno()):
            return None
    except (OSError, ValueError):
        return None
    from orlop.cli.transfer import TransferLine

    return TransferLine(ctx.stderr, verb)


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
    # Freezing the volume's writers takes the engine facade; anything else the volume
    # service alone (Context.volume_backend: the facade and the other areas' calls are
    # not imported, ~4 ms of the command's start).
    backend: VolumeBackend | Backend = (ctx.backend() if args.consistent and not args.snapshot
                                        else ctx.volume_backend())
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
    on_bytes = progress.update if progress is not None else None
    sizes: list[int] = []
    output = "" if args.output == "-" else args.output
    # -o FILE is written beside the target and renamed into place: a failed export never
    # leaves a truncated archive under that name.  Not fsync'ed, as GNU tar and
    # `docker save` do not: `sync` it if it must survive a power cut.  Over an existing
    # file the rename would start the whole archive's write-out and wait for the disk:
    # the export starts it as it writes instead (archive/writepipe.py).
    writeback = bool(output) and os.path.isfile(output)
    write_archive(ctx, output,
                  lambda fd: sizes.append(backend.volume_export(
                      args.args[0], fd, progress=on_bytes, checksum=args.checksum,
                      consistent=args.consistent, snapshot=args.snapshot or None,
                      since=args.since or None, writeback=writeback)))
    size = sizes[0]
    if progress is not None:
        progress.finish(f"Exported {human_size(size)}")
    return 0


def _import(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume import", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Import into a volume that containers are using (its content is "
                        "replaced entry by entry)")
    p.add_argument("-i", "--input", default="",
                   help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress the progress output (shown only when STDERR is a terminal)")
    args = parse_with_args(p, argv, ctx.command, at_least=1, at_most=2)
    source = args.input or (args.args[1] if len(args.args) > 1 else "-")
    backend = ctx.backend()
    with contextlib.ExitStack() as stack:
        stream: BinaryIO = sys.stdin.buffer if source == "-" else \
            stack.enter_context(open(source, "rb"))
        progress = None if args.quiet else _progress(ctx, "Importing")
        if progress is not None:
            from orlop.cli.transfer import CountingReader, size_of

            progress.total = size_of(stream)
            stream = CountingReader(stream, progress)  # type: ignore[assignment]
        name = backend.volume_import(args.args[0], stream, force=args.force)
        if progress is not None:
            progress.finish(f"Imported {human_size(progress.done)}")
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
