"""Image endpoints: /images/..., /commit."""

from __future__ import annotations

from typing import Any

from orlop.client.base import BaseClient, quote


class ImageAPI(BaseClient):
    def images(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/images/json"))

    def inspect_image(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/images/{quote(ref)}/json")
        return out
