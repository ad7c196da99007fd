"""Images calls of the backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalImages:
    engine: Engine

    def image_inspect(self, ref: str) -> dict[str, Any]:
        images = self.engine.images
        return images.inspect(images.get(ref))


class RemoteImages:
    api: APIClient

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.api.inspect_image(ref)
