"""Reading a pipe to its end, the way the runtime and the engine hear from their children."""

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
