"""Volume snapshots: ``volume snapshot create|ls|rm|restore VOLUME [SNAPSHOT]``.

Where they live: in the volume's own directory, ``volumes/<name>/_snapshots/<snap>/``,
beside the local driver's ``_data``, so a snapshot goes wherever its volume goes (a
``volume rename`` moves it, a ``volume rm`` removes it) and needs no database row: the
directory is the truth, as for volumes themselves (no schema change).  Each holds

* ``_data/``: a copy of the volume's data directory (plain volumes), or ``disk.img``: a
  copy of the ext4 image of a ``size=`` volume;
* ``snapshot.json``: name, a random id (what incremental exports name as their base),
  creation time, how it was made (``reflink`` or ``copy``) and its size.

How cheap: every regular file is copied with ``FICLONE`` first (copy.copy_file_data and
``copy_file_range``, which the kernel turns into a reflink on the same btrfs or XFS
filesystem): there a snapshot costs metadata only until either side writes.  On a
filesystem without shared extents (ext4, the usual case) it is a full, sparse-aware
copy; ``snapshot ls`` shows which (``METHOD``).  Hard links, owners, modes, xattrs and
times are kept (copy.py), so the mtimes an incremental export compares are the volume's.

Crash safety (``kill -9`` at any point): a snapshot is built in
``_snapshots/.tmp-<pid>-<uuid>`` (flocked while it is built), its data flushed with
syncfs(2), and renamed into place with RENAME_NOREPLACE; it is removed by a rename to
``_snapshots/.trash-<pid>-<uuid>`` first.  So a kill leaves a complete snapshot or none,
plus a leftover that the next command's reconciliation deletes (snapshotsweep.py, called
by reconcile.py; the operation marker of state/inflight.py makes that command
reconcile).  A restore copies the snapshot into a staging directory of ``volumes/``
(swept the same way) and exchanges it with ``_data`` in one RENAME_EXCHANGE, made inside
a database write transaction after the in-use check, so a container starting meanwhile
either is seen (the restore is refused) or starts on the restored content.

Not supported: volumes of other drivers and volumes whose options mount something
(``type=``/``device=``: NFS, tmpfs, binds), whose data is not in the volume directory;
a ``size=`` volume is snapshotted and restored only while no container has it mounted.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    SystemFailureError,
    UnsupportedError,
)
from orlop.kernel.flags import RENAME_EXCHANGE
from orlop.kernel.fs import renameat2, syncfs
from orlop.records import FrozenRecord
from orlop.state import inflight
from orlop.volumes.copy import copy_file_data, copy_tree_fd
from orlop.volumes.dirs import TMP_PREFIX, TRASH_PREFIX, rename_noreplace, staging_name
from orlop.volumes.fsutil import (
    open_dir,
    opened_dir,
    read_file,
    remove_tree,
    tree_size,
    write_file,
)
from orlop.volumes.model import LOCAL_DRIVER, Volume
from orlop.volumes.names import is_valid_name
from orlop.volumes.snapshotsweep import SNAPSHOTS_DIR

if TYPE_CHECKING:
    from orlop.volumes.service import VolumeService

META_FILE = "snapshot.json"
DATA_DIR = "_data"  # the local driver's layout (drivers/local.py)
DISK_IMAGE = "disk.img"


class SnapshotNotFoundError(NotFoundError):
    def __init__(self, volume: str, name: str) -> None:
        super().__init__(f"no such snapshot: {volume}@{name}")


class Snapshot(FrozenRecord):
    """One snapshot, as ``snapshot.json`` records it.  (A record, not a dataclass:
    ``volume export`` imports this module; orlop/records.py says why.)"""

    _fields = ("volume", "name", "id", "created_at", "method", "size", "kind")
    __slots__ = _fields
    volume: str
    name: str
    id: str
    created_at: str
    method: str  # "reflink" or "copy"
    size: int  # bytes of the copied data (the image's apparent size for size= volumes)
    kind: str  # "tree" (_data) or "image" (disk.img of a size= volume)

    def __init__(self, volume: str, name: str, id: str, created_at: str, method: str,
                 size: int, kind: str = "tree") -> None:
        self._set(volume=volume, name=name, id=id, created_at=created_at, method=method,
                  size=size, kind=kind)

    def to_wire(self) -> dict[str, Any]:
        return {"Volume": self.volume, "Name": self.name, "ID": self.id,
                "CreatedAt": self.created_at, "Method": self.method, "Size": self.size,
                "Kind": self.kind}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Snapshot:
        return cls(volume=str(d.get("Volume", "")), name=str(d.get("Name", "")),
                   id=str(d.get("ID", "")), created_at=str(d.get("CreatedAt", "")),
                   method=str(d.get("Method", "")), size=int(d.get("Size") or 0),
                   kind=str(d.get("Kind") or "tree"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_snapshot_name(name: str) -> None:
    """A snapshot name is one path component with the volume-name rules."""
    if not is_valid_name(name):
        raise InvalidParameterError(
            f'invalid snapshot name "{name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, '
            "and at least two characters")


class SnapshotStore:
    """The snapshots of the volumes of one :class:`VolumeService`."""

    def __init__(self, service: VolumeService) -> None:
        self.service = service

    # --- helpers -------------------------------------------------------------------

    def _volume(self, name: str) -> Volume:
        vol = self.service.get(name)
        if vol.driver != LOCAL_DRIVER:
            raise UnsupportedError(f"volume {name}: snapshots need the local driver, not "
                                   f"{vol.driver}")
        if vol.options and "size" not in vol.options:
            raise UnsupportedError(
                f"volume {name}: its data is mounted from elsewhere "
                f"({', '.join(sorted(vol.options))}); snapshot it where it lives")
        return vol

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[tuple[int, int]]:
        """(volumes dir fd, volume dir fd) under the volume's lock and an operation
        marker, so a kill in between makes the next command reconcile."""
        svc = self.service
        with svc.operation(), svc.dirs.open() as vfd, svc.dirs.locked(vfd, name) as vol_fd:
            assert vol_fd is not None
            yield vfd, vol_fd

    @staticmethod
    @contextlib.contextmanager
    def _snapdir(vol_fd: int, create: bool) -> Iterator[int | None]:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(SNAPSHOTS_DIR, 0o700, dir_fd=vol_fd)
        try:
            fd = open_dir(SNAPSHOTS_DIR, vol_fd)
        except FileNotFoundError:
            yield None
            return
        try:
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _read(sdir: int, volume: str, name: str) -> Snapshot:
        try:
            with opened_dir(name, sdir) as fd:
                raw = read_file(fd, META_FILE)
        except (FileNotFoundError, NotADirectoryError):
            raise SnapshotNotFoundError(volume, name) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise SnapshotNotFoundError(volume, name) from None
            raise
        if raw is None:
            raise SnapshotNotFoundError(volume, name)
        try:
            d = json.loads(raw)
            return Snapshot(volume=volume, name=name, id=str(d["id"]),
                            created_at=str(d.get("created_at", "")),
                            method=str(d.get("method", "")), size=int(d.get("size", 0)),
                            kind=str(d.get("kind", "tree")))
        except (ValueError, KeyError, TypeError) as err:
            raise SystemFailureError(f"snapshot {volume}@{name}: unreadable "
                                     f"{META_FILE}: {err}") from None

    # --- read ----------------------------------------------------------------------

    def list(self, volume: str) -> list[Snapshot]:
        """The volume's snapshots, oldest first."""
        self._volume(volume)
        out: list[Snapshot] = []
        with self.service.dirs.open() as vfd, opened_dir(volume, vfd) as vol_fd, \
                self._snapdir(vol_fd, False) as sdir:
            if sdir is None:
                return out
            for entry in sorted(os.listdir(sdir)):
                if entry.startswith(".") or not is_valid_name(entry):
                    continue
                with contextlib.suppress(SnapshotNotFoundError):
                    out.append(self._read(sdir, volume, entry))
        out.sort(key=lambda s: (s.created_at, s.name))
        return out

    def get(self, volume: str, name: str) -> Snapshot:
        self._volume(volume)
        if not is_valid_name(name):
            raise SnapshotNotFoundError(volume, name)
        with self.service.dirs.open() as vfd, opened_dir(volume, vfd) as vol_fd, \
                self._snapdir(vol_fd, False) as sdir:
            if sdir is None:
                raise SnapshotNotFoundError(volume, name)
            return self._read(sdir, volume, name)

    def open_data(self, volume: str, name: str) -> int:
        """An O_RDONLY directory fd of the snapshot's data (export, incremental export);
        the caller closes it."""
        snap = self.get(volume, name)
        if snap.kind != "tree":
            raise UnsupportedError(f"snapshot {volume}@{name} is the image of a size= "
                                   "volume: restore it to read it")
        with self.service.dirs.open() as vfd, opened_dir(volume, vfd) as vol_fd, \
                opened_dir(SNAPSHOTS_DIR, vol_fd) as sdir, opened_dir(name, sdir) as fd:
            return open_dir(DATA_DIR, fd)

    def data_path(self, volume: str, name: str) -> str:
        """The host path of the snapshot's data, for a read-only bind into a container
        (checked to be a directory reached without a symlink)."""
        os.close(self.open_data(volume, name))
        return f"{self.service.dirs.path_str}/{volume}/{SNAPSHOTS_DIR}/{name}/{DATA_DIR}"

    # --- create --------------------------------------------------------------------

    def create(self, volume: str, name: str | None = None) -> Snapshot:
        """Snapshot the volume's current content (see the module docstring)."""
        if name is None:
            name = "snap-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        check_snapshot_name(name)
        self._volume(volume)
        with self._locked(volume) as (_vfd, vol_fd):
            vol = self._volume(volume)
            with self._snapdir(vol_fd, True) as sdir:
                assert sdir is not None
                if _exists(sdir, name):
                    raise ConflictError(f"snapshot {volume}@{name} already exists")
                stage = staging_name(TMP_PREFIX)
                os.mkdir(stage, 0o700, dir_fd=sdir)
                try:
                    with opened_dir(stage, sdir) as stage_fd:
                        fcntl.flock(stage_fd, fcntl.LOCK_EX)  # building: not a leftover
                        snap = self._fill(vol, vol_fd, stage_fd, name)
                        write_file(stage_fd, META_FILE, json.dumps({
                            "name": name, "id": snap.id, "created_at": snap.created_at,
                            "method": snap.method, "size": snap.size, "kind": snap.kind,
                            "volume": volume}, sort_keys=True).encode(), 0o600)
                        syncfs(stage_fd)  # the copy is on disk before it has a name
                        inflight.fault("volume.snapshot.staged")
                        try:
                            rename_noreplace(sdir, stage, name)
                        except OSError as err:
                            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                                raise ConflictError(
                                    f"snapshot {volume}@{name} already exists") from None
                            raise
                        os.fsync(sdir)
                        return snap
                finally:
                    with contextlib.suppress(OSError):
                        remove_tree(sdir, stage)  # nothing left once it was renamed

    def _fill(self, vol: Volume, vol_fd: int, stage_fd: int, name: str) -> Snapshot:
        snap_id = os.urandom(16).hex()  # as secrets.token_hex, without its hmac/hashlib import
        created = _now()
        if vol.options and "size" in vol.options:
            drv = self.service.drivers.layout(vol.driver)
            if drv.is_mounted(vol_fd):
                raise ConflictError(
                    f"snapshot {vol.name}: the size= volume is mounted by a container; its "
                    "image is snapshotted only while no container uses it")
            src = os.open(DISK_IMAGE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=vol_fd)
            try:
                dst = os.open(DISK_IMAGE, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                              | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=stage_fd)
                try:
                    method = copy_file_data(src, dst)
                finally:
                    os.close(dst)
                size = os.fstat(src).st_size
            finally:
                os.close(src)
            return Snapshot(vol.name, name, snap_id, created, method, size, "image")
        method = probe_reflink(stage_fd)
        data_fd = open_dir(DATA_DIR, vol_fd)
        try:
            os.mkdir(DATA_DIR, 0o700, dir_fd=stage_fd)
            with opened_dir(DATA_DIR, stage_fd) as dst_fd:
                try:
                    copy_tree_fd(data_fd, dst_fd, root_metadata=True)
                except OSError as err:
                    if err.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise SystemFailureError(
                            f"snapshot {vol.name}@{name}: no space left for the copy "
                            "(this filesystem has no reflinks: a snapshot is a full copy)"
                        ) from err
                    raise
                size = tree_size(dst_fd)
        finally:
            os.close(data_fd)
        return Snapshot(vol.name, name, snap_id, created, method, size, "tree")

    # --- remove --------------------------------------------------------------------

    def remove(self, volume: str, name: str) -> None:
        self._volume(volume)
        if not is_valid_name(name):
            raise SnapshotNotFoundError(volume, name)
        users = self._mounted_by(volume, name)
        if users:
            raise ConflictError(f"remove {volume}@{name}: snapshot is in use - "
                                f"[{', '.join(users)}]")
        with self._locked(volume) as (_vfd, vol_fd), self._snapdir(vol_fd, False) as sdir:
            if sdir is None:
                raise SnapshotNotFoundError(volume, name)
            self._read(sdir, volume, name)
            trash = staging_name(TRASH_PREFIX)
            os.rename(name, trash, src_dir_fd=sdir, dst_dir_fd=sdir)
            os.fsync(sdir)
            inflight.fault("volume.snapshot.rm.trashed")
            with contextlib.suppress(OSError):
                remove_tree(sdir, trash)

    def _mounted_by(self, volume: str, name: str) -> builtins.list[str]:
        """Containers that have the snapshot bound (read-only snapshot mounts are recorded
        as binds of its data path)."""
        path = f"{self.service.dirs.path_str}/{volume}/{SNAPSHOTS_DIR}/{name}/{DATA_DIR}"
        with self.service.store.read() as tx:
            rows = tx.conn.execute(
                "SELECT c.name, m.spec FROM mount_points m JOIN containers c ON "
                "c.id = m.container_id WHERE m.type = 'bind'").fetchall()
        out = []
        for cname, spec in rows:
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(spec).get("source") == path:
                    out.append(str(cname))
        return sorted(set(out))

    # --- restore -------------------------------------------------------------------

    def restore(self, volume: str, name: str) -> Snapshot:
        """Replace the volume's content by the snapshot's; refused while a running
        container uses the volume (Docker's in-use text)."""
        self._volume(volume)
        if not is_valid_name(name):
            raise SnapshotNotFoundError(volume, name)
        self._refuse_in_use(volume, None)
        with self._locked(volume) as (vfd, vol_fd), self._snapdir(vol_fd, False) as sdir:
            if sdir is None:
                raise SnapshotNotFoundError(volume, name)
            snap = self._read(sdir, volume, name)
            with opened_dir(name, sdir) as snap_fd:
                if snap.kind == "image":
                    self._restore_image(volume, vol_fd, sdir, snap_fd)
                else:
                    self._restore_tree(volume, vfd, vol_fd, snap_fd)
            # The content is no longer what an import brought: no incremental applies.
            write_base(vol_fd, None)
            return snap

    def _refuse_in_use(self, volume: str, tx: Any) -> None:
        def check(t: Any) -> None:
            running = [u.name for u in t.users(volume) if u.running]
            held = [r[0] for r in t.conn.execute(
                "SELECT coalesce(c.name, u.ref) FROM volume_mounts u LEFT JOIN containers c "
                "ON c.id = u.ref WHERE u.volume_name = ?", (volume,))]
            names = sorted(set(running) | set(held))
            if names:
                raise ConflictError(
                    f"restore {volume}: volume is in use - [{', '.join(names)}]")

        if tx is not None:
            check(tx)
            return
        with self.service.store.read() as t:
            check(t)

    def _restore_tree(self, volume: str, vfd: int, vol_fd: int, snap_fd: int) -> None:
        stage = staging_name(TMP_PREFIX)
        os.mkdir(stage, 0o700, dir_fd=vfd)
        try:
            with opened_dir(stage, vfd) as stage_fd:
                fcntl.flock(stage_fd, fcntl.LOCK_EX)
                with opened_dir(DATA_DIR, snap_fd) as src:
                    copy_tree_fd(src, stage_fd, root_metadata=True)
                syncfs(stage_fd)
                inflight.fault("volume.snapshot.restore.staged")
                with self.service.store.write() as tx:
                    self._refuse_in_use(volume, tx)
                    # The one atomic step: the copy becomes _data, the old content takes
                    # the staging name and is deleted below.
                    renameat2(vfd, stage, vol_fd, DATA_DIR, RENAME_EXCHANGE)
                os.fsync(vol_fd)
        finally:
            with contextlib.suppress(OSError):
                remove_tree(vfd, stage)

    def _restore_image(self, volume: str, vol_fd: int, sdir: int, snap_fd: int) -> None:
        drv = self.service.drivers.layout(LOCAL_DRIVER)
        if drv.is_mounted(vol_fd):
            raise ConflictError(f"restore {volume}: volume is in use - [mounted]")
        stage = staging_name(TMP_PREFIX)
        os.mkdir(stage, 0o700, dir_fd=sdir)
        try:
            with opened_dir(stage, sdir) as stage_fd:
                fcntl.flock(stage_fd, fcntl.LOCK_EX)
                src = os.open(DISK_IMAGE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=snap_fd)
                try:
                    dst = os.open(DISK_IMAGE, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                  | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=stage_fd)
                    try:
                        copy_file_data(src, dst)
                        os.fsync(dst)
                    finally:
                        os.close(dst)
                finally:
                    os.close(src)
                with self.service.store.write() as tx:
                    self._refuse_in_use(volume, tx)
                    os.rename(DISK_IMAGE, DISK_IMAGE, src_dir_fd=stage_fd, dst_dir_fd=vol_fd)
                os.fsync(vol_fd)
        finally:
            with contextlib.suppress(OSError):
                remove_tree(sdir, stage)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def probe_reflink(dir_fd: int) -> str:
    """``"reflink"`` if a file in ``dir_fd`` can be cloned with FICLONE (copies on this
    filesystem then share extents), else ``"copy"``: what ``snapshot ls`` shows as the
    method, measured rather than guessed from the filesystem's name."""
    name = f".probe-{os.getpid()}-{os.urandom(4).hex()}"
    src = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o600, dir_fd=dir_fd)
    try:
        os.write(src, b"\0" * 4096)
        dst = os.open(name + "-2", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                      | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        try:
            from orlop.kernel.fs import ficlone

            try:
                ficlone(dst, src)
                return "reflink"
            except OSError:
                return "copy"
        finally:
            os.close(dst)
            os.unlink(name + "-2", dir_fd=dir_fd)
    finally:
        os.close(src)
        os.unlink(name, dir_fd=dir_fd)



BASE_FILE = "import-base.json"


def read_base(vol_fd: int) -> dict[str, str] | None:
    """What ``volume import`` recorded in the volume directory ``vol_fd``: the snapshot
    (``state`` id, ``name``, source ``volume``) whose content the volume received, the
    base an incremental archive must name."""
    try:
        raw = read_file(vol_fd, BASE_FILE)
    except OSError:
        return None
    if raw is None:
        return None
    try:
        d = json.loads(raw)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in d.items()} if isinstance(d, dict) else None


def write_base(vol_fd: int, base: dict[str, str] | None) -> None:
    """Record (atomically) or forget what :func:`read_base` reads."""
    if base is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(BASE_FILE, dir_fd=vol_fd)
        return
    write_file(vol_fd, BASE_FILE, json.dumps(base, sort_keys=True).encode(), 0o600)


__all__ = ["BASE_FILE", "SNAPSHOTS_DIR", "Snapshot", "SnapshotNotFoundError", "SnapshotStore",
           "check_snapshot_name", "probe_reflink", "read_base", "write_base"]
