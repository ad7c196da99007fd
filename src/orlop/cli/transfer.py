"""A byte-count progress line for the long CLI operations that stream an archive
(``load``, ``import``, ``volume import``, ``volume export``, and ``cp`` in Docker's own
form: :class:`CopyLine`).

Docker's daemon wraps such a stream in a progress reader and its CLI renders the JSON
messages on a terminal as one line rewritten in place: ``Loading layer  [==>   ]
1.2MB/5MB`` when the total is known, the byte count alone otherwise.  The CLI here counts
the bytes where they pass (the input file read, the archive written), so the same line
shows with or without ``-H``.  Orlop adds the rate (``12.5MB/s``) as Podman does.

Only ever created when the stream is a terminal (:func:`for_terminal`); a pipe or a
test's captured output never sees a byte of it.  Imported lazily by the commands, only
then: a command whose output is not a terminal never imports this module.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import BinaryIO, TextIO

from orlop.distribution.progress import progress_bar
from orlop.units import human_size

_INTERVAL = 0.1  # at most ten redraws a second: a fast disk must not spend its time here
_RATE_AFTER = 0.25  # a rate over the first moments means nothing: shown after that


class TransferLine:
    """``LABEL [=====>    ] 1.04MB/2.14MB  3.2MB/s``, redrawn with ``\\r`` + clear line."""

    def __init__(self, out: TextIO, label: str, total: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.label = label
        self.total = total
        self.done = 0
        self._clock = clock
        self._start = clock()
        self._drawn = -1.0  # when the line was last drawn (-1: never)

    def add(self, n: int) -> None:
        """``n`` more bytes went through."""
        self.update(self.done + n)

    def update(self, done: int) -> None:
        self.done = done
        now = self._clock()
        if self._drawn < 0 or now - self._drawn >= _INTERVAL:
            self._drawn = now
            self._draw(now)

    def finish(self, text: str = "") -> None:
        """The last state drawn, then ``text`` (if any) in its place, then a newline."""
        if text:
            self.out.write(f"\r\x1b[2K{text}\n")
        else:
            self._draw(self._clock())
            self.out.write("\n")
        self.out.flush()

    def _draw(self, now: float) -> None:
        total = max(self.total, self.done) if self.total else 0
        line = f"{self.label} {progress_bar(self.done, total)}"
        elapsed = now - self._start
        if elapsed >= _RATE_AFTER and self.done:
            line += f"  {human_size(self.done / elapsed, 4)}/s"
        self.out.write(f"\r\x1b[2K{line}")
        self.out.flush()


class CopyLine:
    """``docker cp``'s progress on a terminal (docker/cli 24+ ``copyProgress``), byte for
    byte: the cursor saved, ``Preparing to copy...``, then, cursor hidden, the line
    replaced by ``Copying to container - 0B`` whose size alone is rewritten (column after
    the header, erase to the end) at most every 75 ms and only when it changed; at the
    end the cursor shown again and the line erased, for ``Successfully copied ...``."""

    INTERVAL = 0.075  # docker/cli's copyProgressUpdateThreshold

    def __init__(self, out: TextIO, header: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.header = header
        self._clock = clock
        self._shown = 0
        self._last = clock()
        out.write("\x1b[sPreparing to copy...")
        out.write(f"\x1b[?25l\x1b[u\x1b[2K{header}{human_size(0, 3)}")
        out.flush()

    def update(self, done: int) -> None:
        """``done`` bytes of tar moved so far."""
        now = self._clock()
        if done == self._shown or now - self._last < self.INTERVAL:
            return
        self._last, self._shown = now, done
        self.out.write(f"\x1b[{len(self.header) + 1}G\x1b[0K{human_size(done, 3)}")
        self.out.flush()

    def finish(self) -> None:
        self.out.write("\x1b[?25h\x1b[u\x1b[2K")
        self.out.flush()


class CountingReader:
    """A binary stream that reports each read to a :class:`TransferLine`; with
    ``finish_at_eof`` the line is finished (final state, newline) at the first empty read,
    so what the command prints next starts on a line of its own."""

    def __init__(self, raw: BinaryIO, line: TransferLine, finish_at_eof: bool = False) -> None:
        self.raw = raw
        self.line = line
        self._finish_at_eof = finish_at_eof

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self._count(len(data), n != 0)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        got = int(self.raw.readinto(buf) or 0)  # type: ignore[attr-defined]
        self._count(got, len(buf) > 0)
        return got

    def _count(self, got: int, asked: bool) -> None:
        if got:
            self.line.add(got)
        elif asked and self._finish_at_eof:
            self._finish_at_eof = False
            self.line.finish()

    def fileno(self) -> int:
        return self.raw.fileno()

    def __getattr__(self, name: str) -> object:
        return getattr(self.raw, name)


def size_of(stream: BinaryIO) -> int:
    """The bytes left to read when ``stream`` is a regular file (0: unknown, a pipe)."""
    import stat

    try:
        st = os.fstat(stream.fileno())
        if stat.S_ISREG(st.st_mode):
            return max(0, st.st_size - stream.tell())
    except (OSError, ValueError, AttributeError):
        pass
    return 0


def is_terminal(out: TextIO) -> bool:
    try:
        return os.isatty(out.fileno())
    except (OSError, ValueError, AttributeError):
        return False


def for_terminal(out: TextIO, label: str, total: int = 0) -> TransferLine | None:
    """A :class:`TransferLine` on ``out`` when it is a terminal, else None."""
    return TransferLine(out, label, total) if is_terminal(out) else None


__all__ = ["CopyLine", "CountingReader", "TransferLine", "for_terminal", "is_terminal",
           "size_of"]
