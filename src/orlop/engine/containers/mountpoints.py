"""Register a container's mount points: parse, merge, create what is missing, roll back on error.

Order as Docker's registerMountPoints: the inherited mounts of ``--volumes-from``
first, then ``-v`` and ``--mount`` (which replace an inherited mount on the same
target), then ``--tmpfs``, and the image's VOLUMEs only where nothing else is
mounted.  Everything is parsed and validated before anything is created, so a bad
spec leaves no volume and no directory behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from orlop.engine import store
from orlop.engine.containers.ownership import check_bind_chown
from orlop.engine.runoptions import RunOptions
from orlop.errors import InvalidParameterError
from orlop.mounts.parser import (
    check_duplicates,
    parse_tmpfs_flag,
    parse_volume_flag,
    parse_volumes_from,
    validate_bind_source,
)
from orlop.mounts.plan import VolumesFrom, merge_mounts
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.mounts.validate import bind_daemon_root_propagation
from orlop.randomness import token_hex
from orlop.records import FrozenRecord, Record
from orlop.state.sqlite import sqlite3

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from orlop.volumes.model import Volume


if TYPE_CHECKING:  # Protocols are the type checker's: no typing at run time (issue 17)
    class VolumeRemover(Protocol):
        """What :func:`rollback` needs: remove a volume registration created."""

        def remove(self, name: str, force: bool = False) -> None: ...


    class VolumeMaker(VolumeRemover, Protocol):
        """What registration needs of the volume service: make a volume, remove it again,
        find a snapshot (engine/containers/create.py hands one that records anonymous ones
        first)."""

        def ensure(self, name: str | None = None, driver: str = "local",
                   options: Mapping[str, str] | None = None,
                   labels: Mapping[str, str] | None = None, *, anonymous: bool = False
                   ) -> tuple[Volume, bool]: ...

        def snapshot_path(self, volume: str, snapshot: str) -> str:
            """The host path of a snapshot's data, for a read-only bind (``-v v@snap:/d``)."""


class MountPlan(Record):
    """The outcome of registration, ready to be stored with the container."""

    _fields = ("points", "binds", "mounts", "tmpfs", "config_volumes", "created_volumes",
               "created_dirs")
    __slots__ = _fields
    points: list[MountPoint]
    binds: list[str] | None
    mounts: list[MountSpec] | None  # the --mount requests, as HostConfig records them
    tmpfs: dict[str, str] | None
    config_volumes: dict[str, dict[str, Any]] | None
    created_volumes: list[str]
    created_dirs: list[str]

    def __init__(self, points: list[MountPoint], binds: list[str] | None,
                 mounts: list[MountSpec] | None, tmpfs: dict[str, str] | None,
                 config_volumes: dict[str, dict[str, Any]] | None,
                 created_volumes: list[str] | None = None,
                 created_dirs: list[str] | None = None) -> None:
        self.points = points
        self.binds = binds
        self.mounts = mounts
        self.tmpfs = tmpfs
        self.config_volumes = config_volumes
        self.created_volumes = [] if created_volumes is None else created_volumes
        self.created_dirs = [] if created_dirs is None else created_dirs


class UserSpecs(FrozenRecord):
    """A create's mount flags, parsed and checked once (parse_user_specs)."""

    _fields = ("volumes", "mounts", "tmpfs", "volumes_from")
    __slots__ = _fields
    volumes: list[MountSpec]  # -v / HostConfig.Binds
    mounts: list[MountSpec]  # --mount / HostConfig.Mounts
    tmpfs: list[MountSpec]  # --tmpfs / HostConfig.Tmpfs
    volumes_from: list[tuple[str, str]]  # --volumes-from: (container, mode)

    def __init__(self, volumes: list[MountSpec], mounts: list[MountSpec],
                 tmpfs: list[MountSpec], volumes_from: list[tuple[str, str]]) -> None:
        self._set(volumes=volumes, mounts=mounts, tmpfs=tmpfs, volumes_from=volumes_from)


def parse_user_specs(opts: RunOptions, engine_root: Path) -> UserSpecs:
    """Every user spec parsed and checked, before the engine touches anything.

    Binds of the engine root, of a directory holding it or of anything in it get
    ``rslave`` propagation or are refused (``bind_daemon_root_propagation``); a ``U``
    bind of a directory Podman never chowns is refused (``check_bind_chown``).
    """
    vflags = [parse_volume_flag(raw, opts.cwd) for raw in opts.volumes]
    mflags = list(opts.mount_specs)  # parsed where they were given (CLI or orlopd)
    tflags = [parse_tmpfs_flag(raw) for raw in opts.tmpfs]
    check_duplicates([*vflags, *mflags, *tflags])
    for spec in mflags:
        if spec.type == "bind":
            validate_bind_source(spec, os.path.exists)
    volumes_from = [parse_volumes_from(raw) for raw in opts.volumes_from]
    root = os.path.realpath(engine_root)
    asked = [*vflags, *mflags]
    vflags = [_daemon_root_checked(s, root) for s in vflags]
    mflags = [_daemon_root_checked(s, root) for s in mflags]
    for spec in asked:  # as asked (the rslave given to the engine root's binds is not)
        if spec.type == "bind":
            check_bind_propagation(spec.source, spec.propagation)
    for spec in [*vflags, *mflags]:
        check_bind_chown(spec, root)  # U on /etc, $HOME...: refused before anything exists
    if opts.volume_driver:
        # HostConfig.VolumeDriver: the driver of the volumes -v creates (moby's rule).
        vflags = [s.replace(volume_driver=opts.volume_driver)
                  if s.type == "volume" and not s.volume_driver else s for s in vflags]
    return UserSpecs(vflags, mflags, tflags, volumes_from)


