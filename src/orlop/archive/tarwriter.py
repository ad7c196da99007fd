"""Write tar streams from directory trees reached by file descriptor.

The counterpart of :mod:`orlop.archive.extract` (which reads them), for every tar the
engine *produces*: ``commit`` layers, ``cp`` out of a container, ``export``, ``save``
and ``volume export``.  security-principles.md R8: "every tar we write must not follow
links" — a tree inside a container (its upper dir, its rootfs, a volume it can write)
is content a container controls, and it can swap a file for a symlink to a host file
between our look and our read (CVE-2018-15664, the ``docker cp`` symlink-exchange
race; CVE-2019-14271 was the same ``docker cp`` path loading container code).  So:

* every step is relative to an open directory fd: ``openat(O_NOFOLLOW)`` for files and
  directories, ``fstatat(AT_SYMLINK_NOFOLLOW)`` for the rest; a symlink is archived as
  a symlink, never read through;
* a regular file is opened ``O_NOFOLLOW|O_NONBLOCK`` and its ``fstat`` must be the same
  inode the directory listing showed, or the entry is skipped as "changed while read"
  (a FIFO swapped in cannot block us, a symlink cannot be opened at all);
* the size written is the size in the header: a file that grows while it is read is
  cut, one that shrinks is padded with zeros, so the stream stays a valid tar;
* extended attributes go into PAX ``SCHILY.xattr.*`` records (GNU tar and Docker read
  them), except overlayfs' private ``trusted.overlay.*`` ones;
* a time with a fraction of a second also goes into a PAX ``mtime`` record with all nine
  digits (orlop.archive.paxtime), so a copy keeps ``stat``'s nanoseconds.

Overlay upper directories (``overlay_whiteouts=True``) are converted to OCI layer form:
a 0/0 character device ``NAME`` becomes an empty file ``.wh.NAME``, and a directory with
``trusted.overlay.opaque=y`` gets a ``.wh..wh..opq`` entry right after it.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable
from typing import Any

from orlop.archive.header import file_header, pax_header
from orlop.archive.paxtime import pax_mtime
from orlop.archive.streams import Hasher
from orlop.archive.whiteout import OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX
from orlop.archive.writepipe import WritePipe, write_all
from orlop.records import Record

BLOCK = 512
_CHUNK = 1 << 20
# Small files (header, data and padding within this) are gathered, read straight into
# one buffer, and written (and hashed) a batch at a time: a few writes per batch instead
# of one or three per file, and no Python object per file's data.  During add_tree the
# batches (headers and padding too) are hashed and written by a WritePipe's thread while
# the next one is filled.
_BATCH = 512 << 10
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_ZEROS = bytes(BLOCK * 2)
_XATTR_PREFIXES = ("user.", "trusted.")
_XATTR_NAMES = frozenset({"security.capability", "system.posix_acl_access",
                          "system.posix_acl_default"})


def _wanted_xattr(name: str) -> bool:
    if name.startswith("trusted.overlay."):
        return False
    return name.startswith(_XATTR_PREFIXES) or name in _XATTR_NAMES


def _read_xattrs(target: int | str) -> dict[str, str]:
    """xattrs as PAX records; ``target`` is an fd or a /proc/self/fd/N/name path."""
    nofollow = isinstance(target, str)  # an fd is the object itself: nothing to follow
    try:
        names = os.listxattr(target, follow_symlinks=not nofollow)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.ENOENT):
            return {}
        raise
    out: dict[str, str] = {}
    for name in sorted(names):
        if not _wanted_xattr(name):
            continue
        try:
            value = os.getxattr(target, name, follow_symlinks=not nofollow)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _add_pax(info: tarfile.TarInfo, records: dict[str, str]) -> None:
    if records:
        info.pax_headers = {**info.pax_headers, **records}


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OVERLAY_OPAQUE_XATTR) == b"y"
    except OSError:
        return False


class WriteStats(Record):
    """What a writer wrote.  (Records, not dataclasses, as every class on the volume
    export and import paths: orlop/records.py says why.)"""

    _fields = ("entries", "content_size", "skipped")
    __slots__ = _fields
    entries: int
    content_size: int  # bytes of regular file data written
    skipped: list[str]  # vanished/changed while read

    def __init__(self, entries: int = 0, content_size: int = 0,
                 skipped: list[str] | None = None) -> None:
        self.entries = entries
        self.content_size = content_size
        self.skipped = [] if skipped is None else skipped


class TreeOptions(Record):
    """How :meth:`TarWriter.add_tree` walks a tree."""

    _fields = ("overlay_whiteouts", "one_file_system", "descend", "skip", "owner",
               "whole_seconds")
    __slots__ = _fields
    overlay_whiteouts: bool  # an overlay upper dir: write OCI whiteouts
    one_file_system: bool  # do not descend into other mounts
    # Called with the archive path of a directory ("data/sub"): False = write the
    # directory entry but not its content (commit: volume mount points stay empty).
    descend: Callable[[str], bool] | None
    # Called with the parent's fd, the name, the archive path and the lstat of each
    # entry below the top: True = leave it out (commit: the engine's own mount points).
    skip: Callable[[int, str, str, os.stat_result], bool] | None
    owner: tuple[int, int] | None  # force uid/gid on every entry
    # Times in the ustar field only.  Otherwise a time with a fraction of a second also
    # goes into a PAX ``mtime`` record with all nine digits (GNU tar, Go, Python and
    # Orlop's own extractor read it), so nothing loses its nanoseconds in a copy.
    whole_seconds: bool

    def __init__(self, overlay_whiteouts: bool = False, one_file_system: bool = False,
                 descend: Callable[[str], bool] | None = None,
                 skip: Callable[[int, str, str, os.stat_result], bool] | None = None,
                 owner: tuple[int, int] | None = None, whole_seconds: bool = False) -> None:
        self.overlay_whiteouts = overlay_whiteouts
        self.one_file_system = one_file_system
        self.descend = descend
        self.skip = skip
        self.owner = owner
        self.whole_seconds = whole_seconds


class TarWriter:
    """A PAX tar stream written to ``out_fd`` (a file, a pipe or a socket).

    ``hasher`` sees every byte written (e.g. the sha256 of a layer, its diff_id);
    ``progress`` is called with the number of file bytes written so far; ``writeback``:
    start the output file's write-out as :meth:`add_tree` writes it
    (:class:`~orlop.archive.writepipe.WritePipe` says when that pays).
    """

    def __init__(self, out_fd: int, *, hasher: Hasher | None = None,
                 progress: Callable[[int], None] | None = None, sparse: bool = False,
                 writeback: bool = False) -> None:
        self.out_fd = out_fd
        self.writeback = writeback
        self.sparse = sparse  # write files with holes in GNU's PAX sparse format 1.0
        self.hasher = hasher
        self.progress = progress
        self.size = 0
        self.stats = WriteStats()
        self._links: dict[tuple[int, int], str] = {}
        self._buf = bytearray(_CHUNK)
        self._batch: memoryview | None = None  # made on first use
        self._pending = 0  # bytes of _batch not written yet (already counted in size)
        self._pipe: WritePipe | None = None  # during add_tree

    # --- raw output ------------------------------------------------------------

    def _emit(self, data: bytes | memoryview) -> None:
        n = len(data)
        if self._pipe is not None and n <= _BATCH:
            # Into the batch, behind what is there (the thread writes it in order).
            if self._pending + n > _BATCH:
                self._flush()
            batch = self._room()
            batch[self._pending:self._pending + n] = data
            self._pending += n
            self.size += n
            return
        self._sync()
        self._out(data)
        self.size += n

    def _room(self) -> memoryview:
        """The batch being filled."""
        if self._batch is None:
            self._batch = self._pipe.take() if self._pipe is not None else \
                memoryview(bytearray(_BATCH))
        return self._batch

    def _flush(self) -> None:
        """Write the batch (its bytes are already counted in size), or hand it to the
        writer thread and take another."""
        n, self._pending = self._pending, 0
        if not n:
            return
        assert self._batch is not None
        if self._pipe is not None:
            self._pipe.submit(self._batch, n)
            self._batch = None
        else:
            self._out(self._batch[:n])

    def _sync(self) -> None:
        """Everything before this point written: what follows goes to out_fd directly."""
        self._flush()
        if self._pipe is not None:
            self._pipe.drain()

    def _out(self, data: bytes | memoryview) -> None:
        if self.hasher is not None:
            self.hasher.update(data)
        write_all(self.out_fd, data)

    def _header(self, info: tarfile.TarInfo) -> None:
        self._emit(pax_header(info))
        self.stats.entries += 1

    def add_global(self, pax: dict[str, str]) -> None:
        """A PAX global header (type ``g``): metadata that extractors carry or ignore."""
        self._emit(tarfile.TarInfo.create_pax_global_header(dict(pax)))

    def add_dir(self, name: str, st: os.stat_result) -> None:
        """A bare directory entry (owner, mode, time of ``st`` in whole seconds; no xattrs
        and no PAX record, so the entry is exactly one block)."""
        info = self._info(name, st, TreeOptions(whole_seconds=True))
        info.type = tarfile.DIRTYPE
        self._header(info)

    def add_bytes(self, name: str, data: bytes, *, mode: int = 0o644, mtime: float = 0) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        info.mtime = mtime
        self._header(info)
        self._emit(data)
        self._pad(len(data))

    def add_stream(self, name: str, size: int, src_fd: int, *, mode: int = 0o644,
                   mtime: float = 0) -> None:
        """A regular file of ``size`` bytes read from ``src_fd`` (its current offset)."""
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = mode
        info.mtime = mtime
        self._header(info)
        self._copy(src_fd, size, offset=None)

    def _pad(self, size: int) -> None:
        rem = size % BLOCK
        if rem:
            self._emit(_ZEROS[:BLOCK - rem])

    def _copy(self, fd: int, size: int, offset: int | None = 0) -> None:
        """Exactly ``size`` bytes of ``fd`` (zero-padded if it shrank), then the padding."""
        done = 0
        if self.hasher is None and offset is not None:
            # No one needs to see the bytes: let the kernel move them (sendfile works to
            # files, pipes and sockets), half the copies of read()+write().
            self._sync()  # the header before them
            while done < size:
                try:
                    n = os.sendfile(self.out_fd, fd, offset + done, min(size - done, 1 << 30))
                except OSError as err:
                    if err.errno in (errno.EINVAL, errno.ENOSYS) and done == 0:
                        break  # not supported for this pair: fall back to read/write
                    raise
                if n == 0:
                    break
                done += n
                self.size += n
                if self.progress is not None:
                    self.progress(self.stats.content_size + done)
        if offset is not None and done and done < size:
            os.lseek(fd, offset + done, os.SEEK_SET)
        buf = self._buf
        view = memoryview(buf)
        while done < size:
            want = min(size - done, len(buf))
            n = os.readv(fd, [view[:want]])
            if n == 0:
                break
            # Hashed inline: measured, a hashing thread is slower on a small, busy machine
            # (the hash and the kernel's copies compete for the same cores).
            self._emit(view[:n])
            done += n
            if self.progress is not None:
                self.progress(self.stats.content_size + done)
        if done < size:  # the file shrank under us: keep the stream well-formed
            missing = size - done
            while missing:
                k = min(missing, len(buf))
                self._emit(bytes(k))
                missing -= k
        self.stats.content_size += size
        self._pad(size)

    def _sparse_file(self, fd: int, info: tarfile.TarInfo,
                     segments: list[tuple[int, int]]) -> None:
        """GNU tar's PAX sparse format 1.0 (``tar --sparse --format=posix``): the entry's
        data is a map (count, then offset/length pairs, in decimal lines, padded to a
        block) followed by the data segments only.  GNU tar, bsdtar, Go's archive/tar and
        Python's tarfile restore the holes; a reader that knows nothing of it extracts a
        ``GNUSparseFile.0/NAME`` file holding map and data."""
        real = info.size
        lines = [str(len(segments))] + [f"{o}\n{n}" for o, n in segments]
        smap = ("\n".join(lines) + "\n").encode()
        smap += bytes(-len(smap) % BLOCK)
        parent, _, base = info.name.rpartition("/")
        pax = dict(info.pax_headers)
        pax.update({"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                    "GNU.sparse.name": info.name, "GNU.sparse.realsize": str(real)})
        info.pax_headers = pax
        info.name = _join(parent, f"GNUSparseFile.0/{base}")
        stored = len(smap) + sum(n for _, n in segments)
        info.size = stored
        self._header(info)
        self._emit(smap)
        buf = self._buf
        view = memoryview(buf)
        for off, length in segments:
            os.lseek(fd, off, os.SEEK_SET)
            left = length
            while left:
                n = os.readv(fd, [view[:min(left, len(buf))]])
                if n == 0:  # shrank under us: zeros keep the entry well-formed
                    view[:min(left, len(buf))] = bytes(min(left, len(buf)))
                    n = min(left, len(buf))
                self._emit(view[:n])
                left -= n
        self._pad(stored)
        self.stats.content_size += real
        if self.progress is not None:
            self.progress(self.stats.content_size)

    def _small_file(self, fd: int, hdr: bytes, size: int) -> None:
        """Header, content and padding of a file that fits the buffer, in one write (a
        third of the system calls of the general path, which matters for many files)."""
        view = memoryview(self._buf)
        h = len(hdr)
        view[:h] = hdr
        got = 0
        while got < size:
            n = os.readv(fd, [view[h + got:h + size]])
            if n == 0:
                break
            got += n
        if got < size:  # the file shrank under us: keep the stream well-formed
            view[h + got:h + size] = bytes(size - got)
        pad = -size % BLOCK
        view[h + size:h + size + pad] = _ZEROS[:pad]
        total = h + size + pad
        self._emit(view[:total])
        self.stats.entries += 1
        self.stats.content_size += size
        if self.progress is not None:
            self.progress(self.stats.content_size)

    def close(self) -> None:
        """The end-of-archive marker: two zero blocks."""
        self._emit(_ZEROS)

    # --- trees -----------------------------------------------------------------

    def _info(self, name: str, st: os.stat_result, opts: TreeOptions) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        if opts.owner is not None:
            info.uid, info.gid = opts.owner
        else:
            info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = st.st_mtime_ns // 1_000_000_000
        if not opts.whole_seconds:
            _add_pax(info, pax_mtime(st.st_mtime_ns))
        info.uname = info.gname = ""
        return info

    def add_tree(self, dir_fd: int, prefix: str, opts: TreeOptions | None = None,
                 *, include_root: bool = True) -> None:
        """Archive the directory ``dir_fd`` as ``prefix`` (``""``: its content at the top
        of the archive, the directory itself as ``./``)."""
        if self._pipe is not None:
            self._add_tree(dir_fd, prefix, opts, include_root)
            return
        self._sync()
        self._batch = None  # the pipe's buffers from here
        self._pipe = WritePipe(self.out_fd, self.hasher, _BATCH, writeback=self.writeback)
        try:
            self._add_tree(dir_fd, prefix, opts, include_root)
            self._sync()
        finally:
            pipe, self._pipe = self._pipe, None
            self._batch, self._pending = None, 0
            pipe.close()

    def _add_tree(self, dir_fd: int, prefix: str, opts: TreeOptions | None,
                  include_root: bool) -> None:
        opts = opts or TreeOptions()
        st = os.fstat(dir_fd)
        root_dev = st.st_dev
        if include_root:
            info = self._info((prefix.rstrip("/") + "/") if prefix else "./", st, opts)
            info.type = tarfile.DIRTYPE
            _add_pax(info, _read_xattrs(dir_fd))
            self._header(info)
            if opts.overlay_whiteouts and _is_opaque(dir_fd):
                self._opaque(prefix, st, opts)
        if opts.descend is not None and not opts.descend(prefix.rstrip("/")):
            return
        self._walk(dir_fd, prefix.rstrip("/"), opts, root_dev)

    def add_path_fd(self, fd: int, arcname: str, opts: TreeOptions | None = None,
                    *, include_root: bool = True) -> None:
        """Archive what the O_PATH ``fd`` names (a directory tree or one regular file)
        as ``arcname``; for a source reached by following a symlink (``cp -L``)."""
        opts = opts or TreeOptions()
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            dfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                self.add_tree(dfd, arcname, opts, include_root=include_root)
            finally:
                os.close(dfd)
            return
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file or directory", arcname)
        rfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fst = os.fstat(rfd)
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
                raise OSError(errno.EAGAIN, "changed while being read", arcname)
            info = self._info(arcname, fst, opts)
            info.size = fst.st_size
            _add_pax(info, _read_xattrs(rfd))
            self._header(info)
            self._copy(rfd, fst.st_size)
        finally:
            os.close(rfd)

    def _opaque(self, prefix: str, st: os.stat_result, opts: TreeOptions) -> None:
        self._marker(_join(prefix, WHITEOUT_OPAQUE))

    def _marker(self, name: str) -> None:
        """An OCI whiteout entry: an empty file whose metadata means nothing, so it is
        fixed (root, 0644, time 0) and a layer serialises to the same bytes every time
        (the whiteout device's own time is when it was extracted)."""
        info = tarfile.TarInfo(name)
        info.mode = 0o644
        info.mtime = 0
        self._header(info)

    def _walk(self, dir_fd: int, prefix: str, opts: TreeOptions, root_dev: int) -> None:
        try:
            with os.scandir(dir_fd) as it:
                entries = sorted((e.name, e) for e in it)
        except FileNotFoundError:
            return
        fast = opts.skip is None  # skip() is given every entry's lstat
        for name, entry in entries:
            arcname = _join(prefix, name)
            # A regular file (by the listing's d_type) is opened and read by its fd
            # without an lstat first: the listing's inode number is what the fstat must
            # show.  Anything else, or a file _small_file_of leaves, takes the general path.
            if fast and entry.is_file(follow_symlinks=False) and \
                    self._small_file_of(dir_fd, name, arcname, entry.inode(), opts):
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                self.stats.skipped.append(arcname)
                continue
            if opts.skip is not None and opts.skip(dir_fd, name, arcname, st):
                continue
            self.add_entry(dir_fd, name, arcname, st, opts, root_dev)
        if self._pipe is None:
            self._flush()  # nothing left behind when add_entry called this

    def _small_file_of(self, dir_fd: int, name: str, arcname: str, ino: int,
                       opts: TreeOptions) -> bool:
        """The file ``name`` of ``dir_fd`` into the batch, when it is what the common
        entry is: still the listed inode, one link, not sparse, no xattrs, a header
        :func:`file_header` can write, small enough to batch.  False (nothing written)
        for anything else: the caller archives it the general way."""
        try:
            fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
        except OSError:
            return False  # gone, a symlink now, a FIFO without a writer: the general path
        try:
            st = os.fstat(fd)
            size = st.st_size
            try:
                # Almost always none: then not _read_xattrs' filtering and its records.
                xattrs = os.listxattr(fd)
            except OSError:
                xattrs = [""]  # _read_xattrs tells (it ignores ENOTSUP and the like)
            if (st.st_ino != ino or not stat.S_ISREG(st.st_mode) or st.st_nlink != 1
                    or (self.sparse and st.st_blocks * 512 < size) or size > _BATCH
                    or (xattrs and _read_xattrs(fd))):
                return False
            uid, gid = opts.owner if opts.owner is not None else (st.st_uid, st.st_gid)
            hdr = file_header(arcname, st.st_mode, uid, gid, size, st.st_mtime_ns,
                              opts.whole_seconds)
            if hdr is None:
                return False
            h = len(hdr)
            total = h + size + (-size % BLOCK)
            if total > _BATCH:
                return False
            if self._pending + total > _BATCH:
                self._flush()
            batch = self._room()
            at = self._pending
            batch[at:at + h] = hdr
            got = 0
            start = at + h
            while got < size:
                n = os.readv(fd, [batch[start + got:start + size]])
                if n == 0:
                    break
                got += n
            # A file that shrank under us keeps the stream well-formed (zeros), as the
            # padding does; one that grew is cut at the size in the header.
            end = at + total
            pad = end - start - got
            batch[start + got:end] = _ZEROS[:pad] if pad <= BLOCK else bytes(pad)
            self._pending = at + total
            self.size += total
            self.stats.entries += 1
            self.stats.content_size += size
            if self.progress is not None:
                self.progress(self.stats.content_size)
            return True
        finally:
            os.close(fd)

    def add_entry(self, parent_fd: int, name: str, arcname: str, st: os.stat_result,
                  opts: TreeOptions, root_dev: int | None = None) -> None:
        """One entry named ``name`` in ``parent_fd`` (already ``lstat``ed as ``st``)."""
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            self._dir(parent_fd, name, arcname, st, opts, root_dev)
        elif stat.S_ISREG(mode):
            self._file(parent_fd, name, arcname, st, opts)
        elif self._linked(arcname, st, opts):
            return
        elif stat.S_ISLNK(mode):
            info = self._info(arcname, st, opts)
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(name, dir_fd=parent_fd)
            _add_pax(info, _read_xattrs(f"/proc/self/fd/{parent_fd}/{name}"))
            self._header(info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            if (opts.overlay_whiteouts and stat.S_ISCHR(mode) and st.st_rdev == 0):
                # overlayfs' whiteout -> the OCI one, in the same directory.
                parent, _, base = arcname.rpartition("/")
                self._marker(_join(parent, WHITEOUT_PREFIX + base))
                return
            info = self._info(arcname, st, opts)
            info.type = (tarfile.CHRTYPE if stat.S_ISCHR(mode) else
                         tarfile.BLKTYPE if stat.S_ISBLK(mode) else tarfile.FIFOTYPE)
            if not stat.S_ISFIFO(mode):
                info.devmajor = os.major(st.st_rdev)
                info.devminor = os.minor(st.st_rdev)
            _add_pax(info, _read_xattrs(f"/proc/self/fd/{parent_fd}/{name}"))
            self._header(info)
        # sockets (and anything else) are not archivable, as GNU tar and Docker skip them

    def _linked(self, arcname: str, st: os.stat_result, opts: TreeOptions) -> bool:
        """A symlink, device or FIFO with more than one name: its second name is written
        as a hard link to the first (as GNU tar does), so a copy keeps them one inode.
        (Regular files do the same in :meth:`_file`, after their open is checked.)"""
        mode = st.st_mode
        if st.st_nlink < 2 or not (stat.S_ISLNK(mode) or stat.S_ISCHR(mode)
                                   or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
            return False  # sockets are never written, so never a link's target
        if opts.overlay_whiteouts and stat.S_ISCHR(mode) and st.st_rdev == 0:
            return False  # overlay whiteouts are markers, not nodes
        key = (st.st_dev, st.st_ino)
        first = self._links.get(key)
        if first is None:
            self._links[key] = arcname
            return False
        info = self._info(arcname, st, opts)
        info.type = tarfile.LNKTYPE
        info.linkname = first
        self._header(info)
        return True

    def _dir(self, parent_fd: int, name: str, arcname: str, st: os.stat_result,
             opts: TreeOptions, root_dev: int | None) -> None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=parent_fd)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                self.stats.skipped.append(arcname)
                return
            raise
        try:
            dst = os.fstat(fd)
            info = self._info(arcname + "/", dst, opts)
            info.type = tarfile.DIRTYPE
            _add_pax(info, _read_xattrs(fd))
            self._header(info)
            if opts.overlay_whiteouts and _is_opaque(fd):
                self._opaque(arcname, dst, opts)
            if opts.one_file_system and root_dev is not None and dst.st_dev != root_dev:
                return
            if opts.descend is not None and not opts.descend(arcname):
                return
            self._walk(fd, arcname, opts, root_dev if root_dev is not None else dst.st_dev)
        finally:
            os.close(fd)

    def _file(self, parent_fd: int, name: str, arcname: str, st: os.stat_result,
              opts: TreeOptions) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self._links:
            info = self._info(arcname, st, opts)
            info.type = tarfile.LNKTYPE
            info.linkname = self._links[key]
            self._header(info)
            return
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                         | os.O_NOCTTY, dir_fd=parent_fd)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ELOOP, errno.ENXIO):
                self.stats.skipped.append(arcname)
                return
            raise
        try:
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != key or not stat.S_ISREG(fst.st_mode):
                self.stats.skipped.append(arcname)  # swapped between the listing and open
                return
            info = self._info(arcname, fst, opts)
            info.size = fst.st_size
            _add_pax(info, _read_xattrs(fd))
            if fst.st_nlink > 1:
                self._links[key] = arcname
            if self.sparse and fst.st_blocks * 512 < fst.st_size:
                segments = _data_segments(fd, fst.st_size)
                if segments is not None:
                    self._sparse_file(fd, info, segments)
                    return
            hdr = pax_header(info)
            if self.hasher is not None and len(hdr) + fst.st_size + BLOCK <= len(self._buf):
                self._small_file(fd, hdr, fst.st_size)
                return
            self._emit(hdr)
            self.stats.entries += 1
            self._copy(fd, fst.st_size)
        finally:
            os.close(fd)


