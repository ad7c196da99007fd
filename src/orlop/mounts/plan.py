"""Merge a container's mount requests in Docker's order of precedence, and sort mounts.

moby ``daemon/volumes.go::registerMountPoints`` (and ``createContainerOSSpecificSettings``
for image volumes) decides which request wins a target:

1. mount points the container already has (a container being re-registered);
2. ``--volumes-from``, in order: each inherited mount replaces an earlier one;
3. the user's own ``-v``, ``--mount`` and ``--tmpfs``, which replace anything above; two
   of them on one target are an error (``Duplicate mount point``);
4. image ``VOLUME``s, only where nothing else is mounted.

Docker treats an anonymous ``-v /x`` like an image volume (it travels in
``Config.Volumes``), so a ``--volumes-from`` mount on ``/x`` silently wins over it and
``-v /x -v v:/x`` is accepted; Orlop treats every ``-v`` alike: it replaces the
inherited mount, and a second ``-v`` on the same target is a duplicate.

Pure: the engine looks containers up, creates volumes and takes references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from orlop.mounts.parser import check_duplicates, parse_image_volume
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.mounts.validate import clean_target, is_read_write
from orlop.records import FrozenRecord

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


class VolumesFrom(FrozenRecord):
    """One ``--volumes-from`` source, looked up by the engine.

    ``mode`` is the second part of ``parse_volumes_from`` (``""``, ``"ro"``, ``"rw,z"``).
    """

    _fields = ("container_id", "mode", "mount_points")
    __slots__ = _fields
    container_id: str
    mode: str
    mount_points: Sequence[MountPoint]

    def __init__(self, container_id: str, mode: str,
                 mount_points: Sequence[MountPoint]) -> None:
        self._set(container_id=container_id, mode=mode, mount_points=mount_points)


class MountPlan(FrozenRecord):
    """The outcome of ``merge_mounts``.

    ``entries``: one per target, in the order targets were first registered; a
    ``MountPoint`` is already resolved (kept or inherited), a ``MountSpec`` still needs
    the engine (create the volume, check or create the bind source).
    ``released``: mount points that were replaced; the engine drops the references it
    held for them (moby ``dereferenceIfExists``).
    """

    _fields = ("entries", "released")
    __slots__ = _fields
    entries: tuple[MountSpec | MountPoint, ...]
    released: tuple[MountPoint, ...]

    def __init__(self, entries: tuple[MountSpec | MountPoint, ...],
                 released: tuple[MountPoint, ...] = ()) -> None:
        self._set(entries=entries, released=released)

    @property
    def specs(self) -> list[MountSpec]:
        return [e for e in self.entries if isinstance(e, MountSpec)]

    @property
    def points(self) -> list[MountPoint]:
        return [e for e in self.entries if isinstance(e, MountPoint)]


def inherit_mount_points(container_id: str, mode: str,
                         points: Iterable[MountPoint]) -> list[MountPoint]:
    """The mounts a container gets from ``--volumes-from container_id:mode``.

    As moby: ``RW = source RW and ReadWrite(mode)`` (``rw`` never makes a read-only
    mount writable), ``Mode`` becomes ``""``, no copy-up, and no ``U`` (Orlop's choice:
    the source container's owner change is not repeated for another container's user).
    tmpfs mounts are not inherited: a ``--tmpfs`` belongs to its container (Docker skips
    it; for a ``--mount type=tmpfs`` Docker fails with "get: no such volume", Orlop skips
    it too).
    """
    writable = is_read_write(mode)
    return [
        mp.replace(rw=mp.rw and writable, mode="", copy_up=False, chown=False,
                from_volumes_from=container_id)
        for mp in points if mp.type != "tmpfs"
    ]


def merge_mounts(
    existing: Iterable[MountPoint] = (),
    volumes_from: Iterable[VolumesFrom] = (),
    volume_flags: Iterable[MountSpec] = (),
    mount_flags: Iterable[MountSpec] = (),
    tmpfs_flags: Iterable[MountSpec] = (),
    image_volumes: Iterable[str | MountSpec] = (),
) -> MountPlan:
    """Decide which request wins each target (see the module docstring for the order).

    Args:
        existing: the container's current mount points.
        volumes_from: the ``--volumes-from`` sources, in command-line order.
        volume_flags, mount_flags, tmpfs_flags: parsed ``-v``, ``--mount``, ``--tmpfs``.
        image_volumes: the image's ``VOLUME`` paths (or ready ``parse_image_volume`` specs).

    Raises:
        InvalidMountError: ``Duplicate mount point: /x`` among the user's own requests,
            or an image volume path that is not absolute.
    """
    user = [*volume_flags, *mount_flags, *tmpfs_flags]
    check_duplicates(user)
    by_target: dict[str, MountSpec | MountPoint] = {}
    released: list[MountPoint] = []

    def put(target: str, entry: MountSpec | MountPoint) -> None:
        old = by_target.get(target)
        if isinstance(old, MountPoint):
            released.append(old)
        by_target[target] = entry

    for mp in existing:
        put(clean_target(mp.destination), mp)
    for source in volumes_from:
        for mp in inherit_mount_points(source.container_id, source.mode, source.mount_points):
            put(clean_target(mp.destination), mp)
    for spec in user:
        put(clean_target(spec.target), spec)
    for item in image_volumes:
        spec = parse_image_volume(item) if isinstance(item, str) else item
        by_target.setdefault(clean_target(spec.target), spec)
    return MountPlan(entries=tuple(by_target.values()), released=tuple(released))


def _depth(path: str) -> int:
    cleaned = clean_target(path)
    return 0 if cleaned == "/" else cleaned.count("/")


def sort_mounts(mounts: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """Order mounts parents first: by number of path components, stable otherwise.

    moby ``sortMounts`` ("/etc must be mounted before /etc/resolv.conf"); Docker's sort is
    not stable, Orlop's is, so config.json is reproducible.

    Args:
        mounts: destinations, or any objects with ``key`` giving the destination.
        key: how to get the destination of an item (default: the item itself).
    """
    get = key if key is not None else str
    return sorted(mounts, key=lambda m: _depth(get(m)))
