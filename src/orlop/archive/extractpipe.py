"""Extraction on two threads: the archive is read on the caller's thread, the entries are
made on a second one, in the archive's order.

Why (issue 17, ``volume import``): reading the archive (the read into memory, its
checksum, the headers parsed in Python) and making the files (``openat``, ``pwrite``
into the page cache, the metadata calls) each take a few hundred milliseconds of a
256 MiB import, one after the other on one thread.  The second half is nearly all
system calls, during which Python releases the GIL, so on a second core the two
overlap: the reading thread parses member N+1 while the kernel creates member N.

What stays as it was: one thread, the writer, makes every entry, one after the other
in the archive's order, with the same code (``_Extractor.extract``) and the same
checks; the reader touches no file of the destination.  A member's data is read by the
reader and handed over as the pieces ``extractfile`` would have given (at most 1 MiB
each, a read error as the piece where it happened), so the writer sees the same bytes
and raises the same errors at the same member.  The reader is at most ``_DEPTH`` items
ahead (a member with its first piece, or a further piece: about 16 MiB at most in memory,
the read-ahead buffers its views hold).  Errors keep the one-thread order: a member's error
in the writer stops it (the rest is only drained) and is raised by the caller; an error
of the reader (a corrupt header, a failed decompression, ``on_entry``) is raised after
the writer has made every member before it, as one thread would have left them; and
``run`` returns or raises only once the writer has stopped, so nothing is written in
the destination after it.
"""

from __future__ import annotations

import sys
import tarfile
import threading
from _queue import SimpleQueue  # queue.SimpleQueue, without queue's other imports
from collections.abc import Callable, Iterable
from typing import Any

from orlop.archive.streams import Readable

# How long a thread waiting for the GIL lets its holder run before asking for it
# (Python's default: 5 ms).  The writer takes the GIL back after each of its ~7 system
# calls a file, mostly while the reader is parsing: at 5 ms a wait it would run in step
# with the reader's own releases (a read of the archive, a checksum) and the two would
# hardly overlap; 100 microseconds measured best (extraction 0.35 s against 0.37 s at
# 5 ms, 0.40 s on one thread, the minimum of 8 runs each).
_SWITCH = 1e-4
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0

_DEPTH = 16  # items (a member with its data, or a further piece of a large one) ahead
_PIECE = 1 << 20  # bytes read from a member at a time (the extractor's own read size)
_END = None  # the last item: the reader has stopped, at the end or on an error


class _ReaderStoppedError(Exception):  # never leaves this module
    """The reader stopped in the middle of a member's data (it raises its own error)."""


class _Data:
    """A regular member's data as the writer reads it (what ``extractfile`` gave):
    the pieces the reader sent with the member, then the items that continue it."""

    def __init__(self, pipe: _Pipe, pieces: list[bytes | memoryview | BaseException],
                 more: bool) -> None:
        self._pipe = pipe
        self._pieces = pieces
        self._next = 0
        self._more = more
        self._rest: bytes | memoryview = b""

    def read(self, size: int = -1, /) -> bytes | memoryview:
        if self._rest:
            data = self._rest
        else:
            data = self._piece()
        if 0 <= size < len(data):
            self._rest = data[size:]
            return data[:size]
        self._rest = b""
        return data

    def _piece(self) -> bytes | memoryview:
        while self._next >= len(self._pieces):
            if not self._more:
                return b""
            item = self._pipe.take()
            if item is _END:
                self._more = False
                raise _ReaderStoppedError()
            _member, self._pieces, self._more = item
            self._next = 0
        piece = self._pieces[self._next]
        self._next += 1
        if isinstance(piece, BaseException):
            self._pieces, self._next, self._more = [], 0, False
            raise piece
        return piece

    def drain(self) -> bool:
        """Take what is left of this member; False if the reader stopped meanwhile."""
        while self._more:
            item = self._pipe.take()
            if item is _END:
                return False
            self._more = item[2]
        return True


class _Source:
    """What the extractor is given as its ``TarStream`` for one member: its
    ``extractfile`` is the data the reader sent."""

    __slots__ = ("data",)

    def __init__(self, data: _Data) -> None:
        self.data = data

    def extractfile(self, member: tarfile.TarInfo) -> _Data:
        return self.data


