"""`orlop cp`: Docker's argument forms, flags and texts."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orlop.cli.context import Context, Parser, UsageError, parse_with_args
from orlop.cli.units import human_size

if TYPE_CHECKING:
    import argparse

# With -H: the archive endpoints, the host's half done here (cli/backend/data.py).
REMOTE = frozenset({"cp"})


def _split(arg: str) -> tuple[str, str]:
    """("container", "path") or ("", local path), as Docker's CLI splits ``cp`` arguments:
    an absolute path or one whose first ``:`` has nothing before it is local, and a local
    path with a ``:`` must be written ``./a:b``."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def parse_copy_args(p: Parser, argv: list[str], command: str) -> argparse.Namespace:
    """The -a/--archive and -q/--quiet of ``cp`` and ``volume cp``, and their two
    arguments (SRC DEST)."""
    p.add_argument("-a", "--archive", action="store_true",
                   help="Archive mode (copy all uid/gid information)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress progress output during copy. Progress output is automatically "
                        "suppressed if no terminal is attached")
    args = parse_with_args(p, argv, command, exactly=2)
    return args


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop cp", add_help=False)
    p.add_argument("-L", "--follow-link", action="store_true",
                   help="Always follow symbol link in SRC_PATH")
    args = parse_copy_args(p, argv, "cp")
    src_c, src = _split(args.args[0])
    dst_c, dst = _split(args.args[1])
    if src_c and dst_c:
        raise UsageError("copying between containers is not supported")
    if not src_c and not dst_c:
        raise UsageError("must specify at least one container source")
    backend = ctx.backend()
    ctx.stdout.flush()
    if src_c:
        if dst == "-":
            backend.copy_out(src_c, src, None, out_fd=ctx.stdout.fileno(),
                             follow_link=args.follow_link)
            return 0
        size = backend.copy_out(src_c, src, dst, follow_link=args.follow_link)
        target = dst
    else:
        if src == "-":
            size = backend.copy_in(dst_c, None, dst, in_fd=0, archive=args.archive)
        else:
            size = backend.copy_in(dst_c, src, dst, archive=args.archive,
                                   follow_link=args.follow_link)
        target = f"{dst_c}:{dst}"
    # Docker prints this only when stderr is a terminal (the progress is "automatically
    # suppressed if no terminal is attached to STDERR").
    if not args.quiet and os.isatty(ctx.stderr.fileno()):
        print(f"Successfully copied {human_size(size)} to {target}", file=ctx.stderr)
    return 0
