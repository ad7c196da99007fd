"""Volume calls of the backends: Docker's volume dicts (``Volume.to_inspect``), from the
volume service in-process or from orlopd's ``/volumes`` routes (which call the same)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalVolumes:
    engine: Engine

    def volume_create(self, name: str | None, driver: str, options: Mapping[str, str] | None,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        return self.engine.volumes.create(name, driver, options, labels).to_inspect()

    def volume_inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        return self.engine.volumes.inspect(name, size)

    def volume_update(self, name: str, add: Mapping[str, str], remove: list[str]
                      ) -> dict[str, Any]:
        return self.engine.volumes.update_labels(name, add, remove).to_inspect()

    def volume_rename(self, old: str, new: str) -> dict[str, Any]:
        return self.engine.volumes.rename(old, new).to_inspect()

    def volume_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.engine.volumes.list_inspect(filters)

    def volume_remove(self, name: str, force: bool) -> None:
        self.engine.volumes.remove(name, force=force)

    def volume_prune(self, all_: bool, filters: Mapping[str, list[str]] | None,
                     dry_run: bool = False) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(self.engine, all_, filters, dry_run)


    def plugin_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return [s.to_wire() for s in self.engine.volumes.plugins(filters)]


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
        return list(out.get("VolumesDeleted") or []), int(out.get("SpaceReclaimed") or 0)
