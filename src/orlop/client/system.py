"""System endpoints: /_ping, /version, /info, /system/df, /events."""

from __future__ import annotations

from typing import Any

from orlop.client.base import BaseClient


class SystemAPI(BaseClient):
    def ping(self) -> bool:
        return self.request("GET", "/_ping")[1] == b"OK"

    def version(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/version")
        return out

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/info")
        return out

    def df(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", "/system/df")
        return out
