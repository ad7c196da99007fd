"""The kernel seam: the mount-family and namespace syscalls the runtime makes, as one object.

The runtime's mount sequence (runtime/rootfs.py, finalize.py, pivot.py) takes a
:class:`Syscalls` and defaults to :data:`LINUX`, the real calls of kernel/libc.py.  A
test passes kernel/recording.py's ``RecordingSyscalls`` instead and asserts the exact
sequence of calls for a given spec (a ``-v`` bind, a read-only tmpfs, a volume subpath,
an image's ``/proc`` symlink) without root, without mounting anything, and without
reading the code's intent from integration-test side effects.

Only the calls that change the mount table or the namespaces go through the seam (and
``fstatfs_type``, which decides whether a pinned target lies on a procfs); path
resolution (openat2 in kernel/safepath.py) and plain file work stay on real fds.
"""

from __future__ import annotations

from orlop.kernel import libc
from orlop.kernel.flags import (
    AT_EMPTY_PATH,
    AT_RECURSIVE,
    MOVE_MOUNT_F_EMPTY_PATH,
    MOVE_MOUNT_T_EMPTY_PATH,
    OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE,
)

TYPE_CHECKING = False

# statfs(2) f_type of procfs (linux/magic.h).
PROC_SUPER_MAGIC = libc.PROC_SUPER_MAGIC


if TYPE_CHECKING:  # a Protocol is the type checker's: no typing at run time (issue 17)
    from typing import Protocol

    class Syscalls(Protocol):
        """The mount and namespace syscalls, each raising ``OSError`` with errno as libc.py's."""

        def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
                  data: str | None = None) -> None: ...

        def umount2(self, target: str, flags: int = 0) -> None: ...

        def open_tree(self, dirfd: int, path: str, flags: int) -> int: ...

        def move_mount(self, from_dirfd: int, from_path: str, to_dirfd: int, to_path: str,
                       flags: int) -> None: ...

        def mount_setattr(self, dirfd: int, path: str, flags: int, attr_set: int,
                          attr_clr: int = 0, propagation: int = 0) -> None: ...

        def fsopen(self, fstype: str, flags: int) -> int: ...

        def fsconfig(self, fs_fd: int, cmd: int, key: str | None = None,
                     value: str | None = None, aux: int = 0) -> None: ...

        def fsmount(self, fs_fd: int, flags: int, attr_flags: int = 0) -> int: ...

        def unshare(self, flags: int) -> None: ...

        def setns(self, fd: int, nstype: int = 0) -> None: ...

        def pivot_root(self, new_root: str, put_old: str) -> None: ...

        def fstatfs_type(self, fd: int) -> int: ...


class LinuxSyscalls:
    """The real kernel, through the ctypes wrappers of kernel/libc.py."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        libc.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        libc.umount2(target, flags)

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        return libc.open_tree(dirfd, path, flags)

    def move_mount(self, from_dirfd: int, from_path: str, to_dirfd: int, to_path: str,
                   flags: int) -> None:
        libc.move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)

    def mount_setattr(self, dirfd: int, path: str, flags: int, attr_set: int,
                      attr_clr: int = 0, propagation: int = 0) -> None:
        libc.mount_setattr(dirfd, path, flags, attr_set, attr_clr, propagation)

    def fsopen(self, fstype: str, flags: int) -> int:
        return libc.fsopen(fstype, flags)

    def fsconfig(self, fs_fd: int, cmd: int, key: str | None = None,
                 value: str | None = None, aux: int = 0) -> None:
        libc.fsconfig(fs_fd, cmd, key, value, aux)

    def fsmount(self, fs_fd: int, flags: int, attr_flags: int = 0) -> int:
        return libc.fsmount(fs_fd, flags, attr_flags)

    def unshare(self, flags: int) -> None:
        libc.unshare(flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        libc.setns(fd, nstype)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        libc.pivot_root(new_root, put_old)

    def fstatfs_type(self, fd: int) -> int:
        return libc.fstatfs_type(fd)


LINUX: Syscalls = LinuxSyscalls()


def clone_tree(sc: Syscalls, src_fd: int, recursive: bool = True) -> int:
    """A detached copy of the mount tree at ``src_fd`` (open_tree OPEN_TREE_CLONE)."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH
    if recursive:
        flags |= AT_RECURSIVE
    return sc.open_tree(src_fd, "", flags)


def attach_tree(sc: Syscalls, tree_fd: int, target_fd: int) -> None:
    """Attach a detached tree onto a pinned target directory fd."""
    sc.move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)


__all__ = ["LINUX", "PROC_SUPER_MAGIC", "LinuxSyscalls", "Syscalls", "attach_tree",
           "clone_tree"]
