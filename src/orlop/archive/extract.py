"""Safe tar extraction: every tar is hostile (security-principles.md R8).

Used for image layers, ``volume import`` and ``cp`` into a container, so it is one
general function, :func:`extract_tar`, below both images and volumes (design.md's
``archive/``); what only image layers need (their checks before ``load``, diff ids
without extraction) is in orlop.images.archive.

Why not ``tarfile.extractall``: its ``data``/``tar`` filters check a path string,
then the write re-resolves that string, and on Python 3.11.7 (ours) they are
bypassable (CVE-2024-12718, CVE-2025-4517: symlink/hardlink chains that pass the
filter and then write outside the destination).  The same class broke Go's
``archive/tar`` users (Docker's CVE-2014-6407/CVE-2014-9356 "symlink then write
through it" breakouts) and ``docker cp`` (CVE-2018-15664, a symlink swapped between
check and use; CVE-2019-14271, engine code loaded from the container).  So
``tarfile``'s members are used as *parsed data only* (read by orlop.archive.tarread,
which gives tarfile's members faster), and each entry is written here with
file-descriptor-relative calls:

* the parent directory of an entry is resolved by the kernel with openat2(2)
  ``RESOLVE_IN_ROOT``: ``..`` stops at the destination and an absolute symlink in
  the archive means "inside the destination", exactly as a container sees it;
* the final component is created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` (or
  ``mknodat``/``symlinkat``/``mkdirat`` which never follow), and whatever existed
  there is unlinked first, never written through;
* a name whose ``..`` climbs above the destination is refused (Docker refuses it);
* a hardlink target is resolved with ``RESOLVE_NO_SYMLINKS`` as well, so it can
  neither leave the destination nor pick up a file through a symlink;
* metadata (owner, then mode so setuid bits survive the chown, then xattrs, then
  times) is set on the pinned object through ``/proc/self/fd/N``, never by name.

No external decompressor runs (R7): gzip, bzip2 and xz come from the standard
library, zstd only when the ``zstandard`` module is importable.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, BinaryIO, Literal, Protocol, cast

from orlop.archive.paxtime import parse_pax_time
from orlop.archive.streams import Prefixed, Readable, read_exact
from orlop.archive.tarread import TarStream
from orlop.archive.whiteout import (
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    whiteout_problem,
)
from orlop.archive.writepipe import WRITE_SIZE
from orlop.errors import InvalidArchiveError
from orlop.kernel.flags import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS
from orlop.kernel.fs import openat2
from orlop.kernel.safepath import mkdir_all_in_root, open_nofollow_in_root
from orlop.records import FrozenRecord, Record

WhiteoutMode = Literal["oci", "keep", "overlay"]
"""How OCI whiteout entries (``.wh.NAME``, ``.wh..wh..opq``) are handled.

