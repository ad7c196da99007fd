"""The exact bytes of a layer tar, reproduced from its extracted files ("tar-split").

Why: an image id is the digest of its config, and the config names every layer by
its diff_id, the sha256 of the layer's uncompressed tar.  ``save`` must therefore write
each layer as *exactly* the bytes that were hashed when the layer came in, or the
image comes back from ``save | load`` under another id.  The store keeps layers
extracted (they are overlay lower directories), so the tar itself is gone; a
re-serialisation of the directory is canonical (sorted names, whole-second times) and
matches neither a ``docker import``ed tarball (GNU tar: its own order, ``./`` names,
user names) nor a layer written by Docker.

The choices, and why this one:

* record the diff_id of the canonical re-serialisation at import/commit time: breaks
  Docker's rule that an imported layer is the sha256 of the tarball (and the test
  that checks it), and cannot work for ``load``, whose config (hence diff_ids) is
  fixed by the archive;
* keep the original tar next to the extracted layer: a second copy of every layer;
* keep only what the extracted files do not hold (this module, as Docker's
  ``tar-split``): every header, padding and trailer byte verbatim, and for each
  regular file only "``size`` bytes of the file at ``path``".  That is a few hundred
  bytes per entry (zlib-compressed), whatever the origin (import, commit, load), and
  ``save`` reassembles the stream and checks its digest before using it.

The recorder is fed the uncompressed stream by the reader that hashes it (the one pass
of the extraction), and is told by the extractor which byte ranges are payloads of files
it wrote.  When the extraction removed something it had written (a duplicate name, a
whiteout of a file of the same tar: the payload is gone from the tree) the recording is
marked invalid and the store falls back (see ``ImageStore._stage``).

File format (zlib stream): ``MAGIC``, then records ``R <u64 n> <n bytes>`` (verbatim),
``F <u64 size> <u32 n> <n bytes path>`` (``size`` bytes of the file at ``path``,
resolved inside the layer), ``E`` (end).
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from collections.abc import Callable

from orlop.archive.streams import Hasher
from orlop.kernel.safepath import open_nofollow_in_root

MAGIC = b"orlop-tarsplit 1\n"
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
# Bytes kept undecided behind the read position: the tar reader (orlop.archive.tarread)
# reads ahead of a header by less than 32 KiB, so a payload never starts further back.
_KEEP = 64 << 10
_CHUNK = 1 << 20


class SplitError(Exception):
    """The recording does not match the layer directory (or is damaged)."""


class SplitRecorder:
    """Writes the split of one tar stream to ``out_fd`` as the stream is read."""

    def __init__(self, out_fd: int) -> None:
        self._out = out_fd
        self._z = zlib.compressobj(6)
        self._pos = 0  # stream offset after the last byte fed
        self._done = 0  # stream offset up to which bytes are written or dropped
        self._pending = bytearray()  # bytes [_done, _pos): not known yet to be payload
        self._drop_end = 0  # payload bytes below this offset are not recorded
        self.valid = True
        self._write(MAGIC)

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        out = self._z.compress(data)
        view = memoryview(out)
        while view:
            view = view[os.write(self._out, view):]

    def _raw(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self._write(b"R" + _U64.pack(len(data)))
            self._write(data)

    def feed(self, data: bytes) -> None:
        """The next bytes of the uncompressed stream, in order."""
        if not self.valid:
            return
        view = memoryview(data)
        if self._drop_end > self._pos:  # the rest of a payload: the file holds it
            n = min(len(view), self._drop_end - self._pos)
            view = view[n:]
            self._pos += n
            self._done = self._pos
        self._pending += view
        self._pos += len(view)
        if len(self._pending) > 2 * _KEEP:
            cut = len(self._pending) - _KEEP
            self._raw(memoryview(self._pending)[:cut])
            del self._pending[:cut]
            self._done += cut

    def payload(self, start: int, size: int, path: str) -> None:
        """Bytes [start, start+size) of the stream are the content of the file ``path``
        (relative to the layer root), which the extractor is about to write in full."""
        if not self.valid:
            return
        if start < self._done or start > self._pos:
            self.valid = False  # cannot happen with tarfile; never guess
            return
        head = start - self._done
        self._raw(memoryview(self._pending)[:head])
        name = os.fsencode(path)
        self._write(b"F" + _U64.pack(size) + _U32.pack(len(name)) + name)
        end = start + size
        keep_from = min(end, self._pos)
        del self._pending[:keep_from - self._done]
        self._done = keep_from
        self._drop_end = end

    def finish(self) -> None:
        """The rest of the stream (trailer, record padding) and the end marker."""
        self._raw(self._pending)
        self._pending = bytearray()
        self._write(b"E")
        view = memoryview(self._z.flush())
        while view:
            view = view[os.write(self._out, view):]


class _Records:
    """Sequential reader of the decompressed split file."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._z = zlib.decompressobj()
        self._buf = bytearray()

    def take(self, n: int) -> bytes:
        while len(self._buf) < n:
            # Bounded output per call: a split holding a whole tar of zeros inflates
            # a thousandfold, and must not be inflated in one piece.
            data = self._z.unconsumed_tail or os.read(self._fd, 1 << 16)
            if not data:
                raise SplitError("truncated tar-split record")
            try:
                self._buf += self._z.decompress(data, _CHUNK)
            except zlib.error as err:
                raise SplitError(f"damaged tar-split: {err}") from err
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def reassemble(split_fd: int, layer_fd: int, out_fd: int, hasher: Hasher) -> int:
    """Write the recorded tar stream to ``out_fd`` (hashed by ``hasher``), taking file
    contents from the layer directory ``layer_fd``; returns the bytes written.

    Raises :class:`SplitError` if a recorded file is missing or has another size; the
    caller also compares the digest, which is what proves the bytes are the layer's.
    """
    rec = _Records(split_fd)
    if rec.take(len(MAGIC)) != MAGIC:
        raise SplitError("not a tar-split file")
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    total = 0

    def emit(data: bytes | memoryview) -> None:
        nonlocal total
        hasher.update(data)
        v = memoryview(data)
        while v:
            v = v[os.write(out_fd, v):]
        total += len(data)

    while True:
        kind = rec.take(1)
        if kind == b"E":
            return total
        if kind == b"R":
            left = _U64.unpack(rec.take(8))[0]
            while left:
                part = rec.take(min(left, _CHUNK))
                emit(part)
                left -= len(part)
        elif kind == b"F":
            size = _U64.unpack(rec.take(8))[0]
            path = os.fsdecode(rec.take(_U32.unpack(rec.take(4))[0]))
            emit_file(layer_fd, path, size, view, emit)
        else:
            raise SplitError(f"damaged tar-split: record type {kind!r}")


def emit_file(layer_fd: int, path: str, size: int, view: memoryview,
              emit: Callable[[memoryview], None]) -> None:
    """``size`` bytes of the regular file ``path`` in the layer (never through a symlink
    in its last component; parents resolved inside the layer, as the extractor did)."""
    try:
        fd = open_nofollow_in_root(layer_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EXDEV, errno.ENXIO):
            raise SplitError(f"{path}: {os.strerror(err.errno or 0)}") from err
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            raise SplitError(f"{path}: not the recorded regular file of {size} bytes")
        left = size
        while left:
            n = os.readv(fd, [view[:min(left, len(view))]])
            if n == 0:
                raise SplitError(f"{path}: shorter than recorded")
            emit(view[:n])
            left -= n
    finally:
        os.close(fd)


__all__ = ["MAGIC", "SplitError", "SplitRecorder", "reassemble"]
