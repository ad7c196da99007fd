"""Archive endpoints: container filesystems and volume data as tar streams."""

from __future__ import annotations

from orlop.client.base import BaseClient


class ArchiveAPI(BaseClient):
    pass