``overlay``: converted to overlayfs' own form, for a layer used as a lowerdir
(``.wh.NAME`` -> a 0/0 character device NAME; ``.wh..wh..opq`` -> the xattr
``trusted.overlay.opaque=y`` on the directory).
``oci``: applied, for extracting a layer onto a flat tree (NAME is removed; an
opaque marker empties the directory of what this archive did not write).
``keep``: written as ordinary files, for archives that are not layers (``cp``,
``volume import``): a ``.wh.`` name there is just a name.
"""

_XATTR_PAX_PREFIX = "SCHILY.xattr."
_CHUNK = 1 << 20
# The tar reader's read-ahead when no tarsplit recording follows the stream (which keeps
# only 64 KiB behind its position): many small members per read of the stream.
_FILL = 1 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ExtractStats(FrozenRecord):
    """What one extraction read and wrote.  (Records, not dataclasses, as every class
    on the volume export and import paths: orlop/records.py says why.)"""

    _fields = ("diff_id", "tar_size", "content_size", "entries", "skipped", "compression")
    __slots__ = _fields
    diff_id: str  # "sha256:<hex>" of the *uncompressed* tar stream, trailer included
    tar_size: int  # bytes of the uncompressed tar stream
    content_size: int  # bytes of regular files (each inode once) and symlink targets
    entries: int  # tar members seen
    skipped: int  # members deliberately not written (devices when not allowed, aufs metadata)
    compression: str  # "none", "gzip", "bzip2", "xz" or "zstd"

    def __init__(self, diff_id: str, tar_size: int, content_size: int, entries: int,
                 skipped: int, compression: str) -> None:
        self._set(diff_id=diff_id, tar_size=tar_size, content_size=content_size,
                  entries=entries, skipped=skipped, compression=compression)


class SplitSink(Protocol):
    """What records the stream for a later exact reproduction (orlop.images.tarsplit's
    SplitRecorder): fed every uncompressed byte, told which ranges are file payloads,
    and marked invalid when the extraction removed something it had written."""

    valid: bool

    def feed(self, data: bytes) -> None: ...

    def payload(self, start: int, size: int, path: str) -> None: ...


class HashingReader:
    """Counts and hashes the uncompressed stream as tarfile consumes it (the diff_id,
    computed in the same single pass as the extraction), and turns decompression
    failures (a truncated gzip, a bad CRC) into one clear error."""

    def __init__(self, inner: Readable, compression: str, digest: bool = True,
                 split: SplitSink | None = None) -> None:
        self._inner = inner
        self.compression = compression
        if digest:
            import hashlib  # only then: ~3 ms of a `volume import` start (digest=False)

            self.hasher = hashlib.sha256()
        self._digest = digest
        self._split = split  # sees the same bytes, to reproduce the stream later
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._inner.read(size)
        except (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as err:
            raise InvalidArchiveError(
                f"invalid {self.compression} stream: {err or 'unexpected end of data'}"
            ) from err
        except OSError as err:
            # bz2 and zstandard report corrupt input as a bare OSError without errno.
            if err.errno is None:
                raise InvalidArchiveError(f"invalid {self.compression} stream: {err}") from err
            raise
        if self._digest:
            self.hasher.update(data)
        if self._split is not None:
            self._split.feed(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end: the diff_id covers the whole stream, padding included."""
        while self.read(_CHUNK):
            pass


def open_decompressed(stream: Readable) -> tuple[Readable, str]:
    """The uncompressed view of ``stream`` and the compression found by magic number."""
    head = read_exact(stream, 6)
    src = Prefixed(head, stream)
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=cast(IO[bytes], src), mode="rb"), "gzip"
    if head.startswith(_BZIP2_MAGIC):
        return bz2.BZ2File(cast(IO[bytes], src), mode="rb"), "bzip2"
    if head.startswith(_XZ_MAGIC):
        return lzma.LZMAFile(cast(IO[bytes], src), mode="rb"), "xz"
    if head.startswith(_ZSTD_MAGIC):
        try:
            import zstandard  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise InvalidArchiveError(
                "the archive is zstd-compressed, and the Python module 'zstandard' is not "
                "installed: decompress it first (zstd -d) or install python3-zstandard"
            ) from None
        reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], src), closefd=False)
        return cast(Readable, reader), "zstd"
    return src, "none"


def clean_name(name: str) -> list[str] | None:
    """Components of an archive name, cleaned as Go's filepath.Clean does.

    A leading ``/`` is dropped (Docker extracts ``/abs/x`` as ``<dest>/abs/x``) and
    ``..`` at the top of such a rooted name stays at the top; a relative name whose
    ``..`` climbs above the destination returns None: the caller refuses it.
    """
    rooted = name.startswith("/")
    out: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            elif not rooted:
                return None
            continue
        out.append(part)
    return out


def _proc(fd: int) -> str:
    # The magic link resolves to the pinned inode, not by re-walking a path, so a
    # concurrently swapped symlink cannot redirect chown/chmod/utime (CVE-2018-15664).
    return f"/proc/self/fd/{fd}"


def _xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in member.pax_headers.items():
        if not key.startswith(_XATTR_PAX_PREFIX):
            continue
        name = key[len(_XATTR_PAX_PREFIX):]
        # overlayfs reads trusted.overlay.* (opaque, redirect, metacopy, origin) as
        # instructions; an archive must never be able to set them on a layer, or it
        # could make overlay look up paths of its choosing.
        if name.startswith("trusted.overlay."):
            continue
        out[name] = value.encode("utf-8", "surrogateescape")
    return out


