"""System endpoints: /_ping, /version, /info, /system/df, /events."""

from __future__ import annotations

from typing import Any

from orlop.client.base import BaseClient


class SystemAPI(BaseClient):
    def ping(self) -> bool:
        return self.request("GET", "/_ping")[1] == b"OK"

    def platform_name(self) -> str:
        """The engine's name from ``GET /version`` (unversioned, so any Docker-API daemon
        answers it, whatever API version it speaks): orlopd says "Orlop Engine",
        dockerd "Docker Engine - Community" and the like, Podman "Podman Engine"."""
        import json

        _, payload = self.exchange("GET", "/version", None, {}, 10)
        try:
            body = json.loads(payload)
            name = (body.get("Platform") or {}).get("Name")
        except (ValueError, AttributeError):
            return ""
        return name if isinstance(name, str) else ""

    def version(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/version")
        return out

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/info")
        return out

    def df(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/system/df")
        return out
