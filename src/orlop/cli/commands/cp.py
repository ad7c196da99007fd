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
    if src_c and dst == "-":
        backend.copy_out(src_c, src, None, out_fd=ctx.stdout.fileno(),
                         follow_link=args.follow_link)
        return 0
    # docker/cli: quiet unless -q is left out and stdout is a terminal; then the progress
    # line on stderr if that is a terminal too, and "Successfully copied" on stderr.
    quiet = args.quiet or not _isatty(ctx.stdout)
    line = None
    if not quiet and _isatty(ctx.stderr):
        from orlop.cli.transfer import CopyLine

        line = CopyLine(ctx.stderr, "Copying from container - " if src_c
                        else "Copying to container - ")
    progress = line.update if line is not None else None
    try:
        if src_c:
            size = backend.copy_out(src_c, src, dst, follow_link=args.follow_link,
                                    progress=progress)
            target = _local_path(dst)
        else:
            if src == "-":
                backend.copy_in(dst_c, None, dst, in_fd=0, archive=args.archive)
                size = 0  # the docker CLI does not count a tar read from stdin: "0B"
            else:
                size = backend.copy_in(dst_c, src, dst, archive=args.archive,
                                       follow_link=args.follow_link, progress=progress)
            target = f"{dst_c}:{dst}"
    finally:
        if line is not None:
            line.finish()
    if not quiet:
        print(f"Successfully copied {human_size(size)} to {target}", file=ctx.stderr)
    return 0


def _isatty(stream: object) -> bool:
    try:
        return os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False


def _local_path(path: str) -> str:
    """The docker CLI's ``resolveLocalPath``: absolute, a trailing ``/.`` or ``/`` kept
    (moby's ``PreserveTrailingDotOrSeparator``)."""
    out = os.path.abspath(path)
    stripped = path.rstrip("/")
    if stripped and stripped.rsplit("/", 1)[-1] == ".":
        out += "." if out.endswith("/") else "/."
    if path.endswith("/") and not out.endswith("/"):
        out += "/"
    return out