def _set_xattrs(target: str | int, xattrs: dict[str, bytes], *, follow: bool = True) -> None:
    for name, value in xattrs.items():
        try:
            os.setxattr(target, name, value, follow_symlinks=follow)
        except OSError as err:
            # As Docker does: not every filesystem takes every namespace (security.selinux
            # on a host without SELinux, user.* on tmpfs before 6.6); the rest is kept.
            if err.errno not in (errno.ENOTSUP, errno.EPERM):
                raise


_HOLE = 1 << 16  # zero runs of this size (aligned in the file) become holes


def _write_sparse(fd: int, data: bytes | memoryview, offset: int) -> bool:
    """Write ``data`` at ``offset``, leaving aligned all-zero 64 KiB blocks as holes;
    whether its last byte was written (False: it ended in a hole, so the file is still
    shorter than ``offset + len(data)``).

    Tar stores a sparse file's holes as zeros (GNU tar without ``-S``, ``volume export``,
    most layer tars); skipping them gives the file back its holes, as ``cp --sparse=auto``
    would, and saves the writes.  Random data costs two byte reads per block to rule out.
    """
    n = len(data)
    view = memoryview(data)
    i = 0
    run = 0  # start of the pending non-zero run
    while i < n:
        j = min(n, (offset + i) // _HOLE * _HOLE + _HOLE - offset)  # next aligned boundary
        if j - i == _HOLE and data[i] == 0 and data[j - 1] == 0 and (
                data.count(0, i, j) if isinstance(data, bytes)
                else bytes(view[i:j]).count(0)) == j - i:
            _pwrite_all(fd, view[run:i], offset + run)
            run = j
        i = j
    _pwrite_all(fd, view[run:n], offset + run)
    return run < n


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        # At most WRITE_SIZE a call, for the page cache's sake (orlop.archive.writepipe).
        k = os.pwrite(fd, view[:WRITE_SIZE], offset)
        view, offset = view[k:], offset + k


class _MemberData(Protocol):
    def read(self, size: int = -1, /) -> bytes | memoryview: ...


class _Members(Protocol):
    """Where a member's data comes from: the TarStream, or what the reading thread
    sent (orlop.archive.extractpipe)."""

    def extractfile(self, member: tarfile.TarInfo, /) -> _MemberData | None: ...


class _DirMeta(Record):
    _fields = ("mode", "mtime_ns", "atime_ns")
    __slots__ = _fields
    mode: int
    mtime_ns: int
    atime_ns: int

    def __init__(self, mode: int, mtime_ns: int, atime_ns: int) -> None:
        self.mode = mode
        self.mtime_ns = mtime_ns
        self.atime_ns = atime_ns


class _Extractor:
    def __init__(self, dest_fd: int, keep_owner: bool, allow_devices: bool,
                 whiteouts: WhiteoutMode, split: SplitSink | None = None) -> None:
        self.dest_fd = dest_fd
        self.keep_owner = keep_owner
        self.allow_devices = allow_devices
        self.whiteouts = whiteouts
        self.split = split
        # Set when the archive removed something it had itself written (a duplicate
        # name, a whiteout of its own file): a recorded payload may be gone from the tree.
        self.clobbered = False
        self.dir_meta: dict[tuple[str, ...], _DirMeta] = {}
        # What this archive made, for an opaque whiteout (which keeps it): only with
        # whiteouts applied ("oci", "overlay").
        self.written: set[tuple[str, ...]] = set()
        self.track_written = whiteouts != "keep"
        self.content_size = 0
        self.skipped = 0
        # The parent of the last regular file written, kept open for the next one in
        # the same directory (most of an archive): (its path components, its O_PATH fd).
        self.cached_parent: tuple[tuple[str, ...], int] | None = None
        self.parent_stale = False

    # --- helpers -------------------------------------------------------------

    def _refuse(self, member: tarfile.TarInfo, why: str) -> InvalidArchiveError:
        return InvalidArchiveError(f'invalid tar entry "{member.name}": {why}')

    def _parent(self, member: tarfile.TarInfo, parts: list[str]) -> int:
        """An O_PATH fd of the entry's parent, created if missing, resolved in root."""
        try:
            return mkdir_all_in_root(self.dest_fd, "/".join(parts[:-1]))
        except OSError as err:
            # ENOENT here: a dangling symlink in the parent path (Docker's MkdirAll in
            # its chroot fails the same way); never resolved outside.
            if err.errno in (errno.ENOTDIR, errno.ELOOP, errno.EXDEV, errno.EEXIST,
                             errno.ENOENT):
                raise self._refuse(member, "its parent is not a directory "
                                   f"({os.strerror(err.errno or 0)})") from err
            raise

    def _clear(self, parent_fd: int, name: str, keep_dir: bool) -> bool:
        """Remove what is at ``name`` (never following it); True if a directory was kept."""
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            # rmtree with dir_fd walks by fd and never follows symlinks.
            shutil.rmtree(name, dir_fd=parent_fd)
        else:
            os.unlink(name, dir_fd=parent_fd)
        self.clobbered = True
        # What was removed may have been on the way to the cached parent (a symlink or
        # directory its path goes through): that path is resolved again for the next
        # member (the fd stays open until then: the caller may be using it).
        self.parent_stale = True
        return False

    def _owner(self, member: tarfile.TarInfo) -> tuple[int, int]:
        return member.uid, member.gid

    def _times(self, member: tarfile.TarInfo) -> tuple[int, int]:
        # From the PAX record's digits when there is one: tarfile's float mtime has lost
        # the last of the nine (orlop.archive.paxtime).
        pax = member.pax_headers
        text = pax.get("mtime")
        mtime_ns = None if text is None else parse_pax_time(text)
        if mtime_ns is None:
            mtime_ns = int(member.mtime) * 1_000_000_000
        text = pax.get("atime")  # rarely there: no parse of "" then
        atime_ns = None if text is None else parse_pax_time(text)
        return (mtime_ns if atime_ns is None else atime_ns), mtime_ns

    def _meta_on_path_fd(self, member: tarfile.TarInfo, fd: int, *, chmod: bool = True) -> None:
        """Owner, then mode (chown clears setuid/setgid and file capabilities), then
        xattrs, then times, on the object pinned by the O_PATH ``fd``."""
        path = _proc(fd)
        if self.keep_owner:
            os.chown(path, *self._owner(member))
        if chmod:
            os.chmod(path, stat.S_IMODE(member.mode))
        _set_xattrs(path, _xattrs(member))
        os.utime(path, ns=self._times(member))

    # --- one entry -----------------------------------------------------------

    def extract(self, tf: _Members, member: tarfile.TarInfo) -> None:
        parts = clean_name(member.name)
        if parts is None:
            raise self._refuse(member, "the path is outside of the destination")
        if not parts:  # "." or "/": the destination directory itself
            if member.isdir():
                atime_ns, mtime_ns = self._times(member)
                self.dir_meta[()] = _DirMeta(stat.S_IMODE(member.mode), mtime_ns, atime_ns)
                if self.keep_owner:
                    os.chown(_proc(self.dest_fd), *self._owner(member))
                _set_xattrs(_proc(self.dest_fd), _xattrs(member))
            return
        base = parts[-1]
        if self.whiteouts != "keep" and base.startswith(WHITEOUT_PREFIX):
            problem = whiteout_problem(member.name)
            if problem is not None:
                raise self._refuse(member, problem)
            self._whiteout(member, parts)
            return
        if (member.ischr() or member.isblk()) and not self.allow_devices:
            self.skipped += 1
            return
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()
                or member.ischr() or member.isblk() or member.isfifo()):
            self.skipped += 1  # an unknown type flag: nothing safe to make of it
            return
        if member.isreg():
            # A new regular file cannot change how its own parent's path resolves (every
            # component of it exists, and the file is below it); removing something that
            # was there could, so _clear marks the cached fd stale.
            parent = self._cached_parent(member, parts)
            self._create(tf, member, parts, parent)
        else:
            self.drop_parent()
            parent = self._parent(member, parts)
            try:
                self._create(tf, member, parts, parent)
            finally:
                os.close(parent)
        if self.track_written:
            self.written.add(tuple(parts))

    def _cached_parent(self, member: tarfile.TarInfo, parts: list[str]) -> int:
        key = tuple(parts[:-1])
        cached = self.cached_parent
        if cached is not None:
            if cached[0] == key and not self.parent_stale:
                return cached[1]
            self.drop_parent()
        fd = self._parent(member, parts)
        self.cached_parent = (key, fd)
        return fd

    def drop_parent(self) -> None:
        self.parent_stale = False
        if self.cached_parent is not None:
            os.close(self.cached_parent[1])
            self.cached_parent = None

    def _create(self, tf: _Members, member: tarfile.TarInfo, parts: list[str],
                parent: int) -> None:
        name = parts[-1]
        if member.islnk():
            self._hardlink(member, parts, parent)
            return
        if member.isreg():
            if self.split is not None and member.size and not member.issparse():
                # Before the payload is read: its bytes are the file's, not recorded.
                self.split.payload(member.offset_data, member.size, "/".join(parts))
            self._regular(tf, member, name, parent)
            return
        kept_dir = self._clear(parent, name, keep_dir=member.isdir())
        if member.isdir():
            if not kept_dir:
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC,
                         dir_fd=parent)
            try:
                # Mode and times of directories are set at the very end: writing children
                # changes the mtime, and a read-only mode would stop a non-root extraction.
                self._meta_on_path_fd(member, fd, chmod=False)
            finally:
                os.close(fd)
            atime_ns, mtime_ns = self._times(member)
            self.dir_meta[tuple(parts)] = _DirMeta(stat.S_IMODE(member.mode), mtime_ns, atime_ns)
        elif member.issym():
            if not member.linkname:
                raise self._refuse(member, "symlink with an empty target")
            # The target is stored verbatim and never followed here: it is data, read
            # later by the kernel inside the container's root.
            os.symlink(member.linkname, name, dir_fd=parent)
            if self.keep_owner:
                os.chown(name, *self._owner(member), dir_fd=parent, follow_symlinks=False)
            # lsetxattr on the link itself (through the parent's fd, never following the
            # link, whose target means nothing here); user.* is refused by the kernel on
            # symlinks and skipped, trusted.* is kept.
            _set_xattrs(f"{_proc(parent)}/{name}", _xattrs(member), follow=False)
            os.utime(name, ns=self._times(member), dir_fd=parent, follow_symlinks=False)
            self.content_size += len(os.fsencode(member.linkname))
        else:  # character or block device, fifo
            kind = (stat.S_IFCHR if member.ischr() else
                    stat.S_IFBLK if member.isblk() else stat.S_IFIFO)
            dev = os.makedev(member.devmajor, member.devminor) if kind != stat.S_IFIFO else 0
            os.mknod(name, kind | 0o600, dev, dir_fd=parent)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                if stat.S_IFMT(os.fstat(fd).st_mode) != kind:
                    raise self._refuse(member, "replaced while being extracted")
                self._meta_on_path_fd(member, fd)
            finally:
                os.close(fd)

    def _regular(self, tf: _Members, member: tarfile.TarInfo, name: str,
                 parent: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, 0o600, dir_fd=parent)
        except FileExistsError:
            # Something is there (a name twice in the archive, an import over content):
            # removed, never written through, then the file is made new.  Tried first
            # and cleared only on EEXIST: one call per file instead of an lstat and an open.
            self._clear(parent, name, keep_dir=False)
            fd = os.open(name, flags, 0o600, dir_fd=parent)
        try:
            src = tf.extractfile(member)
            written = 0
            whole = True  # the file's length is already `written` (it is new: O_EXCL)
            if src is not None:
                # The TarStream's reader gives views of its buffer: no copy of the data.
                read: Callable[[int], bytes | memoryview] = getattr(src, "readview", src.read)
                while True:
                    try:
                        data = read(_CHUNK)
                    except tarfile.ReadError as err:
                        raise self._refuse(member, f"truncated archive ({err})") from err
                    if not data:
                        break
                    whole = _write_sparse(fd, data, written)
                    written += len(data)
            if written != member.size:
                raise self._refuse(member, "truncated archive: unexpected end of data")
            if not whole:
                # A trailing hole was skipped, not written: the length comes from here.
                os.ftruncate(fd, written)
            if self.keep_owner:
                os.fchown(fd, *self._owner(member))
            os.fchmod(fd, stat.S_IMODE(member.mode))
            _set_xattrs(fd, _xattrs(member))
            os.utime(fd, ns=self._times(member))
            # A new inode (O_EXCL) each time: counted without an fstat (a hard link to
            # it adds nothing, in _hardlink).
            self.content_size += member.size
        finally:
            os.close(fd)

    def _hardlink(self, member: tarfile.TarInfo, parts: list[str], parent: int) -> None:
        target = clean_name(member.linkname)
        if not target:
            # Docker: `invalid hardlink "../../etc/passwd" -> ...`: a link to a file
            # outside the archive root would expose that host file in the layer.
            raise InvalidArchiveError(
                f'invalid hardlink "{member.name}" -> "{member.linkname}": the target is '
                "outside of the destination")
        if target == parts:
            return  # a link to itself: nothing to do, and unlinking would lose the file
        try:
            # RESOLVE_NO_SYMLINKS: a hardlink names the real path of a file written earlier
            # by the same archive; going through a symlink is never legitimate and is how
            # Go archive/tar users got tricked into linking host files (TestBreakouts).
            tparent = openat2(self.dest_fd, "/".join(target[:-1]) or ".",
                              os.O_PATH | os.O_DIRECTORY,
                              RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        except OSError as err:
            why = {errno.ELOOP: "the target path goes through a symlink",
                   errno.ENOENT: "the target does not exist",
                   errno.ENOTDIR: "the target path goes through a non-directory",
                   errno.EXDEV: "the target is outside of the destination"}.get(
                       err.errno or 0, err.strerror)
            raise InvalidArchiveError(
                f'invalid hardlink "{member.name}" -> "{member.linkname}": {why}') from err
        try:
            try:
                st = os.stat(target[-1], dir_fd=tparent, follow_symlinks=False)
            except FileNotFoundError:
                raise InvalidArchiveError(
                    f'invalid hardlink "{member.name}" -> "{member.linkname}": the target '
                    "does not exist") from None
            if stat.S_ISDIR(st.st_mode):
                raise InvalidArchiveError(
                    f'invalid hardlink "{member.name}" -> "{member.linkname}": the target is '
                    "a directory")
            self._clear(parent, parts[-1], keep_dir=False)
            os.link(target[-1], parts[-1], src_dir_fd=tparent, dst_dir_fd=parent,
                    follow_symlinks=False)
        finally:
            os.close(tparent)

    # --- whiteouts -------------------------------------------------------------

    def _whiteout(self, member: tarfile.TarInfo, parts: list[str]) -> None:
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX) and base != WHITEOUT_OPAQUE:
            self.skipped += 1  # aufs metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless here
            return
        parent = self._parent(member, parts)
        try:
            if base == WHITEOUT_OPAQUE:
                if self.whiteouts == "overlay":
                    os.setxattr(_proc(parent), OVERLAY_OPAQUE_XATTR, b"y")
                else:
                    self._apply_opaque(parts[:-1], parent)
                return
            name = base[len(WHITEOUT_PREFIX):]
            if name in ("", ".", ".."):
                raise self._refuse(member, "invalid whiteout name")
            self._clear(parent, name, keep_dir=False)
            if self.whiteouts == "overlay":
                # overlayfs' whiteout: a character device 0/0 with the hidden name.
                os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
                if self.keep_owner:
                    os.chown(name, *self._owner(member), dir_fd=parent, follow_symlinks=False)
                self.written.add((*parts[:-1], name))
        finally:
            os.close(parent)

    def _apply_opaque(self, dir_parts: list[str], parent: int) -> None:
        """OCI opaque whiteout on a flat tree: drop what lower layers put in the directory,
        keep what this archive wrote there."""
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent)
        try:
            names = os.listdir(fd)
        finally:
            os.close(fd)
        for name in names:
            if (*dir_parts, name) not in self.written:
                self._clear(parent, name, keep_dir=False)

    # --- end ---------------------------------------------------------------------

    def finish(self) -> None:
        """Directory modes and times, deepest first, once nothing more is written."""
        for parts in sorted(self.dir_meta, key=len, reverse=True):
            meta = self.dir_meta[parts]
            if parts:
                try:
                    fd = open_nofollow_in_root(self.dest_fd, "/".join(parts), os.O_PATH)
                except FileNotFoundError:
                    continue  # removed by a later entry
            else:
                fd = os.dup(self.dest_fd)
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    continue  # replaced by a later non-directory entry
                os.chmod(_proc(fd), meta.mode)
                os.utime(_proc(fd), ns=(meta.atime_ns, meta.mtime_ns))
            finally:
                os.close(fd)


