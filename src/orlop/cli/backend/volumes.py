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
        svc = self.engine.volumes
        vol = svc.get(name)
        return vol.to_inspect(svc.usage(name) if size else None)

    def volume_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.engine.volumes.list_inspect(filters)

    def volume_remove(self, name: str, force: bool) -> None:
        self.engine.volumes.remove(name, force=force)

    def volume_prune(self, all_: bool, filters: Mapping[str, list[str]] | None
                     ) -> tuple[list[str], int]:
        return self.engine.volumes.prune(all=all_, filters=filters)


class RemoteVolumes:
    api: APIClient

    def volume_create(self, name: str | None, driver: str, options: Mapping[str, str] | None,
                      labels: Mapping[str, str] | None) -> dict[str, Any]:
        return self.api.create_volume(name, driver, options, labels)

    def volume_inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        return self.api.inspect_volume(name, size)

    def volume_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.api.volumes(filters)

    def volume_remove(self, name: str, force: bool) -> None:
        self.api.remove_volume(name, force=force)

    def volume_prune(self, all_: bool, filters: Mapping[str, list[str]] | None
                     ) -> tuple[list[str], int]:
        flt = {**(filters or {}), **({"all": ["true"]} if all_ else {})}
        out = self.api.prune_volumes(flt or None)
        return list(out.get("VolumesDeleted") or []), int(out.get("SpaceReclaimed") or 0)
