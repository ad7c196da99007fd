"""Native volume backup, restore and clone: ``volume export``, ``volume import``, ``volume clone``.

The archive is a plain POSIX (PAX) tar of the volume's content — ``tar xf vol.tar -C dir``
restores it with GNU tar, busybox tar or Python — that also describes itself:

* a leading PAX *global* header whose ``comment`` record is
  ``orlop-volume/1 {"name":…,"driver":…,"labels":…,"options":…,"created_at":…}``;
* the content: ``./`` (the volume root's owner, mode and xattrs), then every entry,
  owners, modes, symlinks, hard links, xattrs, devices and FIFOs kept;
* a trailing global header whose ``comment`` is ``orlop-volume-sum <algorithm>:<hex>``:
  the checksum of every byte of the (uncompressed) stream before it (and, when the root's
  time has a fraction of a second, an ``mtime`` record for the entry after it), followed
  by a bare ``./`` entry again (a global header must be followed by an entry: Python's tarfile
  refuses one right before the end; re-applying the root's owner and mode is harmless).

``comment`` is the one PAX keyword POSIX defines as "ignored by the reader", so every
tar extracts the archive silently and `volume import` alone reads it.  The trailer is
at a fixed distance from the end of the stream (its 1024 + 512 bytes, then the
1024-byte end-of-archive marker), so the importer hashes the stream as it extracts it, holding
back only the last 2048 bytes, and checks the sum before anything is made visible.

Import is extract-then-swap: the archive is extracted into a staging directory of the
volume service (``volumes/.tmp-<pid>-...``), checked, and exchanged with ``_data`` in one
``renameat2(RENAME_EXCHANGE)``; an interrupted, corrupt or hostile import leaves the
previous content untouched and a staging directory that the next reconcile removes.  A
new volume is filled while it is still the service's staging directory and appears only
once complete (VolumeService.ensure's ``fill``).  A volume that containers use is
refused unless ``force``; then the content is replaced entry by entry inside ``_data``
(the directory the containers have mounted), each entry an atomic rename.

The checksum detects corruption (a bit flipped in storage, a truncated copy); it is not
a signature (whoever can change the archive can change the sum).  The default is CRC-32,
as gzip and zip use for the same purpose: at several GB/s it keeps ``volume export`` as
fast as ``tar``, where sha256 alone would take as long as GNU tar's whole run on the
same data (bench/backup.py).  ``--checksum sha256`` gives a digest to compare with
``sha256sum``-style records; import verifies either, as the header names it.

The tar reader and writer are orlop.archive's (extract.py, tarwriter.py), shared with
images and ``cp``; this package does not import the image package (the layers contract
of design.md keeps the two independent).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from orlop.archive.crc32 import Crc32
from orlop.archive.paxtime import pax_mtime
from orlop.archive.streams import Prefixed, Readable, read_exact
from orlop.archive.tarwriter import TarWriter
from orlop.errors import (
    ConflictError,
    InvalidArchiveError,
    InvalidParameterError,
    UnsupportedError,
)
from orlop.kernel.flags import RENAME_EXCHANGE
from orlop.kernel.fs import renameat2, syncfs
from orlop.records import FrozenRecord
from orlop.state.inflight import fault
from orlop.volumes.copy import copy_tree_fd
from orlop.volumes.dirs import staging_name
from orlop.volumes.fsutil import remove_tree
from orlop.volumes.model import ANONYMOUS_LABEL, Volume

if TYPE_CHECKING:
    # The reader side (extract, tarread) is imported by import_volume only: an export
    # does not load it.
    from orlop.archive.extract import ExtractStats

FORMAT = "orlop-volume/1"
SUM_PREFIX = "orlop-volume-sum "
CHECKSUMS = ("crc32", "sha256")
STAGE_PREFIX = ".orlop-import-"
_TRAILER = 1024 + 512  # the trailing global header (header + records), then "./" again
_END = 1024  # two zero blocks
_BLOCK = 512


def new_hasher(algorithm: str) -> Any:
    if algorithm == "crc32":
        return Crc32()  # libdeflate's where the system has it (archive/crc32.py)
    if algorithm == "sha256":
        import hashlib  # only then: _hashlib costs ~2 ms of every start

        return hashlib.sha256()
    raise InvalidParameterError(
        f"unknown checksum {algorithm!r}: use one of {', '.join(CHECKSUMS)}")


class ArchiveMeta(FrozenRecord):
    """What the leading global header says.  (Records, not dataclasses, as every class
    on the volume export and import paths: orlop/records.py says why.)"""

    _fields = ("name", "driver", "labels", "options", "created_at", "checksum", "state",
               "state_name", "base", "base_name")
    __slots__ = _fields
    name: str
    driver: str
    labels: dict[str, str] | None
    options: dict[str, str] | None
    created_at: str
    checksum: str
    # Incremental exports (incremental.py): the id and name of the snapshot this archive
    # brings a volume to ("" for live content, which no later archive can build on), and
    # of the snapshot it is based on ("" for a full archive).
    state: str
    state_name: str
    base: str
    base_name: str

    def __init__(self, name: str, driver: str, labels: dict[str, str] | None,
                 options: dict[str, str] | None, created_at: str = "",
                 checksum: str = "crc32", state: str = "", state_name: str = "",
                 base: str = "", base_name: str = "") -> None:
        self._set(name=name, driver=driver, labels=labels, options=options,
                  created_at=created_at, checksum=checksum, state=state,
                  state_name=state_name, base=base, base_name=base_name)

    def to_comment(self) -> str:
        body: dict[str, Any] = {
            "name": self.name, "driver": self.driver, "labels": self.labels,
            "options": self.options, "created_at": self.created_at,
            "checksum": self.checksum}
        # Only when set: a full export of live content keeps the bytes it always had.
        for key in ("state", "state_name", "base", "base_name"):
            if getattr(self, key):
                body[key] = getattr(self, key)
        return FORMAT + " " + json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_comment(cls, text: str) -> ArchiveMeta | None:
        if not text.startswith(FORMAT + " "):
            return None
        try:
            body = json.loads(text[len(FORMAT) + 1:])
            labels, options = body.get("labels"), body.get("options")
            for m in (labels, options):
                if m is not None and not (isinstance(m, dict) and all(
                        isinstance(k, str) and isinstance(v, str) for k, v in m.items())):
                    raise ValueError("labels and options must map strings to strings")
            return cls(name=str(body.get("name") or ""), driver=str(body.get("driver")
                                                                   or "local"),
                       labels=labels, options=options,
                       created_at=str(body.get("created_at") or ""),
                       checksum=str(body.get("checksum") or "crc32"),
                       state=str(body.get("state") or ""),
                       state_name=str(body.get("state_name") or ""),
                       base=str(body.get("base") or ""),
                       base_name=str(body.get("base_name") or ""))
        except (ValueError, AttributeError) as err:
            raise InvalidArchiveError(f"invalid volume archive header: {err}") from None


class ImportResult(FrozenRecord):
    _fields = ("volume", "created", "verified", "meta", "size", "entries")
    __slots__ = _fields
    volume: Volume
    created: bool  # the volume did not exist before
    verified: bool  # the archive carried a checksum and it matched
    meta: ArchiveMeta | None
    size: int  # bytes of the uncompressed tar stream
    entries: int

    def __init__(self, volume: Volume, created: bool, verified: bool,
                 meta: ArchiveMeta | None, size: int, entries: int) -> None:
        self._set(volume=volume, created=created, verified=verified, meta=meta, size=size,
                  entries=entries)


# --- export ----------------------------------------------------------------------------


def export_volume(service: Any, name: str, out_fd: int, *,
                  progress: Callable[[int], None] | None = None,
                  checksum: str = "crc32", snapshot: str | None = None,
                  since: str | None = None, writeback: bool = False) -> int:
    """Write the self-describing archive of volume ``name`` to ``out_fd``; returns its size.

    ``snapshot``: the content of that snapshot instead of the live content (the archive
    then records the snapshot's id as the state it brings a volume to).  ``since``: only
    what changed since that snapshot (incremental.py), the archive recording it as its
    base, which ``volume import`` checks.  ``writeback``: ``out_fd`` is a file that will
    replace an existing one (archive/writepipe.py's ``writeback``).
    """
    vol: Volume = service.get(name)
    if vol.options:
        raise UnsupportedError(
            f"volume export: volume {name} has driver options ({', '.join(sorted(vol.options))})"
            "; export it through a container (reference 2.13's tar recipe)")
    state: Any = None  # the snapshots (volumes/snapshots.py's Snapshot), when named
    base: Any = None
    base_fd = None
    if snapshot or since:
        # Only then: the snapshot store imports datetime (~1 ms of a plain export's start).
        from orlop.volumes.snapshots import SnapshotStore

        snaps = SnapshotStore(service)
        state = snaps.get(name, snapshot) if snapshot else None
        base = snaps.get(name, since) if since else None
        if base is not None and state is not None and base.created_at > state.created_at:
            raise InvalidParameterError(
                f"volume export: snapshot {since} is newer than {snapshot}: --since takes "
                "the older snapshot")
        data_fd = snaps.open_data(name, snapshot) if snapshot else service.open_data_dir(name)
        if since:
            try:
                base_fd = snaps.open_data(name, since)
            except BaseException:
                os.close(data_fd)
                raise
    else:
        data_fd = service.open_data_dir(name)
    try:
        # CRC-32 by libdeflate where the system has it (archive/crc32.py: 5x zlib's).
        hasher = new_hasher(checksum)
        # sparse: holes travel in GNU's PAX sparse format, not as zeros.
        w = TarWriter(out_fd, hasher=hasher, progress=progress, sparse=True,
                      writeback=writeback)
        labels = None if vol.labels is None else {
            k: v for k, v in vol.labels.items() if k != ANONYMOUS_LABEL}
        meta = ArchiveMeta(name=vol.name, driver=vol.driver, labels=labels,
                           options=vol.options, created_at=vol.created_at,
                           checksum=checksum,
                           state=state.id if state else "",
                           state_name=state.name if state else "",
                           base=base.id if base else "",
                           base_name=base.name if base else "")
        w.add_global({"comment": meta.to_comment()})
        if base_fd is not None:
            from orlop.volumes.incremental import write_incremental

            write_incremental(w, data_fd, base_fd)
        else:
            w.add_tree(data_fd, "", None, include_root=True)
        digest = hasher.hexdigest()
        # The closing "./" is one bare block (the trailer's size is fixed), so the root's
        # nanoseconds ride in the global header before it, which applies to the entries
        # that follow (POSIX; GNU tar and Python read it so): the last "./" must not cut
        # the time the first one set.
        root = os.fstat(data_fd)
        w.add_global({"comment": f"{SUM_PREFIX}{checksum}:{digest}",
                      **pax_mtime(root.st_mtime_ns)})
        w.add_dir("./", root)
        w.close()
        return w.size
    finally:
        os.close(data_fd)
        if base_fd is not None:
            os.close(base_fd)


# --- import ----------------------------------------------------------------------------


class _TailHashing:
    """sha256 of everything read except the last ``hold`` bytes, which are kept."""

    def __init__(self, inner: Readable, hold: int, hasher: Any) -> None:
        self._inner = inner
        self._hold = hold
        self.hasher = hasher
        self.tail = b""
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if not data:
            return data
        self.size += len(data)
        hold = self._hold
        if len(data) >= hold:
            self.hasher.update(self.tail)
            self.hasher.update(memoryview(data)[:-hold])
            self.tail = data[-hold:]
        else:
            buf = self.tail + data
            cut = len(buf) - hold
            if cut > 0:
                self.hasher.update(buf[:cut])
                buf = buf[cut:]
            self.tail = buf
        return data


def _pax_records(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos:pos + 1] != b"\0":
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError:
            break
        if length <= 0:
            break
        rec = data[sp + 1:pos + length]
        key, _, value = rec.rstrip(b"\n").partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out


def _global_header(block_and_data: bytes) -> tuple[dict[str, str], int] | None:
    """(records, bytes used) if the bytes start with a PAX global header, else None."""
    if len(block_and_data) < _BLOCK or block_and_data[156:157] != b"g":
        return None
    try:
        size = int(block_and_data[124:136].strip(b" \0") or b"0", 8)
    except ValueError:
        return None
    used = _BLOCK + (size + _BLOCK - 1) // _BLOCK * _BLOCK
    return _pax_records(block_and_data[_BLOCK:_BLOCK + size]), used


def _stale_stages(vol_dir_fd: int) -> None:
    for entry in os.listdir(vol_dir_fd):
        if not entry.startswith(STAGE_PREFIX):
            continue
        pid = entry[len(STAGE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and os.path.exists(f"/proc/{pid}"):
            continue  # another import in progress
        with contextlib.suppress(OSError):
            remove_tree(vol_dir_fd, entry)


@contextlib.contextmanager
def _volume_dir(service: Any, name: str) -> Iterator[int]:
    """An O_PATH fd of ``volumes/<name>`` (the parent of ``_data``), reached from the
    fd the service hands out, never by a path."""
    data_fd = service.open_data_dir(name)
    try:
        vfd = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=data_fd)
    finally:
        os.close(data_fd)
    try:
        yield vfd
    finally:
        os.close(vfd)


def import_volume(service: Any, name: str, stream: Readable, *,
                  force: bool = False, use_archive_meta: bool = True) -> ImportResult:
    """Restore a volume from an archive (a volume export, or any tar of a directory).

    The volume is created if missing, with the driver, labels and options recorded in the
    archive.  Refused for a volume that containers reference unless ``force``.
    """
    from orlop.archive.extract import open_decompressed

    raw, _compression = open_decompressed(stream)
    head = read_exact(raw, _BLOCK)
    meta: ArchiveMeta | None = None
    if head[156:157] == b"g":
        size = int(head[124:136].strip(b" \0") or b"0", 8)
        if size > 1 << 20:
            raise InvalidArchiveError("invalid volume archive: oversized global header")
        head += read_exact(raw, (size + _BLOCK - 1) // _BLOCK * _BLOCK)
        parsed = _global_header(head)
        if parsed is not None:
            meta = ArchiveMeta.from_comment(parsed[0].get("comment", ""))
    reader = _TailHashing(Prefixed(head, raw), _TRAILER + _END,
                          new_hasher(meta.checksum if meta is not None else "crc32"))

    existing = _lookup(service, name)
    if existing is not None and not force:
        refs = service.references(name)
        if refs:
            raise ConflictError(
                f"volume {name} is in use by {len(refs)} container(s) - "
                f"[{', '.join(r[:12] for r in refs)}]: stop and remove them, or use --force")
    options = meta.options if meta is not None and use_archive_meta else None
    incremental = meta is not None and bool(meta.base)
    if incremental:
        assert meta is not None
        _check_base(service, name, meta, existing is not None)
    if (existing.options if existing is not None else options):
        raise UnsupportedError(
            f"volume import: volume {name} has driver options; import into a volume "
            "without options, or restore through a container")
    created = False
    stats: ExtractStats | None = None
    if existing is None:
        # A new volume is filled while it is still a staging directory, and appears only
        # once complete and verified: a kill or a bad archive leaves no half-imported
        # volume (the staging directory goes with the next reconcile).
        def fill(data_fd: int) -> None:
            nonlocal stats
            stats = _extract(reader, meta, data_fd, name)

        if meta is not None and use_archive_meta:
            _vol, created = service.ensure(name, meta.driver or "local", meta.options,
                                           meta.labels, fill=fill)
        else:
            _vol, created = service.ensure(name, fill=fill)
        if not created:
            raise ConflictError(f"volume import: volume {name} was created by another "
                                "process meanwhile; nothing was imported")
    else:
        with service.operation():
            stats = _stage_and_swap(service, name, reader, meta, force=force,
                                    incremental=incremental)
    _record_base(service, name, meta)
    return ImportResult(volume=service.get(name), created=created,
                        verified=meta is not None, meta=meta, size=reader.size,
                        entries=stats.entries if stats is not None else 0)


def _lookup(service: Any, name: str) -> Volume | None:
    from orlop.errors import VolumeNotFoundError

    try:
        vol: Volume = service.get(name)
        return vol
    except VolumeNotFoundError:
        return None


def _check_base(service: Any, name: str, meta: ArchiveMeta, exists: bool) -> None:
    """An incremental archive applies only onto the content it was made against: the
    volume must record (import-base.json, written by the import that brought it there)
    the archive's base snapshot."""
    base = f"{meta.name}@{meta.base_name} ({meta.base[:12]})"
    if not exists:
        raise ConflictError(
            f"volume import: the archive is an incremental export based on snapshot {base}; "
            f"volume {name} does not exist: import the archive of {meta.base_name} first")
    from orlop.volumes.snapshots import read_base

    with _volume_dir(service, name) as vfd:
        have = read_base(vfd)
    if have is None or have.get("state") != meta.base:
        now = ("no recorded snapshot" if have is None else
               f"snapshot {have.get('volume', '?')}@{have.get('name', '?')} "
               f"({str(have.get('state', ''))[:12]})")
        raise ConflictError(
            f"volume import: the archive is based on snapshot {base}, but volume {name} "
            f"holds {now}: import the chain in order, starting from a full export")


def _record_base(service: Any, name: str, meta: ArchiveMeta | None) -> None:
    """What the volume now holds, for the next incremental import's check."""
    from orlop.volumes.snapshots import write_base

    with _volume_dir(service, name) as vfd:
        if meta is not None and meta.state:
            write_base(vfd, {"state": meta.state, "name": meta.state_name,
                             "volume": meta.name})
        else:
            write_base(vfd, None)


def _verify(reader: _TailHashing, meta: ArchiveMeta | None) -> None:
    if meta is None:
        return  # a plain tar: nothing to check against
    trailer = reader.tail[:_TRAILER - _BLOCK]
    parsed = _global_header(trailer)
    comment = parsed[0].get("comment", "") if parsed else ""
    if not comment.startswith(SUM_PREFIX) or reader.tail[_TRAILER:] != bytes(_END):
        raise InvalidArchiveError(
            "the volume archive is truncated or corrupt: its checksum trailer is missing")
    want = comment[len(SUM_PREFIX):].strip()
    got = f"{meta.checksum}:{reader.hasher.hexdigest()}"
    if want != got:
        raise InvalidArchiveError(
            f"the volume archive is corrupt: content checksum mismatch (the archive says "
            f"{want[:20]}, its content is {got[:20]})")


def _stage_and_swap(service: Any, name: str, reader: _TailHashing,
                    meta: ArchiveMeta | None, *, force: bool,
                    incremental: bool = False) -> ExtractStats:
    """Import into an existing volume.  The staging directory is one of the volume
    service's (``volumes/.tmp-<pid>-...``, same filesystem): what a kill leaves of it,
    the new content half-extracted or the old content being deleted, goes with the next
    reconcile, and the volume holds the old or the new content, never a mix."""
    with _volume_dir(service, name) as vfd, \
            _opened("..", vfd) as pfd:
        _stale_stages(vfd)  # left inside the volume by older versions
        stage = staging_name()
        os.mkdir(stage, 0o700, dir_fd=pfd)
        try:
            with _opened(stage, pfd) as sfd:
                if incremental:
                    # The changes apply to a copy of the current content (reflinked
                    # where the filesystem can), exchanged as a whole like a full import.
                    with _opened("_data", vfd) as cur:
                        copy_tree_fd(cur, sfd, root_metadata=True)
                stats = _extract(reader, meta, sfd, name, incremental=incremental)
            refs = service.references(name) if force else []
            if refs:
                _swap_in_place(vfd, pfd, stage)
            else:
                # The one atomic step: the staged tree becomes _data, the old content
                # goes to the staging name and is deleted below.
                renameat2(pfd, stage, vfd, "_data", RENAME_EXCHANGE)
                fault("volume.import.swapped")
        finally:
            with contextlib.suppress(OSError):
                remove_tree(pfd, stage)
    return stats


@contextlib.contextmanager
def _opened(name: str, dir_fd: int) -> Iterator[int]:
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


class _EarlyWriteback:
    """Writes back what the import has extracted so far, while it extracts the rest: a
    ``syncfs`` on a thread of its own each time another ``_KICK`` bytes of files were
    read, one at a time.  The kernel would otherwise start nothing before the final
    ``syncfs`` (256 MiB is far below its background threshold), which then waits for
    all of it (0.17 s of the bench's import; 0.02 s after this).  Durability does not
    depend on it: the final ``syncfs`` is still made, and reports any error this one
    had (its own fd: the kernel reports a writeback error once per open file)."""

    _KICK = 32 << 20

    def __init__(self, dest_fd: int) -> None:
        self._fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dest_fd)
        self._since = 0
        self._thread: Any = None
        self.error: OSError | None = None

    def entry(self, member: Any) -> None:
        self._since += member.size
        if self._since < self._KICK or (self._thread is not None
                                        and self._thread.is_alive()):
            return
        import threading

        self._since = 0
        self._thread = threading.Thread(target=self._sync, name="orlop-writeback",
                                        daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        try:
            syncfs(self._fd)
        except OSError as err:
            self.error = err

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        os.close(self._fd)


def _extract(reader: _TailHashing, meta: ArchiveMeta | None, dest_fd: int,
             name: str, *, incremental: bool = False) -> ExtractStats:
    """Extract the archive into ``dest_fd`` (a directory no one sees yet), check its
    checksum and make it durable.  ``incremental``: over a copy of the current content,
    OCI whiteouts applied as deletions."""
    from orlop.archive.extract import extract_tar

    if not incremental:
        # A tar without a "./" entry leaves the root as a fresh volume's: 0755.
        os.fchmod(dest_fd, 0o755)
    writeback = _EarlyWriteback(dest_fd)
    try:
        # Device nodes are restored (issue 10: a volume round-trips every file type):
        # the archive is the administrator's, and a node in a volume gives a container
        # nothing it could not make itself with CAP_MKNOD, which Docker's default set
        # includes (what a node may open is decided at open, as for those).
        # digest=False: the archive carries its own checksum, checked by _verify; a
        # second sha256 of the same bytes would only cost time.
        stats = extract_tar(reader, dest_fd, keep_owner=True, allow_devices=True,
                            whiteouts="oci" if incremental else "keep", digest=False,
                            threaded=True, on_entry=writeback.entry)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InvalidArchiveError(
                f"volume import: no space left while extracting the archive "
                f"into {name} (the previous content is kept)") from err
        raise
    finally:
        writeback.close()
    _verify(reader, meta)
    # Durable before success is reported, with one call: syncfs(2) writes back every
    # file the extraction wrote (and the directories), where an fsync per file would
    # wait for the disk thousands of times; the directory's own fsync was not enough.
    syncfs(dest_fd)
    if writeback.error is not None:
        raise writeback.error  # a writeback error the final syncfs no longer reports
    return stats


def _swap_in_place(vfd: int, pfd: int, stage: str) -> None:
    """For a volume containers have mounted: their mount shows the ``_data`` inode, so its
    entries are replaced one by one (each an atomic rename) and the old ones trashed.
    ``stage`` and the trash are in ``pfd`` (``volumes/``), the volume's dir is ``vfd``."""
    data = os.open("_data", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                   dir_fd=vfd)
    sfd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                  dir_fd=pfd)
    trash = staging_name()
    os.mkdir(trash, 0o700, dir_fd=pfd)
    tfd = os.open(trash, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                  dir_fd=pfd)
    try:
        for entry in os.listdir(data):
            os.rename(entry, entry, src_dir_fd=data, dst_dir_fd=tfd)
        for entry in os.listdir(sfd):
            os.rename(entry, entry, src_dir_fd=sfd, dst_dir_fd=data)
        st = os.fstat(sfd)
        os.chown(data, st.st_uid, st.st_gid)
        os.chmod(data, stat.S_IMODE(st.st_mode))
    finally:
        os.close(tfd)
        os.close(sfd)
        os.close(data)
        with contextlib.suppress(OSError):
            remove_tree(pfd, trash)


# --- clone -----------------------------------------------------------------------------


def clone_volume(service: Any, src: str, dst: str, *,
                 labels: Mapping[str, str] | None = None) -> Volume:
    """A new volume ``dst`` with ``src``'s driver, options, labels and content.

    The copy is fd-based (orlop.volumes.copy); regular files go through
    ``copy_file_range``, which on a filesystem with shared extents (btrfs, XFS) is a
    reflink: the clone costs no data blocks until either side writes.
    """
    vol: Volume = service.get(src)
    if _lookup(service, dst) is not None:
        raise ConflictError(f"volume clone: volume {dst} already exists")
    if vol.options:
        raise UnsupportedError(f"volume clone: volume {src} has driver options")
    new_labels = dict(labels) if labels is not None else (
        None if vol.labels is None else
        {k: v for k, v in vol.labels.items() if k != ANONYMOUS_LABEL})
    _new, created = service.ensure(dst, vol.driver, vol.options, new_labels)
    if not created:
        raise ConflictError(f"volume clone: volume {dst} already exists")
    try:
        sfd = service.open_data_dir(src)
        try:
            dfd = service.open_data_dir(dst)
            try:
                copy_tree_fd(sfd, dfd, root_metadata=True)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
    except BaseException as err:
        with contextlib.suppress(Exception):
            service.remove(dst, force=True)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise InvalidParameterError(f"volume clone: no space left for {dst}") from err
        raise
    vol2: Volume = service.get(dst)
    return vol2


__all__ = ["FORMAT", "ArchiveMeta", "ImportResult", "clone_volume",
           "export_volume", "import_volume"]