def iter_members(stream: Readable, *, empty_ok: bool = False, fill: int | None = None,
                 ) -> Iterator[tuple[TarStream, tarfile.TarInfo]]:
    """The members of a tar read as a stream, each with its reader (for ``extractfile``);
    a parse error is an :class:`InvalidArchiveError`.
    ``empty_ok``: a stream of no bytes at all is a tar without members (dockerd's import
    takes it so) instead of an error.

    The headers are read by orlop.archive.tarread, which gives ``tarfile``'s members and
    errors (``tarfile.open(mode="r|")``) at a fraction of its cost per member (issue 17).
    """
    tf = TarStream(stream) if fill is None else TarStream(stream, fill=fill)
    try:
        member = tf.next()
    except tarfile.TarError as err:
        if getattr(stream, "size", None) == 0:
            if empty_ok:
                return
            raise InvalidArchiveError("invalid tar archive: the file is empty") from err
        raise InvalidArchiveError(f"invalid tar archive: {err}") from err
    while member is not None:
        yield tf, member
        try:
            member = tf.next()
        except tarfile.TarError as err:
            raise InvalidArchiveError(f"invalid tar archive: {err}") from err


def extract_tar(
    stream: BinaryIO | Readable,
    dest_dir_fd: int,
    *,
    keep_owner: bool = True,
    allow_devices: bool = True,
    whiteouts: WhiteoutMode = "keep",
    on_entry: Callable[[tarfile.TarInfo], None] | None = None,
    digest: bool = True,
    split: SplitSink | None = None,
    empty_ok: bool = False,
    threaded: bool = False,
) -> ExtractStats:
    """Extract a tar (plain, gzip, bzip2, xz, or zstd if available) into ``dest_dir_fd``.

    Nothing is ever written outside the directory that ``dest_dir_fd`` refers to,
    whatever the archive holds (see the module docstring for how, and which CVEs
    this defends against).  ``keep_owner`` keeps uid/gid from the archive (the
    caller must be root for other owners); ``allow_devices=False`` skips character
    and block devices (fifos are kept); ``whiteouts`` says what OCI whiteouts mean
    (:data:`WhiteoutMode`).  ``on_entry`` is called for each member before it is
    written (progress, limits).

    The sha256 of the *uncompressed* stream (the layer's diff_id) is computed in
    the same pass.  Raises :class:`InvalidArchiveError` for a corrupt or hostile
    archive; what was written before the error is left for the caller to discard
    (extract into a staging directory).  ``digest=False`` skips the sha256 (``diff_id``
    is then ``""``) for callers that check the stream their own way (``volume import``).
    ``split`` records what is needed to reproduce the uncompressed stream from the
    extracted files (orlop.images.tarsplit); it is marked invalid when the archive
    removed something it had written itself.  ``empty_ok``: no bytes at all is an
    empty tar (``import``), not an error.  ``threaded``: the entries are made on a
    second thread while the archive is read (orlop.archive.extractpipe; not with
    ``split``, which must hear of a payload before its bytes are read).
    """
    raw, compression = open_decompressed(stream)
    reader = HashingReader(raw, compression, digest, split)
    ex = _Extractor(dest_fd=dest_dir_fd, keep_owner=keep_owner, allow_devices=allow_devices,
                    whiteouts=whiteouts, split=split)
    entries = 0
    members = iter_members(reader, empty_ok=empty_ok, fill=_FILL if split is None else None)
    try:
        if threaded and split is None:
            from orlop.archive import extractpipe

            entries = extractpipe.run(members, ex.extract, on_entry)
        else:
            for tf, member in members:
                entries += 1
                if on_entry is not None:
                    on_entry(member)
                ex.extract(tf, member)
    finally:
        ex.drop_parent()
    reader.drain()
    ex.finish()
    if split is not None and ex.clobbered:
        split.valid = False
    return ExtractStats(
        diff_id="sha256:" + reader.hasher.hexdigest() if digest else "",
        tar_size=reader.size,
        content_size=ex.content_size,
        entries=entries,
        skipped=ex.skipped,
        compression=compression,
    )


__all__ = ["ExtractStats", "HashingReader", "SplitSink", "WhiteoutMode", "clean_name",
           "extract_tar", "iter_members", "open_decompressed"]
