"""The volume service: the one entry point for volumes (moby's ``VolumesService``).

What it guarantees, and how:

* **The database row and the directory agree.**  A volume is created (and filled, for
  ``volume import``) in a staging directory ``volumes/.tmp-<pid>-<uuid>``, renamed into
  place with RENAME_NOREPLACE and recorded, the rename and the INSERT inside one
  ``BEGIN IMMEDIATE`` transaction; it is removed by DELETE + rename to
  ``volumes/.trash-<pid>-<uuid>`` inside one transaction, then the trash is deleted.
  Every rename of a volume directory happens inside a write transaction, so all
  processes see them in one order; a crash between a rename and its COMMIT is repaired
  by :meth:`VolumeService.reconcile` (directory = truth, as moby; reconcile.py).
  Each of these operations holds an operation marker (state/inflight.py) so that the
  command after a kill knows to run that reconcile.
* **No in-use volume is removed.**  The reference check runs inside the same write
  transaction as the DELETE, and the foreign key ``mount_points.volume_name ... ON DELETE
  RESTRICT`` stops even a process that skipped the check.  A racing container create
  either commits its mount_points row first (and the remove is refused) or fails on the
  foreign key (the volume is gone).
* **Concurrent processes.**  Writers queue on the database; actions that also touch the
  kernel (mount, unmount, remove) hold an ``flock`` on the volume's directory, so two
  processes never mount one volume twice.
* **No path is trusted.**  A name is validated before it becomes one path component;
  below ``volumes/`` everything is opened from directory fds with O_NOFOLLOW.

Where the pieces live: this module has the verbs, the references and the events; the
SQL and the in-use transaction are in store.py, the entries of ``volumes/`` (staging
names, the per-volume lock) in dirs.py, crash repair in reconcile.py, and what is inside
one volume's directory belongs to its driver (drivers/registry.py by name).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from orlop.config import EngineConfig
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    OrlopError,
    PluginUnavailableError,
    SystemFailureError,
    VolumeInUseError,
    VolumeNotFoundError,
)
from orlop.state import Database, inflight
from orlop.timestamps import now_rfc3339
from orlop.volumes.dirs import (
    TMP_PREFIX,
    TRASH_PREFIX,
    VOLUME_DIR_MODE,
    VolumesDir,
    rename_noreplace,
    staging_name,
)
from orlop.volumes.drivers.registry import DriverRegistry
from orlop.volumes.fsutil import opened_dir, remove_tree
from orlop.volumes.model import ANONYMOUS_LABEL, LOCAL_DRIVER, Volume, inspect_dict
from orlop.volumes.names import check_create_name, is_valid_name
from orlop.volumes.store import VolumeStore, VolumeUser

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

    from orlop.volumes.drivers.base import VolumeDriver
    from orlop.volumes.drivers.plugin import PluginDriver
    from orlop.volumes.filters import VolumeFilter
    from orlop.volumes.plugins.status import PluginStatus
    from orlop.volumes.reconcile import ReconcileReport

__all__ = ["VolumeService"]


class VolumeService:
    """Create, find, list, remove, prune, mount and copy into volumes."""

    def __init__(self, config: EngineConfig, db: Database,
                 drivers: DriverRegistry | None = None) -> None:
        self.config = config
        self.db = db
        self.volumes_dir = config.volumes_dir
        self.dirs = VolumesDir(config.volumes_dir)
        self.drivers = drivers or DriverRegistry.builtin(config.volumes_dir,
                                                         config.plugin_dirs)
        self.store = VolumeStore(db, self.drivers.mountpoint)
        # (name, action, attributes): the engine records Docker's volume events with it
        # (create, destroy); this package may not import the engine.
        self.on_event: Callable[[str, str, Mapping[str, str]], None] | None = None

    # --- create --------------------------------------------------------------------

    def create(self, name: str | None = None, driver: str = LOCAL_DRIVER,
               options: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, *, anonymous: bool = False) -> Volume:
        """Create a volume, or return the existing one of that name (Docker: the old
        labels and options are kept, whatever this call asked for).

        Without a name the volume gets a 64-hex name and is anonymous, as in Docker >= 23
        (``volume create`` with no name makes a volume ``volume prune`` removes).
        """
        return self.ensure(name, driver, options, labels, anonymous=anonymous)[0]

    def operation(self) -> contextlib.AbstractContextManager[None]:
        """The operation marker (state/inflight.py) for a multi-step change of volumes
        made outside this service (``volume import`` into an existing volume)."""
        return inflight.operation(self.config.root)

    def ensure(self, name: str | None = None, driver: str = LOCAL_DRIVER,
               options: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, *, anonymous: bool = False,
               fill: Callable[[int], object] | None = None) -> tuple[Volume, bool]:
        """:meth:`create`, also telling whether the volume is new: the engine copies
        image content only into a volume it created (and then only when empty).

        ``fill(data_fd)`` puts content into a new volume's data directory while it is
        still a staging directory (``volume import``): the volume appears, with its
        content, only if ``fill`` returns, and a kill meanwhile leaves a staging directory
        that reconcile() deletes, never a half-filled volume.  It is not called for a
        volume that already exists (the caller checks the returned ``created``).

        ``driver=""`` is Docker's "no driver given" (``run -v name:/d`` without
        ``--volume-driver``): the volume's recorded driver, else a volume plugin that
        has a volume of that name (one made by another host), else ``local``."""
        if not driver:
            driver = LOCAL_DRIVER
            if name is not None and is_valid_name(name):
                known = self._lookup(name) or self._from_plugins(name)
                driver = known.driver if known is not None else LOCAL_DRIVER
        if name is None:
            name = os.urandom(32).hex()  # as secrets.token_hex, without hmac/hashlib
            anonymous = True
        else:
            check_create_name(name, self.volumes_dir)
        drv = self.drivers.lookup(driver, "create", name)
        existing = self._lookup(name)
        if existing is not None:
            return self._check_same_driver(existing, driver), False
        try:
            drv.validate(options)
        except InvalidParameterError as err:
            raise InvalidParameterError(f"create {name}: {err}") from None
        label_map = dict(labels) if labels is not None else None
        if anonymous:
            label_map = {**(label_map or {}), ANONYMOUS_LABEL: ""}
        elif label_map is not None and ANONYMOUS_LABEL in label_map:
            anonymous = True  # moby: the label is what makes a volume anonymous
        option_map = dict(options) if options is not None else None

        with self.operation(), self.dirs.open() as vfd:
            stage = staging_name(TMP_PREFIX)
            os.mkdir(stage, VOLUME_DIR_MODE, dir_fd=vfd)
            try:
                with opened_dir(stage, vfd) as sfd:
                    # Held until the rename: reconcile() in another process skips a
                    # staging directory that is locked, i.e. still being built.
                    fcntl.flock(sfd, fcntl.LOCK_EX)
                    os.fchmod(sfd, VOLUME_DIR_MODE)
                    try:
                        drv.create(sfd, name, option_map)
                    except PluginUnavailableError:
                        raise
                    except SystemFailureError as err:  # a plugin's Err: moby's prefix
                        raise SystemFailureError(f"create {name}: {err}") from err
                    except OSError as err:
                        raise SystemFailureError(
                            f"create {name}: error while creating volume root path "
                            f"'{self.volumes_dir / name}': {err.strerror}") from err
                    if fill is not None:
                        data_fd = drv.open_data(sfd)
                        try:
                            fill(data_fd)
                        finally:
                            os.close(data_fd)
                    inflight.fault("volume.create.staged")
                    made = self._commit_create(vfd, stage, name, driver, drv, option_map,
                                               label_map, anonymous)
                    if made[1] and self.on_event is not None:
                        self.on_event(name, "create", {"driver": driver})
                    return made
            finally:
                with suppress(OSError):
                    remove_tree(vfd, stage)  # nothing left to do once it was renamed

    def _commit_create(self, vfd: int, stage: str, name: str, driver: str,
                       drv: VolumeDriver, options: dict[str, str] | None,
                       labels: dict[str, str] | None, anonymous: bool) -> tuple[Volume, bool]:
        """Rename the staging directory into place and insert the row, in one transaction.

        A racing creator of the same name that committed first is found by the SELECT
        (we then return its volume, as Docker does for an existing name).  A directory
        already there without a row is a crash leftover: adopted with the options it
        records, our staging copy discarded.
        """
        renamed = False
        try:
            with self.store.write() as tx:
                other = tx.get(name)
                if other is not None:
                    return self._check_same_driver(other, driver), False
                try:
                    rename_noreplace(vfd, stage, name)
                    renamed = True
                except OSError as err:
                    if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise SystemFailureError(
                            f"create {name}: error while creating volume root path "
                            f"'{self.volumes_dir / name}': {err.strerror}") from err
                    try:
                        with opened_dir(name, vfd) as old:
                            options = drv.read_options(old)
                    except (OSError, ValueError) as err2:
                        raise SystemFailureError(
                            f"create {name}: {self.volumes_dir / name} exists and cannot be "
                            f"adopted as a volume: {err2}") from err2
                os.fsync(vfd)
                created_at = _now()
                tx.insert(name, driver, created_at, labels, options, anonymous)
        except BaseException:
            if renamed:  # the row did not commit: the directory must not stay behind
                trash = staging_name(TRASH_PREFIX)
                with suppress(OSError):
                    os.rename(name, trash, src_dir_fd=vfd, dst_dir_fd=vfd)
                    remove_tree(vfd, trash)
            raise
        return Volume(name, driver, Path(drv.mountpoint(name)), created_at, labels, options,
                      anonymous), True

    @staticmethod
    def _check_same_driver(vol: Volume, driver: str) -> Volume:
        if vol.driver != driver:
            raise ConflictError(f"create {vol.name}: driver '{vol.driver}' already has volume "
                                f"'{vol.name}': volume name must be unique")
        return vol

    # --- read ----------------------------------------------------------------------

    def get(self, name: str) -> Volume:
        """The volume called ``name``, or VolumeNotFoundError.  A name with no row may
        be a volume a plugin has (made by another host or Orlop root): it is then
        recorded here, as Docker's store records what a probe of the drivers finds."""
        vol = self._lookup(name)
        if vol is None:
            vol = self._from_plugins(name)
        if vol is None:
            raise VolumeNotFoundError(name)
        return vol

    def list(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[Volume]:
        """Volumes passing Docker's filters (``dangling``, ``name``, ``driver``, ``label``,
        ``label!``), sorted by name.

        One query and no filesystem access, so that ``volume ls`` stays fast with
        thousands of volumes; ``dangling`` is computed by the same query from the
        ``mount_points`` index.  Callers that only send the volumes on (``volume ls``,
        ``GET /volumes``) use :meth:`list_inspect`, which skips the ``Volume`` objects.
        """
        from orlop.volumes.filters import build_filter  # not for create/rm/inspect

        flt = build_filter(filters)
        with self.store.read() as tx:
            return tx.list(flt)

    def list_inspect(self, filters: Mapping[str, Sequence[str]] | None = None
                     ) -> builtins.list[dict[str, Any]]:
        """:meth:`list` as Docker's volume objects (each what ``wire.volumes.volume_json``
        gives): what ``volume ls`` and ``GET /volumes`` send (VolumeTx.inspect)."""
        from orlop.volumes.filters import build_filter  # not for create/rm/inspect

        flt = build_filter(filters)
        with self.store.read() as tx:
            out = tx.inspect(flt)
            plugins = self.drivers.plugins()
            known = tx.names() if plugins else set()
        if plugins:
            out = self._with_plugin_volumes(out, flt, plugins, known)
        return out

    def list_brief(self, filters: Mapping[str, Sequence[str]] | None = None
                   ) -> builtins.list[tuple[str, str]]:
        """(driver, name) of each volume :meth:`list` selects, by name: all that the
        default ``volume ls`` table and ``-q`` print, without a dict per volume."""
        from orlop.volumes.filters import build_filter  # not for create/rm/inspect

        flt = build_filter(filters)
        if self.drivers.plugins():  # plugins' own volumes are listed too: list_inspect
            merged = self.list_inspect(filters)
            return [(str(v["Driver"]), str(v["Name"])) for v in merged]
        with self.store.read() as tx:
            return tx.brief(flt)

    def references(self, name: str) -> builtins.list[str]:
        """Ids of the containers that reference the volume (running or not)."""
        with self.store.read() as tx:
            return tx.containers(name)

    def usage(self, name: str) -> tuple[int, int]:
        """(size in bytes, number of containers referencing it), Docker's UsageData.

        The size is what the volume's driver counts (VolumeDriver.disk_usage): for the
        local driver the apparent size of the files below ``_data`` (symlinks not
        followed, hard links counted once), plus, for a size= volume that is not
        mounted, the space its image file takes on disk.
        """
        vol = self.get(name)
        return self._size(vol), len(self.references(name))

    def _size(self, vol: Volume) -> int:
        try:
            with self.dirs.open() as vfd, opened_dir(vol.name, vfd) as vol_fd:
                return self.drivers.layout(vol.driver).disk_usage(vol_fd)
        except FileNotFoundError:
            return 0

    def users(self, name: str) -> builtins.list[VolumeUser]:
        """The containers whose mount points use the volume (running or not), in name
        order: what ``volume inspect`` shows as ``UsedBy``."""
        with self.store.read() as tx:
            return tx.users(name)

    # --- update --------------------------------------------------------------------

    def update_labels(self, name: str, add: Mapping[str, str] | None = None,
                      remove: Sequence[str] = ()) -> Volume:
        """Add (or replace) and remove labels in one transaction.

        Why a transaction of its own: two concurrent updates of different keys must both
        land (read-modify-write under the write lock).  Removing a label the volume does
        not have is an error (nothing is changed), as ``container update`` refuses
        what it cannot apply; the anonymous label cannot be set or removed, since it
        decides what ``prune`` takes.
        """
        if not is_valid_name(name):
            raise VolumeNotFoundError(name)
        add = dict(add or {})
        for key in (*add, *remove):
            if key == ANONYMOUS_LABEL:
                raise InvalidParameterError(
                    f"update {name}: the label {ANONYMOUS_LABEL} marks anonymous volumes "
                    "and cannot be changed")
        both = set(add) & set(remove)
        if both:
            raise InvalidParameterError(
                f"update {name}: label {sorted(both)[0]} is both added and removed")
        self.store.update_labels(name, add, remove)
        if self.on_event is not None:
            self.on_event(name, "update", {"driver": self.get(name).driver})
        return self.get(name)

    def rename(self, old: str, new: str) -> Volume:
        """Rename a volume that no running container uses (see :mod:`.rename`)."""
        from orlop.volumes.rename import rename_volume

        driver = rename_volume(self.store, self.dirs, self.operation, old, new)
        if self.on_event is not None:
            self.on_event(new, "rename", {"driver": driver, "oldName": old})
        return self.get(new)

    # --- remove --------------------------------------------------------------------

    def remove(self, name: str, force: bool = False) -> None:
        """Remove a volume no container references.

        ``force`` only makes a missing volume no error (Docker: ``volume rm -f nosuch``
        succeeds); an in-use volume is refused with or without it, as Docker does.
        """
        if not is_valid_name(name):
            if force:
                return
            raise VolumeNotFoundError(name)
        self._remove(name, missing_ok=force, skip_in_use=False, purge_on_error=force)

    def _remove(self, name: str, *, missing_ok: bool, skip_in_use: bool,
                purge_on_error: bool = False, driver_remove: bool = True) -> bool:
        """The removal proper; returns whether this call removed the volume.

        Order: unmount (under the volume's lock) -> one transaction {re-check references,
        DELETE the row, rename the directory to .trash-<uuid>} (VolumeStore.delete_unused)
        -> delete the trash.  The directory leaves its name only together with the row;
        the data goes after COMMIT, so a crash can leave trash (reconcile deletes it) but
        never a row whose data was half deleted.
        """
        with self.operation(), self.dirs.open() as vfd, \
                self.dirs.locked(vfd, name, missing_ok=True) as vol_fd:
            with self.store.read() as tx:
                vol = tx.get(name)
                refs = tx.refs(name) if vol is not None else []
            if vol is None:
                if missing_ok:
                    return False
                raise VolumeNotFoundError(name)
            if refs:
                if skip_in_use:
                    return False
                raise VolumeInUseError(name, refs)
            drv = self.drivers.get(vol.driver)
            if vol_fd is not None and drv is not None and drv.is_mounted(vol_fd):
                drv.unmount(vol_fd, name)  # a stale mount: nobody holds a reference
            if self.drivers.is_plugin(drv) and driver_remove:
                _plugin_remove(drv, name, purge_on_error)
            trash = staging_name(TRASH_PREFIX)
            moved = False

            def to_trash() -> None:
                nonlocal moved
                try:
                    os.rename(name, trash, src_dir_fd=vfd, dst_dir_fd=vfd)
                    moved = True
                except FileNotFoundError:
                    pass  # the directory was already gone: just drop the row

            try:
                removal = self.store.delete_unused(name, to_trash)
            except BaseException:
                if moved:  # the DELETE did not commit: put the directory back
                    with suppress(OSError):
                        rename_noreplace(vfd, trash, name)
                raise
            if not removal.found:
                if missing_ok:
                    return False
                raise VolumeNotFoundError(name)
            if removal.refs:
                if skip_in_use:
                    return False
                raise VolumeInUseError(name, removal.refs)
            if moved:
                os.fsync(vfd)
                inflight.fault("volume.rm.after_commit")
                # Still under the lock (held on the directory, now the trash), so a
                # concurrent reconcile() leaves it alone.  A failure leaves trash that
                # reconcile() retries; the volume itself is already gone.
                with suppress(OSError):
                    remove_tree(vfd, trash)
            if self.on_event is not None:
                self.on_event(name, "destroy", {"driver": vol.driver})
            return True

    def prune(self, all: bool = False,  # Docker's name for the option (API filter all=)
              filters: Mapping[str, Sequence[str]] | None = None, *,
              until: float | None = None, dry_run: bool = False
              ) -> tuple[builtins.list[str], int]:
        """Remove unused volumes: only anonymous ones unless ``all`` (Docker >= 23).

        Filters: ``label``, ``label!``, ``all`` and ``until``, whose value the engine
        turns into ``until`` (seconds since the epoch: volumes created at or after it
        stay).  Each removal re-checks the references in its own transaction, so a
        container created meanwhile keeps its volume.  ``dry_run`` removes nothing and
        returns what would go.  Returns the names removed and the bytes reclaimed.
        """
        from orlop.volumes.filters import build_filter

        flt = build_filter(filters, prune=True)
        if flt.until and until is None:
            raise InvalidParameterError("the until filter needs the engine's time parsing")
        with self.store.read() as tx:
            candidates = tx.prune_candidates(all or flt.all)
        removed: list[str] = []
        reclaimed = 0
        for vol in candidates:
            if vol.driver != LOCAL_DRIVER:
                continue  # moby prunes local volumes only: plugin data is not ours to drop
            if not flt.match(vol.name, vol.driver, vol.labels):
                continue
            if until is not None and _epoch(vol.created_at) >= until:
                continue
            size = self._size(vol)
            if dry_run:
                removed.append(vol.name)
                reclaimed += size
            elif self._remove(vol.name, missing_ok=True, skip_in_use=True):
                removed.append(vol.name)
                reclaimed += size
        return removed, reclaimed

    # --- mount ---------------------------------------------------------------------

    def mount(self, name: str, ref: str) -> str:
        """Take a reference for ``ref`` (a container id) and make the volume usable;
        returns the host directory to bind into the container.

        The driver mount is made by the first reference and kept until the last one is
        released.  Idempotent per ``ref``.  Whether the volume is mounted is asked of the
        kernel, not of a counter, so a crash between mount(2) and COMMIT is harmless.
        """
        if not is_valid_name(name):
            raise VolumeNotFoundError(name)
        with self.operation(), self.dirs.open() as vfd, \
                self.dirs.locked(vfd, name) as vol_fd:
            assert vol_fd is not None
            vol = self.get(name)
            drv = self._driver(vol)
            if self.drivers.is_plugin(drv):
                return self._mount_plugin(drv, name, ref)
            mounted_here = False
            if drv.needs_mount(vol.options) and not drv.is_mounted(vol_fd):
                drv.mount(vol_fd, name, vol.options)
                mounted_here = True
            try:
                self.store.add_mount_refs([name], ref)
            except BaseException:
                if mounted_here:
                    drv.unmount(vol_fd, name)
                raise
        return str(vol.mountpoint)

    def unmount(self, name: str, ref: str) -> None:
        """Release ``ref``'s reference; the last one unmounts.  Releasing a reference
        that is not held is no error (a stop after a crash, or twice)."""
        if not is_valid_name(name):
            return
        with self.operation(), self.dirs.open() as vfd, \
                self.dirs.locked(vfd, name, missing_ok=True) as vol_fd:
            vol = self._lookup(name)
            if vol is None:
                return
            drv = self.drivers.layout(vol.driver)
            if self.drivers.is_plugin(drv):
                self._unmount_plugin(drv, name, ref)
                return
            with self.store.read() as tx:
                others = tx.other_mount_refs(name, ref)
            # Unmount before the row goes: a crash in between leaves a reference to an
            # unmounted volume, which the next mount() simply mounts again.
            if (not others and vol_fd is not None and drv.needs_mount(vol.options)
                    and drv.is_mounted(vol_fd)):
                drv.unmount(vol_fd, name)
            self.store.release_mount_refs([name], ref)

    def mount_many(self, names: Sequence[str], ref: str) -> dict[str, str]:
        """``mount()`` for every volume a container uses, in one transaction.

        Start-up cost matters (each write transaction is an fsync): volumes whose driver
        has nothing to mount only need their reference rows, which are written together;
        a volume with a driver mount (tmpfs, ext4, bind, size=) goes through ``mount()``.
        """
        paths: dict[str, str] = {}
        plain: list[Volume] = []
        try:
            for name in dict.fromkeys(names):
                if not is_valid_name(name):
                    raise VolumeNotFoundError(name)
                vol = self.get(name)
                if self._driver(vol).needs_mount(vol.options):
                    paths[name] = self.mount(name, ref)
                else:
                    plain.append(vol)
        except BaseException:
            # Never a half-mounted container: what this call mounted goes (a plugin's
            # Unmount with the same ID) before the error is reported.
            for done in paths:
                with suppress(OrlopError, OSError):
                    self.unmount(done, ref)
            raise
        if plain:
            self.store.add_mount_refs([vol.name for vol in plain], ref)
            for vol in plain:
                paths[vol.name] = str(vol.mountpoint)
        return paths

    def unmount_many(self, names: Sequence[str], ref: str) -> None:
        """``unmount()`` for several volumes; plain ones released in one transaction.
        One that fails (a plugin that does not answer) does not keep the others: the
        first error is raised once all were tried."""
        plain: list[str] = []
        failed: OrlopError | OSError | None = None
        for name in dict.fromkeys(names):
            vol = self._lookup(name) if is_valid_name(name) else None
            if vol is None:
                continue
            if self.drivers.layout(vol.driver).needs_mount(vol.options):
                try:
                    self.unmount(name, ref)
                except (OrlopError, OSError) as err:
                    failed = failed or err
            else:
                plain.append(name)
        if plain:
            self.store.release_mount_refs(plain, ref)
        if failed is not None:
            raise failed

    def open_data_dir(self, name: str) -> int:
        """An O_RDONLY directory fd of the volume's data directory, reached without
        following any symlink (for copy-up and binds by fd).  The caller closes it."""
        if not is_valid_name(name):
            raise VolumeNotFoundError(name)
        vol = self.get(name)
        with self.dirs.open() as vfd:
            try:
                with opened_dir(name, vfd) as vol_fd:
                    return self.drivers.layout(vol.driver).open_data(vol_fd)
            except OSError as err:
                raise SystemFailureError(
                    f"volume {name}: cannot open {vol.mountpoint}: {err.strerror}"
                ) from err

    def copy_up(self, volume_dir_fd: int, source_dir_fd: int) -> bool:
        """Docker's copy-up: when the volume directory is empty, copy the content of the
        image directory it is mounted over into it, and give the volume root the owner
        and mode of that directory.  Returns whether it copied.

        The rule is "whenever the volume is empty", not "only once": Docker copies again
        into a volume that was emptied (reference 2.8).  Both fds must be O_RDONLY
        directory fds; the source is a directory of the container's rootfs.
        """
        with os.scandir(volume_dir_fd) as it:
            if any(True for _ in it):
                return False
        from orlop.volumes.copy import copy_tree_fd  # shutil, zlib, bz2, lzma: only here

        copy_tree_fd(source_dir_fd, volume_dir_fd, root_metadata=True)
        return True

    # --- reconcile -----------------------------------------------------------------

    def reconcile(self, running_container_ids: set[str] | frozenset[str]) -> ReconcileReport:
        """Repair what a crash (or a reboot) left, given the containers still running
        (reconcile.py says what is repaired, and how)."""
        # Imported here: the repair's module (2 dataclasses) is not needed by a verb.
        from orlop.volumes.reconcile import Reconciler

        return Reconciler(self.store, self.dirs, self.drivers).reconcile(
            running_container_ids)

    # --- helpers -------------------------------------------------------------------

    def _lookup(self, name: str) -> Volume | None:
        if not is_valid_name(name):
            return None  # never a volume, and never turned into a path
        return self.store.get(name)

    def _driver(self, vol: Volume) -> VolumeDriver:
        return self.drivers.lookup(vol.driver, "get", vol.name)

    # --- volume plugins ------------------------------------------------------------

    def plugins(self, filters: Mapping[str, Sequence[str]] | None = None
                ) -> builtins.list[PluginStatus]:
        """The plugins discovered in the engine's plugin directories, each asked to
        activate now (``plugin ls``); ``filters``: Docker's ``enabled``, ``capability``."""
        unknown = set(filters or {}) - {"enabled", "capability"}
        if unknown:
            raise InvalidParameterError(f"invalid filter '{sorted(unknown)[0]}'")
        from orlop.volumes.plugins.status import match, statuses  # http.client: only here

        flt = {k: list(v) for k, v in (filters or {}).items()}
        return [s for s in statuses(self.drivers.plugin_dirs) if match(s, flt)]

    def _mount_plugin(self, drv: PluginDriver, name: str, ref: str) -> str:
        """Docker's per-reference Mount (called with the volume's lock held): the mount
        ID is ``ref``; a reference already held is asked for its Path instead of being
        mounted twice (the plugin may have restarted: then it is mounted again)."""
        with self.store.read() as tx:
            held = tx.has_mount_ref(name, ref)
        if held:
            with suppress(SystemFailureError):
                path = drv.path(name)
                if path:
                    return path
        try:
            path = drv.attach(name, ref)
        except PluginUnavailableError:
            raise
        except SystemFailureError as err:
            raise SystemFailureError(f"error while mounting volume '{name}': {err}") from err
        try:
            self.store.add_mount_refs([name], ref)
        except BaseException:
            with suppress(OrlopError):
                drv.detach(name, ref)
            raise
        return path

    def _unmount_plugin(self, drv: PluginDriver, name: str, ref: str) -> None:
        """Unmount ``ref``'s mount ID, then drop the reference.  If the plugin does not
        answer, the reference stays (the volume is still in use for ``volume rm``) and
        the error is raised: the next unmount of that container, or reconcile, retries."""
        with self.store.read() as tx:
            if not tx.has_mount_ref(name, ref):
                return
        drv.detach(name, ref)
        self.store.release_mount_refs([name], ref)

    def with_plugin_fields(self, vol: Volume, out: dict[str, Any]) -> dict[str, Any]:
        """``out`` (``vol``'s inspect object) with what its plugin says, as Docker's
        inspect of a plugin volume has it: the plugin's ``Scope``, and the ``Status`` and
        ``Mountpoint`` of its ``Get``.  A volume the plugin no longer has (removed from
        another host) is forgotten, as moby purges it: VolumeNotFoundError.  A local
        volume's object is returned as it is."""
        drv = self.drivers.layout(vol.driver)
        if not self.drivers.is_plugin(drv):
            return out
        found = drv.get(vol.name)
        if found is None and self._purge_gone(vol):
            raise VolumeNotFoundError(vol.name)
        out = {**out, "Scope": drv.scope}
        if found is not None:
            if found.get("Mountpoint"):
                out["Mountpoint"] = found["Mountpoint"]
            if isinstance(found.get("Status"), dict):
                out["Status"] = found["Status"]
        return {k: out[k] for k in sorted(out)}  # Go's field order

    def release_plugin_refs(self, ref: str) -> None:
        """Send the Unmount of every plugin volume ``ref`` (a container being removed)
        still holds: one that failed when it stopped.  Errors are ignored: the
        references go with the container's record either way."""
        with self.store.read() as tx:
            names = tx.held_by(ref)
        for name in names:
            vol = self._lookup(name)
            if vol is not None and self.drivers.is_plugin(
                    self.drivers.layout(vol.driver)):
                with suppress(OrlopError, OSError):
                    self.unmount(name, ref)

    def _from_plugins(self, name: str) -> Volume | None:
        """Record a volume that a discovered plugin has but this root does not know
        (moby's getVolume probe of all drivers); None when none has it.  Plugins that
        do not answer are skipped without retries, as moby skips them."""
        for drv in self.drivers.plugins():
            try:
                found = drv.get(name, retry=False)
            except OrlopError:
                continue
            if found is not None:
                return self.ensure(name, drv.name)[0]
        return None

    def _purge_gone(self, vol: Volume) -> bool:
        """A plugin volume the plugin no longer has (removed from another host): its
        row goes, as moby purges it, unless a container still references it."""
        return self._remove(vol.name, missing_ok=True, skip_in_use=True,
                            driver_remove=False)

    def _with_plugin_volumes(self, out: builtins.list[dict[str, Any]], flt: VolumeFilter,
                             plugins: Sequence[PluginDriver], known: set[str]
                             ) -> builtins.list[dict[str, Any]]:
        """``volume ls`` as Docker lists: the volumes each plugin's List has that this
        root has no row for are listed too (not recorded: listing changes nothing), and
        plugin volumes carry the plugin's Scope.  A plugin that does not answer is
        skipped (Docker warns and lists what it knows)."""
        scopes: dict[str, str] = {}
        listed = not flt.used_by  # a volume no row knows is used by nobody here
        for drv in plugins:
            try:
                vols = drv.list_volumes(retry=False)
                scopes[drv.name] = drv.scope
            except OrlopError:
                continue
            for v in vols:
                vname = v["Name"]
                if not listed or vname in known or not is_valid_name(vname):
                    continue
                if not flt.match(vname, drv.name, None,
                                 False if flt.dangling is not None else None):
                    continue
                known.add(vname)
                out.append(inspect_dict(vname, drv.name, str(v.get("Mountpoint") or ""),
                                        str(v.get("CreatedAt") or ""), None, None))
        for item in out:
            if item["Driver"] in scopes:
                item["Scope"] = scopes[item["Driver"]]
        out.sort(key=lambda item: str(item["Name"]))
        return out


def _plugin_remove(drv: PluginDriver, name: str, purge_on_error: bool) -> None:
    """The plugin's Remove, with moby's rules: a volume the plugin no longer has is just
    forgotten; any other failure keeps the volume unless ``volume rm -f`` (moby's
    PurgeOnError).  Called whatever the plugin's Scope, as ``docker volume rm`` does:
    Scope only tells a cluster manager to create and remove a ``global`` volume once."""
    try:
        drv.remove(name)
    except PluginUnavailableError:
        if not purge_on_error:
            raise
    except (SystemFailureError, NotFoundError) as err:
        if purge_on_error:
            return
        try:
            gone = drv.get(name) is None
        except OrlopError:
            gone = False
        if not gone:
            cls = NotFoundError if isinstance(err, NotFoundError) else SystemFailureError
            raise cls(f"remove {name}: {err}") from err


def _epoch(created_at: str) -> float:
    from datetime import UTC, datetime  # here: only the time filters parse a date

    try:
        return datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _now() -> str:
    return now_rfc3339(0)
