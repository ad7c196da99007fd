"""``diff``: what a container changed in its filesystem, as Docker lists it.

The writable layer (the overlay's upper directory) is compared with the image's layers:
an entry that exists below is changed (``C``), one that does not is added (``A``), and an
overlay whiteout (a 0/0 character device) is a deletion (``D``).  The walk is of a host
directory the engine owns and follows no symlink (``os.walk`` does not); the container's
volumes, binds and tmpfs mounts are not part of it, nor what moby keeps in its init layer
(the engine's mount points for /etc/hosts and the like, /etc/mtab), as in Docker.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orlop.engine.files.initlayer import MOUNT_DIRS, MOUNT_FILES, MTAB, is_init_entry

if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.models import Container
    from orlop.images.store import ImageStore

CHANGED, ADDED, DELETED = 0, 1, 2  # the API's ``Kind`` values
_INIT_PATHS = MOUNT_FILES | MOUNT_DIRS | {MTAB, "etc"}


def _is_init_entry(dirpath: str, name: str, rel: str, info: os.stat_result) -> bool:
    """moby's init layer is not part of ``diff``: the engine's own mount points and
    ``/etc/mtab`` are left out (engine/files/initlayer.py)."""
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return is_init_entry(fd, name, rel, info)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Change:
    path: str  # absolute, inside the container
    kind: int  # CHANGED, ADDED or DELETED

    @property
    def letter(self) -> str:
        return "CAD"[self.kind]


def writable_size(config: EngineConfig, c: Container) -> int:
    """Docker's ``SizeRw``: the apparent size of the writable layer (symlinks by their
    own size, hard links once), without what moby keeps in the init layer (the
    ``/etc/mtab`` link)."""
    from orlop.volumes.fsutil import tree_size

    try:
        fd = os.open(config.containers_dir / c.id / "diff",
                     os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        total = tree_size(fd)
        try:
            etc = os.open("etc", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
        except OSError:
            return total
        try:
            st = os.stat("mtab", dir_fd=etc, follow_symlinks=False)
            if is_init_entry(etc, "mtab", MTAB, st):
                total -= st.st_size
        except OSError:
            pass
        finally:
            os.close(etc)
        return total
    finally:
        os.close(fd)


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
            if rel in _INIT_PATHS and _is_init_entry(dirpath, name, rel, info):
                if name in dirnames:
                    dirnames.remove(name)  # the init layer's: not walked either
                continue
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                kind = DELETED
            else:
                kind = CHANGED if in_lower(rel) else ADDED
            out.append(Change("/" + rel, kind))
    return sorted(out, key=lambda ch: ch.path)
