"""Docker's pull/push progress display (the docker CLI's ``jsonmessage``).

On a terminal: one line per layer, rewritten in place (cursor up, clear line) as the
layer moves through Waiting / Downloading [==>  ] x/y / Verifying Checksum / Download
complete / Extracting / Pull complete.  Elsewhere: one plain line per status change,
without the byte counts (what ``docker pull | cat`` prints).
"""

from __future__ import annotations

import threading
from typing import TextIO

from orlop.distribution.progress import progress_bar

_WITH_BYTES = ("Downloading", "Extracting", "Pushing", "Loading layer")


class _Lines:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.lines: list[str] = []  # layer ids, in the order their line was printed

    def message(self, text: str, id: str = "") -> None:
        with self.lock:
            self.out.write(f"{id}: {text}\n" if id else text + "\n")
            self.lines = []  # later layer lines start below this message
            self.out.flush()


class TerminalProgress(_Lines):

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        text = f"{layer_id}: {status}"
        if status in _WITH_BYTES and total:
            text += " " + progress_bar(current, total)
        with self.lock:
            if layer_id not in self.lines:
                self.lines.append(layer_id)
                self.out.write(text + "\n")
            else:
                up = len(self.lines) - self.lines.index(layer_id)
                self.out.write(f"\x1b[{up}A\x1b[2K\r{text}\x1b[{up}B\r")
            self.out.flush()


class PlainProgress(_Lines):

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        if status in _WITH_BYTES:
            return
        with self.lock:
            self.out.write(f"{layer_id}: {status}\n")
            self.out.flush()


def for_stream(out: TextIO) -> TerminalProgress | PlainProgress:
    try:
        tty = out.isatty()
    except ValueError:
        tty = False
    return TerminalProgress(out) if tty else PlainProgress(out)


__all__ = ["PlainProgress", "TerminalProgress", "for_stream"]
