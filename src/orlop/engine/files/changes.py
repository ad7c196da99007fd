"""``diff``: what a container changed in its filesystem, as Docker lists it.

The writable layer (the overlay's upper directory) is compared with the image's layers:
an entry that exists below is changed (``C``), one that does not is added (``A``), and an
overlay whiteout (a 0/0 character device) is a deletion (``D``).  The walk is of a host
directory the engine owns and follows no symlink (``os.walk`` does not); the container's
volumes, binds and tmpfs mounts are not part of it, as in Docker.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.models import Container
    from orlop.images.store import ImageStore

CHANGED, ADDED, DELETED = 0, 1, 2  # the API's ``Kind`` values


@dataclass(frozen=True)
class Change:
    path: str  # absolute, inside the container
    kind: int  # CHANGED, ADDED or DELETED

    @property
    def letter(self) -> str:
        return "CAD"[self.kind]


def container_changes(images: ImageStore, config: EngineConfig, c: Container
                      ) -> list[Change]:
    lowers = images.layer_dirs(images.get(c.image_id))
    upper = config.containers_dir / c.id / "diff"
    out: list[Change] = []

    def in_lower(rel: str) -> bool:
        return any(os.path.lexists(os.path.join(low, rel)) for low in lowers)

    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, upper)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                kind = DELETED
            else:
                kind = CHANGED if in_lower(rel) else ADDED
            out.append(Change("/" + rel, kind))
    return sorted(out, key=lambda ch: ch.path)
