"""Crash repair of volume snapshots (snapshots.py): the staging and trash directories a
``kill -9`` left in a volume's ``_snapshots/``.  Apart from snapshots.py so that
reconciliation (reconcile.py, which the service imports) does not import the snapshot
store, which needs the service."""

from __future__ import annotations

import os
import stat

from orlop.volumes.dirs import TMP_PREFIX, TRASH_PREFIX, maker_alive, remove_abandoned_dir

SNAPSHOTS_DIR = "_snapshots"


def sweep_leftovers(vfd: int, names: list[str]) -> tuple[list[str], list[str]]:
    """Delete the staging and trash directories a kill left in the ``_snapshots`` of the
    volumes ``names`` (below the volumes dir ``vfd``); those still flocked or whose
    maker still runs are kept.  Returns (removed, errors)."""
    removed: list[str] = []
    errors: list[str] = []
    for vol in names:
        try:
            sdir = os.open(f"{vol}/{SNAPSHOTS_DIR}", os.O_RDONLY | os.O_DIRECTORY
                           | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=vfd)
        except OSError:
            continue  # no snapshots (the common case), or not a volume directory
        try:
            for entry in os.listdir(sdir):
                if not entry.startswith((TMP_PREFIX, TRASH_PREFIX, ".probe-")):
                    continue
                try:
                    st = os.stat(entry, dir_fd=sdir, follow_symlinks=False)
                    if not stat.S_ISDIR(st.st_mode):
                        if not maker_alive(entry, st.st_mtime):
                            os.unlink(entry, dir_fd=sdir)
                            removed.append(f"{vol}/{SNAPSHOTS_DIR}/{entry}")
                        continue
                    if not remove_abandoned_dir(entry, sdir):
                        continue
                    removed.append(f"{vol}/{SNAPSHOTS_DIR}/{entry}")
                except BlockingIOError:
                    continue
                except OSError as err:
                    errors.append(f"{vol}/{SNAPSHOTS_DIR}/{entry}: {err}")
        finally:
            os.close(sdir)
    return removed, errors


__all__ = ["SNAPSHOTS_DIR", "sweep_leftovers"]
