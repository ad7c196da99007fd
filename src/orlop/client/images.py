"""Image endpoints: /images/..., /commit."""

from __future__ import annotations

from typing import Any

from orlop.client.base import BaseClient


class ImageAPI(BaseClient):
    def images(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/images/json"))
