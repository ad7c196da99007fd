"""Reading a pipe to its end (the way the runtime and the engine hear from their children),
writing a buffer whole to a pipe or a terminal, and a producer thread writing a pipe
that the caller reads (a tar made while it is consumed)."""

from __future__ import annotations

import os
from collections.abc import Callable


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


def read_all_and_close(fd: int) -> bytes:
    """:func:`read_all`, then ``fd`` closed (also when the read fails): a child's report
    pipe is read once."""
    try:
        return read_all(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd``: a pipe or a terminal takes it in pieces."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue


class PipeProducer:
    """``produce(write_fd)`` run in a daemon thread, writing into a pipe whose read end
    :attr:`read_fd` the caller reads (and closes).  The write end is closed when the
    producer returns, so the reader sees EOF; a reader that stopped early only ends the
    producer (EPIPE, not an error).  Any other error of the producer is kept for
    :meth:`join`, for the caller to raise in its own thread."""

    def __init__(self, produce: Callable[[int], object], name: str) -> None:
        self.read_fd, wfd = os.pipe()
        self._failure: list[BaseException] = []

        def run() -> None:
            try:
                produce(wfd)
            except BrokenPipeError:
                pass
            except BaseException as err:  # re-raised in the caller's thread
                self._failure.append(err)
            finally:
                os.close(wfd)

        import threading  # here: most commands read and write fds without a thread

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def join(self) -> BaseException | None:
        """Wait for the producer; its error, if it failed."""
        self._thread.join()
        return self._failure[0] if self._failure else None
