"""pivot_root: make the prepared rootfs "/" and drop every reference to the host's tree."""

from __future__ import annotations

import os

from orlop.kernel.flags import MNT_DETACH, MountFlag
from orlop.kernel.syscalls import LINUX

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.kernel.syscalls import Syscalls


def pivot_root(root_fd: int, *, sc: Syscalls = LINUX) -> int:
    """pivot_root(".", ".") in the rootfs, then lazily unmount the old root.

    pivot_root(".", ".") is valid: the old root is stacked on top of the new one at
    "/", and ``umount2(".", MNT_DETACH)`` removes it without needing a put_old
    directory in the image (pivot_root(2) NOTES; runc pivotRoot, LXC).  The old root
    is made rslave first so the detach cannot propagate into the host's tree even if
    "/" were shared (runc does the same).  Returns a fresh O_PATH fd of the new "/".
    """
    os.fchdir(root_fd)
    sc.pivot_root(".", ".")
    sc.mount(None, ".", None, MountFlag.REC | MountFlag.SLAVE)
    sc.umount2(".", MNT_DETACH)
    os.chdir("/")
    os.close(root_fd)
    return os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
