"""Volume calls of the backends: Docker's volume dicts (wire/volumes.py), from the
volume service in-process or from orlopd's ``/volumes`` routes (which call the same).

In-process, the calls of ``orlop volume create | inspect | ls | rm | prune | update |
rename`` and ``volume export`` (without ``--consistent``) need the volume service alone:
:class:`LocalVolumeVerbs` takes the services of the root (engine/root.py's RootServices,
reconciled before the volume service's first use as the engine's are) and is those
verbs' whole backend (``Context.volume_backend``), so that they import neither the
engine facade nor the other areas' calls (issue 17).  :class:`LocalVolumes` adds what
needs the facade (a consistent snapshot or export pauses containers) and is the
composed LocalBackend's part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client import APIClient
    from orlop.engine import Engine
    from orlop.engine.services import Services


class LocalVolumeVerbs:
    """The volume verbs of ``orlop volume``, on the volume service of ``engine``."""

    remote = False
    engine: Services

    def __init__(self, engine: Services) -> None:
        self.engine = engine

    def volume_create(self, name: str | None, driver: str, options: Mapping[str, str] | None,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        from orlop.wire.volumes import volume_json

        return volume_json(self.engine.volumes.create(name, driver, options, labels))

    def volume_inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        from orlop.wire.volumes import inspect_volume

        return inspect_volume(self.engine.volumes, name, size)

    def volume_update(self, name: str, add: Mapping[str, str], remove: list[str]
                      ) -> dict[str, Any]:
        from orlop.wire.volumes import volume_json

        return volume_json(self.engine.volumes.update_labels(name, add, remove))

    def volume_rename(self, old: str, new: str) -> dict[str, Any]:
        from orlop.wire.volumes import volume_json

        return volume_json(self.engine.volumes.rename(old, new))

    def volume_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.engine.volumes.list_inspect(filters)

    def volume_list_brief(self, filters: Mapping[str, list[str]] | None
                          ) -> list[tuple[str, str]]:
        """(driver, name) pairs: the default ``volume ls`` table and ``-q``."""
        return self.engine.volumes.list_brief(filters)

    def volume_remove(self, name: str, force: bool) -> None:
        self.engine.volumes.remove(name, force=force)

    def volume_prune(self, all_: bool, filters: Mapping[str, list[str]] | None,
                     dry_run: bool = False) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(self.engine, all_, filters, dry_run)

    def plugin_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return [s.to_wire() for s in self.engine.volumes.plugins(filters)]

    def volume_export(self, name: str, out_fd: int, *,
                      progress: Callable[[int], None] | None = None,
                      checksum: str = "crc32", consistent: bool = False,
                      snapshot: str | None = None, since: str | None = None,
                      writeback: bool = False) -> int:
        """``volume export`` of the live content or a snapshot's; ``consistent`` (freezing
        the volume's running writers) takes the facade: :class:`LocalVolumes`."""
        if consistent and not snapshot:
            raise TypeError("volume_export(consistent=True) needs the engine facade "
                            "(Context.backend)")
        from orlop.volumes.backup import export_volume

        return export_volume(self.engine.volumes, name, out_fd, progress=progress,
                             checksum=checksum, snapshot=snapshot, since=since,
                             writeback=writeback)


class LocalVolumes(LocalVolumeVerbs):
    """The in-process volume calls of the composed LocalBackend: also the snapshots."""

    engine: Engine

    def volume_export(self, name: str, out_fd: int, *,
                      progress: Callable[[int], None] | None = None,
                      checksum: str = "crc32", consistent: bool = False,
                      snapshot: str | None = None, since: str | None = None,
                      writeback: bool = False) -> int:
        return self.engine.volume_export(name, out_fd, progress=progress, checksum=checksum,
                                         consistent=consistent, snapshot=snapshot,
                                         since=since, writeback=writeback)

    def volume_snapshot_create(self, volume: str, name: str | None,
                               consistent: bool = False) -> dict[str, Any]:
        from orlop.engine.files.volumebackup import create_snapshot

        return create_snapshot(self.engine, volume, name, consistent=consistent).to_wire()

    def volume_snapshot_list(self, volume: str) -> list[dict[str, Any]]:
        from orlop.volumes.snapshots import SnapshotStore

        return [s.to_wire() for s in SnapshotStore(self.engine.volumes).list(volume)]

    def volume_snapshot_remove(self, volume: str, name: str) -> None:
        from orlop.volumes.snapshots import SnapshotStore

        SnapshotStore(self.engine.volumes).remove(volume, name)

    def volume_snapshot_restore(self, volume: str, name: str) -> dict[str, Any]:
        from orlop.volumes.snapshots import SnapshotStore

        return SnapshotStore(self.engine.volumes).restore(volume, name).to_wire()


class RemoteVolumes:
    api: APIClient

    def plugin_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.api.plugins(filters)

    def volume_create(self, name: str | None, driver: str, options: Mapping[str, str] | None,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        return self.api.create_volume(name, driver, options, labels)

    def volume_inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        return self.api.inspect_volume_used_by(name, size)

    def volume_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.api.volumes(filters)

    def volume_list_brief(self, filters: Mapping[str, list[str]] | None
                          ) -> list[tuple[str, str]]:
        """(driver, name) pairs: the default ``volume ls`` table and ``-q``."""
        return [(v["Driver"], v["Name"]) for v in self.api.volumes(filters)]

    def volume_remove(self, name: str, force: bool) -> None:
        self.api.remove_volume(name, force=force)

    def volume_update(self, name: str, add: Mapping[str, str], remove: list[str]
                      ) -> dict[str, Any]:
        return self.api.update_volume(name, add, remove)

    def volume_rename(self, old: str, new: str) -> dict[str, Any]:
        return self.api.rename_volume(old, new)

    def volume_prune(self, all_: bool, filters: Mapping[str, list[str]] | None,
                     dry_run: bool = False) -> tuple[list[str], int]:
        flt = {**(filters or {}), **({"all": ["true"]} if all_ else {})}
        out = (self.api.prune_volumes_preview(flt or None) if dry_run
               else self.api.prune_volumes(flt or None))
        from orlop.wire.prune import volumes_from_report

        return volumes_from_report(out)

    def volume_snapshot_create(self, volume: str, name: str | None,
                               consistent: bool = False) -> dict[str, Any]:
        return self.api.create_volume_snapshot(volume, name, consistent)

    def volume_snapshot_list(self, volume: str) -> list[dict[str, Any]]:
        return self.api.volume_snapshots(volume)

    def volume_snapshot_remove(self, volume: str, name: str) -> None:
        self.api.remove_volume_snapshot(volume, name)

    def volume_snapshot_restore(self, volume: str, name: str) -> dict[str, Any]:
        return self.api.restore_volume_snapshot(volume, name)
