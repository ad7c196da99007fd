"""Reading a pipe to its end (the way the runtime and the engine hear from their children),
and writing a buffer whole to a pipe or a terminal."""

from __future__ import annotations

import os


def read_all(fd: int) -> bytes:
    """Everything written to ``fd`` until every writer closed it (EOF).

    A child reports through a CLOEXEC pipe: EOF without data means its execve succeeded.
    """
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd``: a pipe or a terminal takes it in pieces."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
