"""Open and create paths inside a root directory without ever leaving it.

Every path that comes from a container image, an archive or a user and is used
inside a root (a rootfs, a layer, a volume) goes through here.  The kernel does
the resolution with openat2(2) ``RESOLVE_IN_ROOT``: ``..`` stops at the root and
an absolute symlink is read relative to the root, exactly as the container would
see it, so ``/data -> /etc`` in an image means ``<rootfs>/etc`` and never the
host's ``/etc``.  Magic links (/proc/self/fd/N) are refused.  This is the class
of CVE-2018-15664 (docker cp symlink-exchange race) and CVE-2021-30465 (runc
mount-target symlink race): resolution and use happen on one pinned fd.
"""

from __future__ import annotations

import errno
import os
import stat

from orlop.kernel.flags import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS
from orlop.kernel.libc import openat2

_RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS


def clean_parts(path: str) -> list[str]:
    """The components of ``path`` with empty and ``.`` parts dropped (``..`` kept)."""
    return [p for p in path.split("/") if p not in ("", ".")]


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """Open ``path`` resolved inside ``root_fd``; symlinks followed, but only inside."""
    rel = "/".join(clean_parts(path)) or "."
    while True:
        try:
            return openat2(root_fd, rel, flags | os.O_CLOEXEC, _RESOLVE, mode)
        except OSError as err:
            if err.errno == errno.EAGAIN:  # a rename raced the lookup: try again
                continue
            raise


def open_nofollow_in_root(root_fd: int, path: str, flags: int = os.O_PATH) -> int:
    """Open ``path`` inside the root, resolving the parents but not the last component."""
    parts = clean_parts(path)
    if not parts:
        return os.dup(root_fd)
    parent = open_in_root(root_fd, "/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY)
    try:
        name = parts[-1]
        if name == "..":
            raise OSError(errno.EINVAL, "path ends in '..'", path)
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    finally:
        os.close(parent)


def mkdir_all_in_root(root_fd: int, path: str, mode: int = 0o755) -> int:
    """``mkdir -p`` inside the root; returns an O_PATH fd of the directory.

    Each missing component is created with mkdirat() on the fd of its already
    resolved parent, so a symlink planted in the path is followed only inside the
    root, and a component that exists but is not a directory is an error.
    """
    parts = clean_parts(path)
    fd = os.dup(root_fd)
    done: list[str] = []
    try:
        for part in parts:
            done.append(part)
            prefix = "/".join(done)
            try:
                nfd = open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY)
            except OSError as err:
                if err.errno != errno.ENOENT:
                    raise
                if part == "..":
                    raise
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass  # created by a racing process, or a dangling symlink: re-resolve
                nfd = open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def fd_path(fd: int) -> str:
    """A path naming what ``fd`` points at, usable as a mount source or target.

    /proc/self/fd/N is a magic link that the kernel resolves to the pinned object,
    not by re-walking a path, so a swapped symlink cannot redirect it.
    """
    return f"/proc/self/fd/{fd}"


def is_dir_fd(fd: int) -> bool:
    return stat.S_ISDIR(os.fstat(fd).st_mode)
