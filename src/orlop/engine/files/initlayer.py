"""What moby's init layer holds, kept out of what the container changed.

dockerd gives each container an ``-init`` layer between the image and the writable one:
the mount points of ``/etc/hostname``, ``/etc/hosts`` and ``/etc/resolv.conf`` (the files
themselves are bind-mounted from the container's directory), ``/etc/mtab`` as a symlink
to ``/proc/mounts``, and the ``/dev``, ``/proc`` and ``/sys`` directories.  So ``docker
diff`` never lists them and ``commit`` never stores them, while ``export`` (the mounted
root) has them.

Orlop has no such layer: the runtime makes those mount points in the writable layer.
These rules recognise the engine's own entries there (an empty file, the ``mtab``
symlink, an empty directory) so that ``diff`` and ``commit`` leave them out as Docker
does; a file the container really wrote at one of those paths is not empty (its writes
go to the bind-mounted file, so that happens only for ``mtab``) and is kept.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

MOUNT_FILES = frozenset({"etc/hostname", "etc/hosts", "etc/resolv.conf"})
MTAB, MTAB_TARGET = "etc/mtab", "/proc/mounts"
MOUNT_DIRS = frozenset({"dev", "proc", "sys"})


def is_init_entry(parent_fd: int, name: str, rel: str, st: os.stat_result) -> bool:
    """Whether ``rel`` (``etc/hosts``; ``name`` in ``parent_fd``) is the engine's."""
    if rel in MOUNT_FILES:
        return stat.S_ISREG(st.st_mode) and st.st_size == 0
    if rel == MTAB:
        if not stat.S_ISLNK(st.st_mode):
            return False
        try:
            return os.readlink(name, dir_fd=parent_fd) == MTAB_TARGET
        except OSError:
            return False
    if rel in MOUNT_DIRS:
        return stat.S_ISDIR(st.st_mode) and _empty_dir(parent_fd, name)
    if rel == "etc":
        return stat.S_ISDIR(st.st_mode) and _only_init_entries(parent_fd, name)
    return False


def _all_children(parent_fd: int, name: str, ok: Callable[[int, str], bool]) -> bool:
    """Whether every entry of the directory ``name`` passes ``ok(dir_fd, child)`` (true
    for an empty one); False when it cannot be opened as a directory without a link."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=parent_fd)
    except OSError:
        return False
    try:
        return all(ok(fd, child) for child in os.listdir(fd))
    finally:
        os.close(fd)


def _empty_dir(parent_fd: int, name: str) -> bool:
    return _all_children(parent_fd, name, lambda _fd, _child: False)


def _only_init_entries(parent_fd: int, name: str) -> bool:
    """``etc`` holding nothing but the engine's entries (copied up only for them)."""

    def engine_entry(fd: int, child: str) -> bool:
        try:
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return False
        return is_init_entry(fd, child, f"etc/{child}", st)

    return _all_children(parent_fd, name, engine_entry)


def ensure_mtab(upper: Path, lowers: Sequence[Path]) -> None:
    """``/etc/mtab -> /proc/mounts`` in the writable layer unless the image has one or
    the container already made or deleted it (moby's init layer makes it for every
    container).  The writable layer is walked by descriptor without following any
    symlink a container planted; a new ``etc`` gets the image's mode and owner."""
    if any(os.path.lexists(low / MTAB) for low in lowers):
        return
    root = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        etc = _etc_of(root, lowers)
        if etc < 0:
            return
        try:
            with contextlib.suppress(FileExistsError):
                os.symlink(MTAB_TARGET, "mtab", dir_fd=etc)
        finally:
            os.close(etc)
    finally:
        os.close(root)


def _etc_of(root: int, lowers: Sequence[Path]) -> int:
    """A descriptor of the writable layer's ``etc`` (made as the image's when missing);
    -1 when it is not a directory (a file or a symlink: the container's business)."""
    from orlop.kernel.safepath import open_nofollow_in_root

    flags = os.O_RDONLY | os.O_DIRECTORY
    try:
        return open_nofollow_in_root(root, "etc", flags)
    except FileNotFoundError:
        pass
    except OSError:
        return -1
    base = next((low / "etc" for low in reversed(lowers) if os.path.lexists(low / "etc")),
                None)
    st = os.lstat(base) if base is not None else None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        return -1
    with contextlib.suppress(FileExistsError):
        os.mkdir("etc", 0o755, dir_fd=root)
    try:
        etc = open_nofollow_in_root(root, "etc", flags)
    except OSError:
        return -1
    if st is not None:
        os.fchmod(etc, stat.S_IMODE(st.st_mode))
        os.fchown(etc, st.st_uid, st.st_gid)
    return etc


__all__ = ["MOUNT_DIRS", "MOUNT_FILES", "MTAB", "ensure_mtab", "is_init_entry"]