def _data_segments(fd: int, size: int) -> list[tuple[int, int]] | None:
    """The (offset, length) data extents of a file, from SEEK_DATA/SEEK_HOLE; a trailing
    hole is marked by a zero-length segment at the end (GNU's convention).  None when
    the filesystem cannot tell or the file has no hole."""
    segments: list[tuple[int, int]] = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as err:
                if err.errno == errno.ENXIO:  # only a hole from pos to the end
                    break
                raise
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            segments.append((start, end - start))
            pos = end
    except OSError:
        return None
    finally:
        os.lseek(fd, 0, os.SEEK_SET)
    if sum(n for _, n in segments) == size:
        return None
    if not segments or segments[-1][0] + segments[-1][1] < size:
        segments.append((size, 0))
    return segments


def _join(prefix: str, name: str) -> str:
    prefix = prefix.rstrip("/")
    return f"{prefix}/{name}" if prefix else name


def write_tree(out_fd: int, dir_fd: int, prefix: str = "", opts: TreeOptions | None = None,
               **kw: Any) -> TarWriter:
    """Archive one tree and end the archive; returns the writer (stats, size)."""
    w = TarWriter(out_fd, **kw)
    w.add_tree(dir_fd, prefix, opts)
    w.close()
    return w


__all__ = ["TarWriter", "TreeOptions", "WriteStats", "write_tree"]
