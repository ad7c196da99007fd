"""``volume export --consistent`` and ``volume snapshot create --consistent``: a
point-in-time copy of a volume that running containers write to.

The volume package cannot freeze containers (it knows no cgroups), so the engine does
it here: every running container that has the volume mounted read-write is frozen
through its freezer cgroup (what ``pause`` does: cgroup v2 ``cgroup.freeze``, or v1
``freezer.state``), so no write lands while the copy is read, and thawed afterwards.
How long they stay frozen depends on what the filesystem can do, measured (not guessed)
with one FICLONE probe:

* reflinks (btrfs, XFS): a snapshot is taken while they are frozen (metadata only, so a
  short freeze), they are thawed, and the archive is written from the snapshot, which
  is removed after;
* no reflinks (ext4): the archive is written while they are frozen (a snapshot would be
  a full copy, taking as long as the export itself).

Containers already paused stay paused.  The freeze is a ``pause`` (the events say so,
and ``ps`` shows ``Paused`` meanwhile), so a ``kill -9`` of the exporting process leaves
them visibly paused, for ``orlop unpause``, never silently stuck.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from orlop.errors import ConflictError, OrlopError

if TYPE_CHECKING:
    from orlop.volumes.service import VolumeService
    from orlop.volumes.snapshots import Snapshot


class Engine(Protocol):
    """What this module uses of the engine (a protocol: Engine.volume_export calls in
    here, so importing the engine back would make a circle)."""

    @property
    def volumes(self) -> VolumeService: ...

    def get_container(self, ref: str) -> Any: ...

    def pause_container(self, ref: str, paused: bool = True) -> Any: ...


def writers(engine: Engine, name: str) -> list[tuple[str, str]]:
    """(id, name) of the running containers that have the volume mounted read-write."""
    seen: dict[str, str] = {}
    for user in engine.volumes.users(name):
        if user.running and user.rw:
            seen.setdefault(user.id, user.name)
    return sorted(seen.items(), key=lambda kv: kv[1])


@contextlib.contextmanager
def frozen(engine: Engine, name: str) -> Iterator[list[str]]:
    """Freeze the volume's running writers for the block; yields their names."""
    done: list[str] = []
    try:
        for cid, cname in writers(engine, name):
            if engine.get_container(cid).status == "paused":
                continue  # the user's pause: theirs to end
            try:
                engine.pause_container(cid, True)
            except OrlopError as err:
                raise ConflictError(
                    f"volume {name}: cannot freeze container {cname} for a consistent "
                    f"copy: {err}") from err
            done.append(cid)
        yield [cname for _cid, cname in writers(engine, name)]
    finally:
        for cid in reversed(done):
            with contextlib.suppress(OrlopError):
                engine.pause_container(cid, False)


def can_reflink(engine: Engine) -> bool:
    """Whether the volumes' filesystem shares extents (one FICLONE probe)."""
    from orlop.volumes.snapshots import probe_reflink

    with engine.volumes.dirs.open() as vfd:
        return probe_reflink(vfd) == "reflink"


def export_volume(engine: Engine, name: str, out_fd: int, *,
                  progress: Callable[[int], None] | None = None, checksum: str = "crc32",
                  consistent: bool = False, snapshot: str | None = None,
                  since: str | None = None, writeback: bool = False) -> int:
    """``volume export`` with the module's ``--consistent`` (ignored for a snapshot's
    content, which is a point in time already); ``writeback`` as volumes/backup.py's."""
    from orlop.volumes.backup import export_volume as export
    from orlop.volumes.snapshots import SnapshotStore

    def run(snap: str | None) -> int:
        return export(engine.volumes, name, out_fd, progress=progress, checksum=checksum,
                      snapshot=snap, since=since, writeback=writeback)

    if not consistent or snapshot:
        return run(snapshot)
    engine.volumes.get(name)  # a missing volume is reported before anything is frozen
    if not writers(engine, name):
        return run(None)
    if not can_reflink(engine):
        with frozen(engine, name):
            return run(None)
    snaps = SnapshotStore(engine.volumes)
    temp = f"export-{os.urandom(6).hex()}"  # secrets.token_hex, without hmac and hashlib
    with frozen(engine, name):
        snaps.create(name, temp)
    try:
        return run(temp)
    finally:
        with contextlib.suppress(OrlopError, OSError):
            snaps.remove(name, temp)


def create_snapshot(engine: Engine, volume: str, name: str | None = None, *,
                    consistent: bool = False) -> Snapshot:
    """``volume snapshot create``; ``consistent`` freezes the volume's running writers
    while the snapshot is taken."""
    from orlop.volumes.snapshots import SnapshotStore

    snaps = SnapshotStore(engine.volumes)
    if not consistent:
        return snaps.create(volume, name)
    engine.volumes.get(volume)
    with frozen(engine, volume):
        return snaps.create(volume, name)


def in_use_by(engine: Engine, name: str) -> list[str]:
    """Names of the running writers (``volume export`` warns when it reads such a
    volume without ``--consistent``)."""
    return [cname for _cid, cname in writers(engine, name)]


__all__ = ["can_reflink", "create_snapshot", "export_volume", "frozen", "in_use_by",
           "writers"]
