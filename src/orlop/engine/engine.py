"""The Engine facade used by the CLI (and later the API server)."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

from orlop.config import EngineConfig
from orlop.errors import PermissionDeniedError
from orlop.state import Database

if TYPE_CHECKING:
    from orlop.images.store import ImageStore
    from orlop.volumes.service import VolumeService


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        for d in (config.root, config.run_root):
            try:
                os.makedirs(d, mode=0o711, exist_ok=True)
            except OSError as err:
                raise PermissionDeniedError(
                    f"cannot use {d} as the engine's root: {err.strerror}"
                ) from err
        if not os.access(config.root, os.W_OK):
            raise PermissionDeniedError(f"cannot use {config.root} as the engine's root: "
                                        "not writable")
        self.db = Database(config.db_path)

    @cached_property
    def images(self) -> ImageStore:
        from orlop.images.store import ImageStore

        return ImageStore(self.config, self.db)

    @cached_property
    def volumes(self) -> VolumeService:
        from orlop.volumes.service import VolumeService

        return VolumeService(self.config, self.db)

    def close(self) -> None:
        self.db.close()
