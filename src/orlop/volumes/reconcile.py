"""Repair of what a crash (or a reboot) left in the volumes directory and its rows
(moby: the directory is the truth).  Run by :meth:`VolumeService.reconcile` when the
previous process was killed inside an operation (state/inflight.py) or after a reboot.

The steps, in order:

* interrupted renames are finished or undone first (rename.py), so that a half-moved
  volume is not taken for an orphan;
* ``.tmp-*`` / ``.trash-*`` leftovers are deleted (unless a live process holds their
  lock), in ``volumes/`` and in each volume's ``_snapshots/`` (snapshots.py);
* a row without its directory is dropped, or, when a container still references it,
  gets a new empty directory (its data is gone either way);
* a directory without a row is **adopted** as a named volume of the default driver with
  the options it records (moby semantics; adopted volumes are not anonymous, so
  ``prune`` without ``-a`` keeps them);
* references of containers that are not running are released, ``mount_count``
  recomputed, and volumes nobody uses are unmounted.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orlop.errors import OrlopError, SystemFailureError
from orlop.volumes.dirs import (
    TMP_PREFIX,
    TRASH_PREFIX,
    VOLUME_DIR_MODE,
    VolumesDir,
    remove_abandoned_dir,
    rename_noreplace,
    staging_name,
)
from orlop.volumes.drivers.plugin import PluginDriver, recorded_plugin
from orlop.volumes.drivers.registry import DriverRegistry
from orlop.volumes.fsutil import opened_dir, remove_tree
from orlop.volumes.names import is_valid_name
from orlop.volumes.rename import repair_renames
from orlop.volumes.store import VolumeStore


@dataclass
class ReconcileReport:
    """What :func:`reconcile` repaired (for the engine's log)."""

    leftovers_removed: list[str] = field(default_factory=list)
    rows_dropped: list[str] = field(default_factory=list)
    dirs_recreated: list[str] = field(default_factory=list)
    dirs_adopted: list[str] = field(default_factory=list)
    refs_released: list[tuple[str, str]] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reconciler:
    """The pieces of the volume service that reconciliation repairs."""

    store: VolumeStore
    dirs: VolumesDir
    drivers: DriverRegistry

    def reconcile(self, running_container_ids: set[str] | frozenset[str]) -> ReconcileReport:
        """Repair what a crash left (the module docstring), given the containers still
        running."""
        report = ReconcileReport()
        with self.dirs.open() as vfd:
            # First: a half-moved rename is no orphan.
            repair_renames(self.store, vfd, report.dirs_adopted, report.errors)
            self._sweep_leftovers(vfd, report)
            self._sweep_snapshots(vfd, report)
            self._reconcile_rows(vfd, report)
            self._reconcile_mounts(vfd, running_container_ids, report)
        return report

    def _sweep_leftovers(self, vfd: int, report: ReconcileReport) -> None:
        with os.scandir(vfd) as it:
            names = [e.name for e in it if e.name.startswith((TMP_PREFIX, TRASH_PREFIX))]
        for name in names:
            try:
                if not remove_abandoned_dir(name, vfd):
                    continue
                report.leftovers_removed.append(name)
            except BlockingIOError:
                continue  # a create or remove in progress in another process
            except OSError as err:
                report.errors.append(f"{name}: {err}")

    def _sweep_snapshots(self, vfd: int, report: ReconcileReport) -> None:
        """Half-made or half-removed snapshots (snapshots.py) of every volume."""
        from orlop.volumes.snapshotsweep import sweep_leftovers

        with os.scandir(vfd) as it:
            names = [e.name for e in it if is_valid_name(e.name)
                     and e.is_dir(follow_symlinks=False)]
        removed, errors = sweep_leftovers(vfd, names)
        report.leftovers_removed.extend(removed)
        report.errors.extend(errors)

    def _reconcile_rows(self, vfd: int, report: ReconcileReport) -> None:
        drv = self.drivers.default
        with self.store.write() as tx:
            # Listed inside the transaction: volume directories are renamed only inside
            # write transactions, so this listing and the rows are one consistent view.
            with os.scandir(vfd) as it:
                dirs = {e.name: e.stat(follow_symlinks=False) for e in it
                        if is_valid_name(e.name) and e.is_dir(follow_symlinks=False)}
            rows = tx.names()
            for name in sorted(rows - dirs.keys()):
                if tx.refs(name):
                    try:
                        self._recreate_dir(vfd, name)
                        report.dirs_recreated.append(name)
                    except OSError as err:
                        report.errors.append(f"{name}: {err}")
                else:
                    tx.delete(name)
                    report.rows_dropped.append(name)
            for name in sorted(dirs.keys() - rows):
                try:
                    with opened_dir(name, vfd) as vol_fd:
                        # A plugin volume's directory says so (drivers/plugin.py).
                        plugin = recorded_plugin(vol_fd)
                        driver, options = plugin if plugin is not None else (
                            drv.name, drv.adopt(vol_fd))
                except OSError as err:
                    report.errors.append(f"{name}: {err}")
                    continue
                created = datetime.fromtimestamp(dirs[name].st_mtime, UTC)
                tx.insert(name, driver, created.strftime("%Y-%m-%dT%H:%M:%SZ"), None,
                          options, anonymous=False)
                report.dirs_adopted.append(name)

    def _recreate_dir(self, vfd: int, name: str) -> None:
        stage = staging_name(TMP_PREFIX)
        os.mkdir(stage, VOLUME_DIR_MODE, dir_fd=vfd)
        try:
            with opened_dir(stage, vfd) as sfd:
                os.fchmod(sfd, VOLUME_DIR_MODE)
                self.drivers.default.create(sfd, name, None)
            rename_noreplace(vfd, stage, name)
        finally:
            with suppress(OSError):
                remove_tree(vfd, stage)

    def _reconcile_mounts(self, vfd: int, running: set[str] | frozenset[str],
                          report: ReconcileReport) -> None:
        with self.store.write() as tx:
            released = tx.release_mount_refs_except(running)
            report.refs_released.extend(released)
            candidates = tx.unmounted_with_options()
            drivers = {name: vol.driver for name, _ in released
                       if (vol := tx.get(name)) is not None}
        for name, ref in released:
            # A plugin counts mount IDs itself: each released reference is its Unmount
            # (after the COMMIT: no plugin call inside a write transaction).
            drv = self.drivers.get(drivers.get(name, ""))
            if isinstance(drv, PluginDriver):
                try:
                    drv.detach(name, ref)
                except OrlopError as err:
                    report.errors.append(f"{name}: {err}")
        for vol in candidates:
            drv = self.drivers.get(vol.driver)
            if drv is None or not drv.needs_mount(vol.options):
                continue
            try:
                with self.dirs.locked(vfd, vol.name, missing_ok=True) as vol_fd:
                    if vol_fd is None or not drv.is_mounted(vol_fd):
                        continue
                    with self.store.read() as rtx:
                        if rtx.has_mount_refs(vol.name):
                            continue  # taken meanwhile
                    drv.unmount(vol_fd, vol.name)
                    report.unmounted.append(vol.name)
            except (OSError, SystemFailureError) as err:
                report.errors.append(f"{vol.name}: {err}")
