"""pivot_root: make the prepared rootfs "/" and drop every reference to the host's tree."""

from __future__ import annotations

import os

from orlop.kernel import libc
from orlop.kernel.flags import MNT_DETACH, MountFlag


def pivot_root(root_fd: int) -> int:
    """pivot_root(".", ".") in the rootfs, then lazily unmount the old root.

    pivot_root(".", ".") is valid: the old root is stacked on top of the new one at
    "/", and ``umount2(".", MNT_DETACH)`` removes it without needing a put_old
    directory in the image (pivot_root(2) NOTES; runc pivotRoot, LXC).  The old root
    is made rslave first so the detach cannot propagate into the host's tree even if
    "/" were shared (runc does the same).  Returns a fresh O_PATH fd of the new "/".
    """
    os.fchdir(root_fd)
    libc.pivot_root(".", ".")
    libc.mount(None, ".", None, MountFlag.REC | MountFlag.SLAVE)
    libc.umount2(".", MNT_DETACH)
    os.chdir("/")
    os.close(root_fd)
    return os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
