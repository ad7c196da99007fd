"""What the pages show, gathered from the engine in one worker-thread call each.

Typed rows, built from the same service calls the API answers with (``VolumeService.list``,
``usage``, ``users``; ``Engine.list_containers``, ``mount_points``; the image store):
the dashboard never reads the state database or the volumes directory itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orlop.wire.summary import epoch

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.volumes.snapshots import Snapshot
    from orlop.volumes.store import VolumeUser


@dataclass(frozen=True)
class VolumeRow:
    name: str
    driver: str
    created: str  # RFC 3339
    labels: dict[str, str]
    options: dict[str, str]
    anonymous: bool
    size: int
    users: list[VolumeUser]

    @property
    def dangling(self) -> bool:
        return not self.users

    @property
    def created_epoch(self) -> int:
        return epoch(self.created)


@dataclass(frozen=True)
class Totals:
    """``system df -v``'s volume lines, summed."""

    count: int
    size: int
    in_use: int
    dangling: int
    reclaimable: int

    @classmethod
    def of(cls, rows: list[VolumeRow]) -> Totals:
        dangling = [r for r in rows if r.dangling]
        return cls(len(rows), sum(r.size for r in rows), len(rows) - len(dangling),
                   len(dangling), sum(r.size for r in dangling))


def _row(e: Engine, name: str) -> VolumeRow:
    v = e.volumes.get(name)
    size, _refs = e.volumes.usage(name)
    return VolumeRow(v.name, v.driver, v.created_at, dict(v.labels or {}),
                     dict(v.options or {}), v.anonymous, size, e.volumes.users(name))


def volume_rows(e: Engine) -> list[VolumeRow]:
    from orlop.errors import NotFoundError

    rows = []
    for v in e.volumes.list():
        try:
            rows.append(_row(e, v.name))
        except NotFoundError:
            continue  # removed meanwhile
    return rows


def volume_row(e: Engine, name: str) -> VolumeRow:
    return _row(e, name)


def snapshot_rows(e: Engine, name: str) -> list[Snapshot] | str:
    """The volume's snapshots (``SnapshotStore.list``, as the API's snapshot route), or
    why it has none: a volume of another driver, or whose data is mounted from elsewhere
    (NFS, tmpfs), cannot be snapshotted, and a snapshot whose record is unreadable is the
    engine's error: the page says so instead of failing, its files still shown."""
    from orlop.errors import SystemFailureError, UnsupportedError
    from orlop.volumes.snapshots import SnapshotStore

    try:
        return SnapshotStore(e.volumes).list(name)
    except (UnsupportedError, SystemFailureError) as err:
        return str(err)


@dataclass(frozen=True)
class MountRow:
    type: str  # volume, bind, tmpfs
    name: str  # the volume's name (volumes only)
    destination: str
    rw: bool


@dataclass(frozen=True)
class ContainerRow:
    id: str
    name: str
    image: str
    image_id: str
    state: str
    status: str
    mounts: list[MountRow] = field(default_factory=list)


def container_rows(e: Engine) -> list[ContainerRow]:
    from orlop.mounts.spec import MountPoint
    from orlop.wire.summary import status_text

    out = []
    for c in e.list_containers(all_=True):
        mounts = [MountRow(mp.type, mp.name, mp.destination, mp.rw)
                  for mp in map(MountPoint.from_json, e.mount_points(c.id))]
        out.append(ContainerRow(c.id, c.name, c.image_ref, c.image_id, c.status,
                                status_text(c), mounts))
    return sorted(out, key=lambda r: r.name)


@dataclass(frozen=True)
class ImageRow:
    id: str
    tags: list[str]
    size: int
    created: str
    containers: list[ContainerRow]


def image_rows(e: Engine) -> list[ImageRow]:
    ctrs = container_rows(e)
    out = []
    for i in e.images.list():
        out.append(ImageRow(i.id, list(i.repo_tags), i.size, i.created,
                            [c for c in ctrs if c.image_id == i.id]))
    return sorted(out, key=lambda r: (r.tags[:1] or ["~"], r.id))


__all__ = ["ContainerRow", "ImageRow", "MountRow", "Totals", "VolumeRow", "container_rows",
           "image_rows", "snapshot_rows", "volume_row", "volume_rows"]