class _Pipe:
    def __init__(self) -> None:
        self._items: SimpleQueue[Any] = SimpleQueue()
        # One token per item the reader may have ahead: both queues block in C, with the
        # GIL released, and cost less than a queue.Queue's condition variables.
        self._slots: SimpleQueue[None] = SimpleQueue()
        for _ in range(_DEPTH):
            self._slots.put(None)
        self.error: BaseException | None = None

    def give(self, item: Any) -> None:
        self._slots.get()
        self._items.put(item)

    def end(self) -> None:
        self._items.put(_END)  # without a slot: the writer takes it whatever is queued

    def take(self) -> Any:
        item = self._items.get()
        if item is not _END:
            self._slots.put(None)
        return item

    def write(self, extract: Callable[[Any, tarfile.TarInfo], None]) -> None:
        """The writer's loop: every member in order until the reader's end; after an
        error, the rest is only taken (so that the reader never waits for a slot)."""
        while True:
            item = self.take()
            if item is _END:
                return
            member, pieces, more = item
            data = _Data(self, pieces, more)
            if self.error is None:
                try:
                    extract(_Source(data), member)
                except BaseException as err:  # raised by the caller's thread
                    self.error = err
            if not data.drain():
                return


def _short_switch(start: bool) -> None:
    """The short switch interval while any extraction runs (orlopd may run several at
    once): the process's own setting is kept and put back after the last one."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if start:
            if not _switch_users:
                _switch_saved = sys.getswitchinterval()
                sys.setswitchinterval(min(_switch_saved, _SWITCH))
            _switch_users += 1
        else:
            _switch_users -= 1
            if not _switch_users:
                sys.setswitchinterval(_switch_saved)


def run(members: Iterable[tuple[Any, tarfile.TarInfo]],
        extract: Callable[[Any, tarfile.TarInfo], None],
        on_entry: Callable[[tarfile.TarInfo], None] | None = None) -> int:
    """``extract(tf, member)`` for every member of ``members`` (``iter_members``'s pairs),
    on a second thread; the number of members.  See the module docstring."""
    pipe = _Pipe()
    writer = threading.Thread(target=pipe.write, args=(extract,), name="orlop-extract",
                              daemon=True)
    writer.start()
    _short_switch(True)
    entries = 0
    try:
        for tf, member in members:
            entries += 1
            if on_entry is not None:
                on_entry(member)
            if member.isreg():  # the one kind whose data the extractor reads
                _send_data(pipe, member, tf.extractfile(member))
            else:
                pipe.give((member, [], False))
            if pipe.error is not None:
                break  # before the next header: finding it would read the rest of this data
    except BaseException:
        _stop(pipe, writer)
        raise
    _stop(pipe, writer)
    return entries


def _send_data(pipe: _Pipe, member: tarfile.TarInfo, src: Readable) -> None:
    """The member with its data, in items of one piece (views of the reader's buffer
    where it gives them: the writer's ``pwrite`` is then the one copy)."""
    read: Callable[[int], bytes | memoryview] = getattr(src, "readview", src.read)
    pieces: list[bytes | memoryview | BaseException] = []
    first = True
    while pipe.error is None:  # else the writer stopped: the rest of a large file unread
        try:
            piece = read(_PIECE)
        except tarfile.ReadError as err:
            pieces.append(err)  # raised by the writer at that point of the data
            break
        if not piece:
            break
        if pieces:
            pipe.give((member if first else None, pieces, True))
            first = False
            pieces = []
        pieces.append(piece)
    pipe.give((member if first else None, pieces, False))


def _stop(pipe: _Pipe, writer: threading.Thread) -> None:
    """Wait for the writer; its error first: it is about an earlier member than the
    reader's (raised by the caller after this returns)."""
    pipe.end()
    try:
        writer.join()
    finally:
        _short_switch(False)
    error = pipe.error
    if error is not None and not isinstance(error, _ReaderStoppedError):
        raise error


__all__ = ["run"]
