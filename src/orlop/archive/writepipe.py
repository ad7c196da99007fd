"""A thread that hashes and writes a tar stream's filled buffers while the walk that
fills them goes on (``TarWriter.add_tree``).

Why: archiving a tree of small files alternates two kinds of work, opening and reading
the files (system calls and Python) and hashing and writing the archive (a CRC-32 or
sha256 over every byte, then the copy into the output), and the second does not need
the interpreter: ``zlib.crc32``, ``hashlib`` and ``os.write`` release the GIL.  So
filled buffers go to one writer thread, in order, and come back to be filled again
(a few of them: the walk waits when all are out).  The bytes and the order are exactly
what writing them in place gives; an error of the writer (a closed pipe, a full disk)
is raised in the walking thread at its next hand-over or at :meth:`WritePipe.drain`.
"""

from __future__ import annotations

import os
import stat
import threading
from _queue import SimpleQueue  # queue.SimpleQueue itself, without queue's other imports

from orlop.archive.streams import Hasher
from orlop.kernel.fs import start_writeback

# The size of one write(2).  Not larger: a write of 1 MiB asks the page cache for large
# folios, which on a VM with free page reporting (virtio-balloon) are the blocks the host
# took back, each page faulted in again: 256 MiB in 1 MiB writes measured 5 times the
# system time of 64 or 128 KiB writes here (docs/performance.md, fifth pass).
WRITE_SIZE = 128 << 10
# With ``writeback``, the write-out of every this many bytes is started as soon as they
# are written (WritePipe says when).
WRITEBACK_EVERY = 8 << 20


def write_all(fd: int, data: bytes | memoryview) -> None:
    """All of ``data`` to ``fd``, at most :data:`WRITE_SIZE` bytes a call."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:WRITE_SIZE]):]


class WritePipe:
    """``count`` buffers of ``size`` bytes, written (and hashed) to ``out_fd`` by one
    thread in the order :meth:`submit` gives them.

    ``writeback``: ``out_fd`` is a regular file that will replace an existing one (the CLI's
    ``-o`` over a previous archive), so the thread starts its write-out to the disk every
    :data:`WRITEBACK_EVERY` bytes (sync_file_range, waiting for nothing).  Otherwise the
    rename over the old file starts all of it at the end and waits for the disk's queue
    (ext4's ``auto_da_alloc``, as tar's close after its truncation does): 140 ms of the
    bench's 272 MB archive, with the disk idle while it was written.  Not for a new name:
    there the kernel writes it back after the command, and starting it here costs the
    writer thread ~20 to 40 ms of block allocation.  Durability is what it was either way
    (nothing waits for the disk; the pages only leave sooner).
    """

    def __init__(self, out_fd: int, hasher: Hasher | None, size: int, count: int = 3,
                 *, writeback: bool = False) -> None:
        self._out_fd = out_fd
        self._hasher = hasher
        self._todo: SimpleQueue[tuple[memoryview, int] | None] = SimpleQueue()
        self._done: SimpleQueue[memoryview] = SimpleQueue()
        self._free = [memoryview(bytearray(size)) for _ in range(count)]
        self._out = 0  # buffers submitted and not back yet
        self._error: BaseException | None = None
        # Where the file's write-out was last started (None: not asked, not a regular
        # file, or sync_file_range refused it once).
        self._flushed: int | None = None
        try:
            if writeback and stat.S_ISREG(os.fstat(out_fd).st_mode):
                self._flushed = os.lseek(out_fd, 0, os.SEEK_CUR)
        except OSError:
            pass
        self._unflushed = 0  # bytes written since
        self._thread = threading.Thread(target=self._run, name="tar-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            buf, n = job
            if self._error is None:  # after an error the rest is dropped, not written
                try:
                    if self._hasher is not None:
                        self._hasher.update(buf[:n])
                    write_all(self._out_fd, buf[:n])
                    self._unflushed += n
                    if self._unflushed >= WRITEBACK_EVERY and self._flushed is not None:
                        self._writeback(self._flushed)
                except BaseException as err:  # handed to the walking thread
                    self._error = err
            self._done.put(buf)

    def _writeback(self, start: int) -> None:
        """Start the write-out of what was written since ``start`` (the walk's own
        writes of large files included: it makes none while a buffer is out)."""
        try:
            end = os.lseek(self._out_fd, 0, os.SEEK_CUR)
            start_writeback(self._out_fd, start, end - start)
        except OSError:
            self._flushed = None  # a hint only: the writes go on without it
            return
        self._flushed, self._unflushed = end, 0

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def take(self) -> memoryview:
        """A buffer to fill (waiting for the writer when every buffer is out)."""
        if not self._free:
            self._free.append(self._done.get())
            self._out -= 1
        self._raise()
        return self._free.pop()

    def submit(self, buf: memoryview, n: int) -> None:
        """Write the first ``n`` bytes of ``buf`` (one :meth:`take` gave) after what was
        submitted before; ``buf`` is not to be touched until :meth:`take` returns it."""
        self._todo.put((buf, n))
        self._out += 1

    def drain(self) -> None:
        """Return once everything submitted is written (or raise the writer's error)."""
        while self._out:
            self._free.append(self._done.get())
            self._out -= 1
        self._raise()

    def close(self) -> None:
        """Stop the thread after what was submitted (errors are not raised: call
        :meth:`drain` first for them)."""
        self._todo.put(None)
        self._thread.join()


__all__ = ["WRITE_SIZE", "WritePipe", "write_all"]
