"""`orlop load`: Docker's flags, output and texts."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from typing import BinaryIO, TextIO

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    add_platform_variant_flag,
    parse_with_args,
)

REMOTE = frozenset({"load"})  # POST /images/load with -H (the archive streamed)


def _open_input(path: str) -> BinaryIO:
    """The archive of ``-i``, its failures in the docker CLI's words (Go's ``*PathError``
    texts: ``open X: no such file or directory``, ``read X: is a directory``)."""
    from orlop.errors import InvalidParameterError

    try:
        f = open(path, "rb")
    except IsADirectoryError:
        raise InvalidParameterError(f"read {path}: is a directory") from None
    except OSError as err:
        why = os.strerror(err.errno).lower() if err.errno else str(err)
        raise InvalidParameterError(f"open {path}: {why}") from None
    if stat.S_ISDIR(os.fstat(f.fileno()).st_mode):
        f.close()
        raise InvalidParameterError(f"read {path}: is a directory")
    return f


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop load", add_help=False)
    p.add_argument("-i", "--input", default="", help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    add_platform_variant_flag(p, "Load")
    args = parse_with_args(p, argv, "load", exactly=0)
    backend = ctx.backend()
    with contextlib.ExitStack() as stack:
        if args.input:
            stream = stack.enter_context(_open_input(args.input))
        else:
            if os.isatty(sys.stdin.fileno()):
                raise UsageError("requested load from stdin, but stdin is empty")
            stream = sys.stdin.buffer
        if args.quiet or not is_terminal(ctx.stdout):
            lines = backend.image_load(stream)
        else:
            from orlop.cli.progress import TerminalProgress

            layers = TerminalProgress(ctx.stdout)
            lines = backend.image_load(
                with_progress(ctx, stream, "Reading archive", quiet=False),
                lambda layer, done, size: layers.layer(layer, "Loading layer", done, size))
    for line in lines:
        print(line, file=ctx.stdout)
    return 0


def is_terminal(out: TextIO) -> bool:
    try:
        return os.isatty(out.fileno())
    except (OSError, ValueError):
        return False


def with_progress(ctx: Context, stream: BinaryIO, label: str, quiet: bool) -> BinaryIO:
    """``stream`` counted into a progress line on stdout when stdout is a terminal and
    not ``-q`` (the docker CLI renders the daemon's progress messages there, and only on
    a terminal); ``stream`` itself otherwise, the renderer never imported.  The line is
    left at its final state, as Docker's, when the stream is read to its end."""
    if quiet or not is_terminal(ctx.stdout):
        return stream
    from orlop.cli.transfer import CountingReader, TransferLine, size_of

    return CountingReader(stream, TransferLine(ctx.stdout, label, size_of(stream)),
                          finish_at_eof=True)  # type: ignore[return-value]
