"""``volume rename OLD NEW``: the row, the containers' mount records and the directory.

Crash safety (a ``kill -9`` at any point leaves the volume under one name, never two or
none), with the database as the truth:

1. an intent file ``volumes/.renames/<uuid>`` (``{"old", "new"}``) is written and
   fsynced;
2. one write transaction copies the row to NEW, points every ``mount_points`` record
   (name and host path) at NEW, deletes OLD and -- still inside it, as every rename of
   a volume directory (service.py) -- renames the directory OLD -> NEW with
   RENAME_NOREPLACE; COMMIT; fsync of the volumes directory;
3. the intent file is removed.

A crash between the rename(2) and the COMMIT leaves the row OLD and the directory NEW.
:func:`repair_renames` moves the directory to whatever name the rows say: the rename
holds an operation marker (state/inflight.py), so the next command after a kill runs the
full reconciliation (engine/repair.py), and reconciliation (reconcile.py) repairs renames
first, before rows and directories are compared; an intent whose rows and directory already
agree is just dropped.  An intent whose volume directory is still locked belongs to a
rename in progress and is left alone.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress

from orlop.errors import (
    ConflictError,
    InvalidVolumeNameError,
    UnsupportedError,
    VolumeNotFoundError,
)
from orlop.state import inflight
from orlop.state.sqlite import sqlite3
from orlop.volumes.dirs import VolumesDir, rename_noreplace
from orlop.volumes.fsutil import opened_dir
from orlop.volumes.model import LOCAL_DRIVER
from orlop.volumes.names import check_create_name, is_valid_name
from orlop.volumes.store import COLUMNS, VolumeStore

# Intents live in a directory of their own, so that finding none costs one failed
# open (every command's reconcile looks), not a listing of thousands of volumes.  Its
# name is no valid volume name, so no listing of volumes ever sees it.
INTENTS_DIR = ".renames"


def rename_volume(store: VolumeStore, dirs: VolumesDir,
                  operation: Callable[[], AbstractContextManager[None]],
                  old: str, new: str) -> str:
    """Rename a volume no running container uses; stopped containers follow it.
    ``operation`` is the service's operation marker; returns the volume's driver (for the
    service's ``rename`` event)."""
    try:
        check_create_name(new, dirs.path)
    except InvalidVolumeNameError as err:  # create's checks, in rename's words
        text = str(err)
        raise InvalidVolumeNameError(f"rename {old}: " + text.removeprefix(f"create {new}: ")
                                     ) from None
    vol = store.get(old) if is_valid_name(old) else None
    if vol is None:
        raise VolumeNotFoundError(old)
    if vol.driver != LOCAL_DRIVER:
        # A plugin knows the volume by its name, and the protocol has no rename.
        raise UnsupportedError(f"rename {old}: volumes of a plugin ({vol.driver}) cannot "
                               "be renamed: the plugin knows them by name")
    if old == new:
        raise ConflictError(f"Renaming a volume with the same name as its current name "
                            f"({old}) is not allowed")
    old_dir = f"{dirs.path_str}/{old}/"
    new_dir = f"{dirs.path_str}/{new}/"
    # The operation marker (state/inflight.py): a kill in here makes the next command run
    # the full reconciliation, whose first step is repair_renames().
    with operation(), dirs.open() as vfd, dirs.locked(vfd, old) as vol_fd:
        assert vol_fd is not None
        with suppress(FileExistsError):
            os.mkdir(INTENTS_DIR, 0o700, dir_fd=vfd)
        ifd = os.open(INTENTS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                      | os.O_CLOEXEC, dir_fd=vfd)
        try:
            return _rename_locked(store, vfd, ifd, old, new, old_dir, new_dir)
        finally:
            os.close(ifd)


def _rename_locked(store: VolumeStore, vfd: int, ifd: int, old: str, new: str,
                   old_dir: str, new_dir: str) -> str:
    intent = os.urandom(16).hex()
    _write_intent(ifd, intent, old, new)
    moved = False
    try:
        with store.write() as tx:
            conn = tx.conn
            row = conn.execute(f"SELECT {COLUMNS}, mount_count FROM volumes "
                               "WHERE name = ?", (old,)).fetchone()
            if row is None:
                raise VolumeNotFoundError(old)
            if tx.exists(new) or _exists(vfd, new):
                raise ConflictError(
                    f"rename {old}: a volume named {new} already exists")
            running = [u for u in tx.users(old) if u.running]
            # Driver-mount holders: containers (by name) or other users such as volume cp.
            held = [r[0] for r in conn.execute(
                "SELECT coalesce(c.name, u.ref) FROM volume_mounts u LEFT JOIN containers c "
                "ON c.id = u.ref WHERE u.volume_name = ?", (old,))]
            snaps = [cname for _cid, cname in tx.snapshot_binds(old)]
            if running or held or snaps:
                names = sorted({u.name for u in running} | set(held) | set(snaps))
                raise ConflictError(
                    f"rename {old}: volume is in use by running containers - "
                    f"[{', '.join(names)}]")
            conn.execute(
                "INSERT INTO volumes (name, driver, created_at, labels, options, "
                "anonymous, mount_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (new, *tuple(row)[1:7]))
            _rename_in_host_configs(conn, old, new)  # before the records say NEW
            for cid, dest, spec in conn.execute(
                    "SELECT container_id, destination, spec FROM mount_points "
                    "WHERE volume_name = ?", (old,)).fetchall():
                conn.execute(
                    "UPDATE mount_points SET volume_name = ?, spec = ? "
                    "WHERE container_id = ? AND destination = ?",
                    (new, _respec(spec, new, old_dir, new_dir), cid, dest))
            conn.execute("DELETE FROM volumes WHERE name = ?", (old,))
            # Inside the transaction, as every volume directory rename (service.py):
            # another process's reconcile never sees the rows and directories disagree.
            rename_noreplace(vfd, old, new)
            moved = True
            inflight.fault("volume-rename-moved")  # the crash test's kill point
    except BaseException:
        if moved:  # the transaction did not commit: put the directory back
            with suppress(OSError):
                rename_noreplace(vfd, new, old)
        _drop_intent(ifd, intent)
        raise
    os.fsync(vfd)
    _drop_intent(ifd, intent)
    return str(row[1])


def repair_renames(store: VolumeStore, vfd: int, adopted: list[str], errors: list[str]
                   ) -> None:
    """Make the directory of every interrupted rename agree with the rows (see the
    module's docstring); the caller holds no transaction.  What was moved goes to
    ``adopted``, what failed to ``errors`` (reconcile's report)."""
    try:
        ifd = os.open(INTENTS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                      | os.O_CLOEXEC, dir_fd=vfd)
    except FileNotFoundError:
        return
    try:
        for intent in os.listdir(ifd):
            _repair_one(store, vfd, ifd, intent, adopted, errors)
    finally:
        os.close(ifd)


def _repair_one(store: VolumeStore, vfd: int, ifd: int, intent: str,
                adopted: list[str], errors: list[str]) -> None:
    try:
        with open(os.open(intent, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=ifd), "rb") as f:
            data = json.loads(f.read())
        old, new = str(data["old"]), str(data["new"])
        if not (is_valid_name(old) and is_valid_name(new)):
            raise ValueError(intent)
    except (OSError, ValueError, KeyError, TypeError):
        _drop_intent(ifd, intent)
        return
    if _busy(vfd, old):
        return  # the renaming process is alive and holds the old directory
    with store.write() as tx:
        has_new = tx.exists(new)
        has_old = tx.exists(old)
        # The directory follows the rows: committed -> NEW, rolled back -> OLD.
        src, dst = (old, new) if has_new and not has_old else (new, old)
        if _exists(vfd, src) and not _exists(vfd, dst) and (has_new or has_old):
            try:
                rename_noreplace(vfd, src, dst)
                os.fsync(vfd)
                adopted.append(f"{src} -> {dst} (interrupted rename)")
            except OSError as err:
                errors.append(f"rename {src} -> {dst}: {err}")
                return
    _drop_intent(ifd, intent)


def _busy(vfd: int, name: str) -> bool:
    try:
        with opened_dir(name, vfd) as fd:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _rename_in_host_configs(conn: sqlite3.Connection, old: str, new: str) -> None:
    """The containers' recorded ``-v OLD:...`` binds and ``--mount source=OLD`` say NEW, so
    ``inspect``'s HostConfig agrees with its Mounts (the mount records are what a start
    uses; these are what the user asked, renamed as the volume was)."""
    ids = [r[0] for r in conn.execute(
        "SELECT DISTINCT container_id FROM mount_points WHERE volume_name = ?", (old,))]
    for cid in ids:
        row = conn.execute("SELECT host_config FROM containers WHERE id = ?",
                           (cid,)).fetchone()
        if row is None:
            continue
        hc = json.loads(row[0])
        changed = False
        binds = hc.get("binds")
        if isinstance(binds, list):
            for i, bind in enumerate(binds):
                if isinstance(bind, str) and bind.partition(":")[0] == old:
                    binds[i] = new + bind[len(old):]
                    changed = True
        for m in hc.get("mounts") or []:
            if isinstance(m, dict) and m.get("Type") == "volume" and m.get("Source") == old:
                m["Source"] = new
                changed = True
        if changed:
            conn.execute("UPDATE containers SET host_config = ? WHERE id = ?",
                         (json.dumps(hc, sort_keys=True), cid))


def _respec(spec: str, new: str, old_dir: str, new_dir: str) -> str:
    """A mount point record pointing at the renamed volume (name and host path)."""
    data = json.loads(spec)
    data["name"] = new
    source = data.get("source")
    if isinstance(source, str) and source.startswith(old_dir):
        data["source"] = new_dir + source[len(old_dir):]
    return json.dumps(data, sort_keys=True)


def _exists(vfd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=vfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _write_intent(vfd: int, intent: str, old: str, new: str) -> None:
    fd = os.open(intent, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=vfd)
    try:
        os.write(fd, json.dumps({"old": old, "new": new}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.fsync(vfd)


def _drop_intent(vfd: int, intent: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(intent, dir_fd=vfd)
    os.fsync(vfd)
