"""Volume endpoints: /volumes, /volumes/create, /volumes/{name}, /volumes/prune, and
libpod's /libpod/volumes/{name}/clone (export and import are archive.py's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orlop.client.base import BaseClient, quote


class VolumeAPI(BaseClient):
    def volumes(self, filters: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
        data = self.json("GET", "/volumes", params={"filters": dict(filters)} if filters
                         else None)
        return list(data.get("Volumes") or [])

    def plugins(self, filters: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /plugins``: Docker's Plugin objects (orlopd: the legacy volume plugins
        it finds)."""
        data = self.json("GET", "/plugins", params={"filters": dict(filters)} if filters
                         else None)
        return list(data) if isinstance(data, list) else []

    def create_volume(self, name: str | None = None, driver: str = "local",
                      driver_opts: Mapping[str, str] | None = None,
                      labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": name or "", "Driver": driver}
        if driver_opts is not None:
            body["DriverOpts"] = dict(driver_opts)
        if labels is not None:
            body["Labels"] = dict(labels)
        out: dict[str, Any] = self.json("POST", "/volumes/create", body=body)
        return out

    def inspect_volume(self, name: str, size: bool = False) -> dict[str, Any]:
        """``size``: with ``UsageData`` (Orlop's ``?size=1``; dockerd ignores it)."""
        out: dict[str, Any] = self.json("GET", f"/volumes/{quote(name)}",
                                        params={"size": True} if size else None)
        return out

    def inspect_volume_used_by(self, name: str, size: bool = False) -> dict[str, Any]:
        """Orlop's ``GET /libpod/volumes/{name}/json``: inspect plus ``UsedBy``."""
        out: dict[str, Any] = self.json("GET", f"/libpod/volumes/{quote(name)}/json",
                                        params={"size": True} if size else None)
        return out

    def clone_volume(self, src: str, dst: str) -> dict[str, Any]:
        """Orlop's ``POST /libpod/volumes/{src}/clone?name=DST``: the new volume."""
        out: dict[str, Any] = self.json("POST", f"/libpod/volumes/{quote(src)}/clone",
                                        params={"name": dst})
        return out

    def update_volume(self, name: str, label_add: Mapping[str, str] | None = None,
                      label_rm: list[str] | None = None) -> dict[str, Any]:
        """Orlop's ``POST /libpod/volumes/{name}/update``: labels added and removed in one
        transaction; the volume as it is after."""
        out: dict[str, Any] = self.json(
            "POST", f"/libpod/volumes/{quote(name)}/update",
            body={"LabelAdd": dict(label_add or {}), "LabelRm": list(label_rm or [])})
        return out

    def rename_volume(self, old: str, new: str) -> dict[str, Any]:
        """Orlop's ``POST /libpod/volumes/{old}/rename?name=NEW``: the renamed volume."""
        out: dict[str, Any] = self.json("POST", f"/libpod/volumes/{quote(old)}/rename",
                                        params={"name": new})
        return out

    def prune_volumes_preview(self, filters: Mapping[str, list[str]] | None = None
                              ) -> dict[str, Any]:
        """Orlop's ``GET /libpod/volumes/prune``: what ``POST /volumes/prune`` would
        remove, removing nothing (a GET, so a server that lacks it can never prune)."""
        out: dict[str, Any] = self.json("GET", "/libpod/volumes/prune", params={
            "filters": dict(filters)} if filters else None)
        return out

    # --- snapshots (Orlop's /libpod/volumes/{name}/snapshots) -----------------------

    def volume_snapshots(self, name: str) -> list[dict[str, Any]]:
        """``GET /libpod/volumes/{name}/snapshots``: the snapshots, oldest first."""
        return list(self.json("GET", f"/libpod/volumes/{quote(name)}/snapshots") or [])

    def create_volume_snapshot(self, name: str, snapshot: str | None = None,
                               consistent: bool = False) -> dict[str, Any]:
        """``POST /libpod/volumes/{name}/snapshots?name=SNAP&consistent=``."""
        params: dict[str, Any] = {}
        if snapshot:
            params["name"] = snapshot
        if consistent:
            params["consistent"] = True
        out: dict[str, Any] = self.json("POST", f"/libpod/volumes/{quote(name)}/snapshots",
                                        params=params or None)
        return out

    def remove_volume_snapshot(self, name: str, snapshot: str) -> None:
        """``DELETE /libpod/volumes/{name}/snapshots/{snapshot}``."""
        self.request("DELETE", f"/libpod/volumes/{quote(name)}/snapshots/{quote(snapshot)}")

    def restore_volume_snapshot(self, name: str, snapshot: str) -> dict[str, Any]:
        """``POST /libpod/volumes/{name}/snapshots/{snapshot}/restore``."""
        out: dict[str, Any] = self.json(
            "POST", f"/libpod/volumes/{quote(name)}/snapshots/{quote(snapshot)}/restore")
        return out

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.request("DELETE", f"/volumes/{quote(name)}", params={"force": force})

    def prune_volumes(self, filters: Mapping[str, list[str]] | None = None
                      ) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/volumes/prune", params={
            "filters": dict(filters)} if filters else None)
        return out