def check_bind_propagation(source: str, propagation: str) -> None:
    """moby's check: an ``rshared``/``shared`` bind needs a source on a shared mount, an
    ``rslave``/``slave`` one a source on a shared or slave mount (the kernel would
    otherwise give the container a mount that shares nothing, silently).  Only for a
    propagation the user asked for: the ``rslave`` Orlop gives binds of its own root by
    default works on a private mount too (the bind then simply hears nothing)."""
    if propagation not in ("shared", "rshared", "slave", "rslave"):
        return
    path = os.path.realpath(source)
    best, optional = "", ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4].replace("\\040", " ")
            under = path == mnt or mnt == "/" or path.startswith(mnt.rstrip("/") + "/")
            if under and len(mnt) >= len(best):
                best, optional = mnt, " ".join(fields[6:fields.index("-")])
    shared = "shared:" in optional
    if propagation in ("shared", "rshared") and not shared:
        raise InvalidParameterError(
            f"path {source} is mounted on {best} but it is not a shared mount")
    if not shared and "master:" not in optional:
        raise InvalidParameterError(
            f"path {source} is mounted on {best} but it is not a shared or slave mount")


def _daemon_root_checked(spec: MountSpec, root: str) -> MountSpec:
    if spec.type != "bind":
        return spec
    propagation = bind_daemon_root_propagation(spec, os.path.realpath(spec.source), root)
    return spec if propagation == spec.propagation else spec.replace(propagation=propagation)


def volumes_from_sources(conn: sqlite3.Connection, volumes_from: list[tuple[str, str]]
                         ) -> list[VolumesFrom]:
    """Look up each ``--volumes-from`` container and its recorded mount points."""
    out: list[VolumesFrom] = []
    for ref, mode in volumes_from:
        source = store.resolve(conn, ref)
        points = [MountPoint.from_json(s) for s in store.mount_points(conn, source.id)]
        out.append(VolumesFrom(container_id=source.id, mode=mode, mount_points=points))
    return out


def register_mount_points(
    volumes: VolumeMaker,
    specs: UserSpecs,
    image_volumes: list[str],
    sources: list[VolumesFrom],
) -> MountPlan:
    """Resolve every spec to a MountPoint, creating named/anonymous volumes and -v bind dirs.

    Precedence is the planner's (orlop.mounts.plan.merge_mounts).  On error, what this
    call created is removed again (``rollback``).
    """
    vflags, mflags, tflags = specs.volumes, specs.mounts, specs.tmpfs
    merged = merge_mounts(volumes_from=sources, volume_flags=vflags, mount_flags=mflags,
                          tmpfs_flags=tflags, image_volumes=image_volumes)
    plan = MountPlan(points=[], binds=None, mounts=None, tmpfs=None, config_volumes=None)
    try:
        for item in merged.entries:
            if isinstance(item, MountPoint):
                plan.points.append(item)
            else:
                plan.points.append(_resolve_spec(item, volumes, plan))
    except BaseException:
        rollback(plan, volumes)
        raise

    binds = [s.raw for s in vflags if s.type == "bind" or (s.type == "volume" and s.source)]
    plan.binds = binds or None
    plan.mounts = mflags or None
    plan.tmpfs = {s.target: s.raw.partition(":")[2] for s in tflags} or None
    anon = [s.target for s in vflags if s.type == "volume" and not s.source]
    config_vols: dict[str, dict[str, Any]] = {t: {} for t in [*anon, *image_volumes]}
    plan.config_volumes = config_vols or None
    return plan


def _resolve_spec(spec: MountSpec, volumes: VolumeMaker, plan: MountPlan) -> MountPoint:
    if spec.type == "volume" and spec.volume_snapshot:
        # A snapshot is mounted as a read-only bind of its data (volumes/snapshots.py):
        # the volume must exist already, and nothing is created for it.
        path = volumes.snapshot_path(spec.source, spec.volume_snapshot)
        return MountPoint.from_spec(spec.replace(type="bind", source=path, read_only=True))
    if spec.type == "volume":
        name = spec.source or token_hex(32)
        vol, created = volumes.ensure(
            name, spec.volume_driver,  # "": the recorded driver, a plugin having it, or local
            options=dict(spec.volume_options) or None,
            labels=dict(spec.volume_labels) or None,
            anonymous=not spec.source,
        )
        if created:
            plan.created_volumes.append(vol.name)
        return MountPoint.from_spec(spec, source=str(vol.mountpoint), name=vol.name,
                                    driver=vol.driver)
    if spec.type == "bind" and not os.path.lexists(spec.source):
        if not spec.create_host_path:
            validate_bind_source(spec, os.path.lexists)
        # Docker creates a missing -v host directory (root:root 0755), nested too.
        chain = [spec.source]
        while not os.path.lexists(os.path.dirname(chain[-1])):
            chain.append(os.path.dirname(chain[-1]))
        os.makedirs(spec.source, mode=0o755, exist_ok=True)
        plan.created_dirs.extend(chain)  # deepest first, for rollback
    return MountPoint.from_spec(spec)


def rollback(plan: MountPlan, volumes: VolumeRemover) -> None:
    """Undo what registration created; named volumes are removed only if we created them."""
    for name in plan.created_volumes:
        try:
            volumes.remove(name, force=True)
        except Exception:
            pass
    for d in plan.created_dirs:  # deepest first; rmdir refuses anything not empty
        try:
            os.rmdir(d)
        except OSError:
            pass
