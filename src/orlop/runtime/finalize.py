"""finalize_rootfs: what is made read-only or hidden after pivot_root, last of all.

Masks and read-only paths come after every other mount so that no later mount can
land on top of them and undo them (R5; runc applies them in standard_init_linux.go
after pivot).  Everything is done on fds resolved inside the new root.
"""

from __future__ import annotations

import errno
import os
import stat

from orlop.kernel.flags import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_RECURSIVE,
    FSCONFIG_CMD_CREATE,
    FSMOUNT_CLOEXEC,
    FSOPEN_CLOEXEC,
    MountAttr,
)
from orlop.kernel.safepath import open_in_root, open_nofollow_in_root
from orlop.kernel.syscalls import LINUX, attach_tree, clone_tree
from orlop.runtime.failure import InitStepError, describe
from orlop.runtime.spec import Spec

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.kernel.syscalls import Syscalls


def finalize_rootfs(root_fd: int, spec: Spec, deferred_ro: list[str], *,
                    sc: Syscalls = LINUX) -> None:
    """Deferred read-only tmpfs, readonlyPaths, maskedPaths, then a read-only root."""
    for dest in deferred_ro:
        _make_readonly(root_fd, dest, recursive=False, sc=sc)
    for path in spec.linux.readonly_paths:
        readonly_path(root_fd, path, sc=sc)
    mask_paths(root_fd, spec.linux.masked_paths, sc=sc)
    if spec.root.readonly:
        try:
            sc.mount_setattr(AT_FDCWD, "/", 0, MountAttr.RDONLY)
        except OSError as err:
            raise InitStepError(f"readonly rootfs: {describe(err)}", err.errno or 0) from err


def _make_readonly(root_fd: int, path: str, recursive: bool, sc: Syscalls) -> None:
    fd = open_in_root(root_fd, path)
    try:
        flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
        sc.mount_setattr(fd, "", flags, MountAttr.RDONLY)
    finally:
        os.close(fd)


def readonly_path(root_fd: int, path: str, *, sc: Syscalls = LINUX) -> None:
    """Bind ``path`` over itself and make the bind (and its submounts) read-only.

    A missing path is not an error (the kernel may not have it).
    """
    try:
        fd = open_in_root(root_fd, path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise InitStepError(f"readonly_path {path}: {describe(err)}", err.errno or 0) from err
    try:
        tree = clone_tree(sc, fd, recursive=True)
        try:
            sc.mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, MountAttr.RDONLY)
            attach_tree(sc, tree, fd)
        finally:
            os.close(tree)
    except OSError as err:
        raise InitStepError(f"readonly_path {path}: {describe(err)}", err.errno or 0) from err
    finally:
        os.close(fd)


def _open_dev_null(root_fd: int) -> int:
    """The container's /dev/null, verified to be the char device 1:3.

    CVE-2025-31133: an image (or a racing container) that makes /dev/null a symlink
    to, say, /proc/sys/kernel/core_pattern turned runc's "bind /dev/null over a
    masked file" into a writable bind of a host-wide procfs file.  Last component not
    followed, type and rdev checked on the pinned fd.
    """
    fd = open_nofollow_in_root(root_fd, "/dev/null")
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise InitStepError("mask_paths: /dev/null is not the null device", errno.EPERM)
    return fd


def _mount_empty_tmpfs(target_fd: int, sc: Syscalls) -> None:
    """A fresh read-only tmpfs attached onto a pinned directory (fsopen/fsmount).

    Done without /proc/self/fd, so masking works even for a spec without /proc.
    """
    fs_fd = sc.fsopen("tmpfs", FSOPEN_CLOEXEC)
    try:
        sc.fsconfig(fs_fd, FSCONFIG_CMD_CREATE)
        mnt = sc.fsmount(fs_fd, FSMOUNT_CLOEXEC, MountAttr.RDONLY)
    finally:
        os.close(fs_fd)
    try:
        attach_tree(sc, mnt, target_fd)
    finally:
        os.close(mnt)


def mask_paths(root_fd: int, paths: list[str], *, sc: Syscalls = LINUX) -> None:
    """Hide each path: /dev/null bound over files, an empty read-only tmpfs over dirs."""
    if not paths:
        return
    null_fd = -1
    try:
        for path in paths:
            try:
                fd = open_in_root(root_fd, path)
            except FileNotFoundError:
                continue
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    _mount_empty_tmpfs(fd, sc)
                else:
                    if null_fd < 0:
                        null_fd = _open_dev_null(root_fd)
                    tree = clone_tree(sc, null_fd, recursive=False)
                    try:
                        attach_tree(sc, tree, fd)
                    finally:
                        os.close(tree)
            except OSError as err:
                raise InitStepError(f"mask_paths {path}: {describe(err)}",
                                    err.errno or 0) from err
            finally:
                os.close(fd)
    finally:
        if null_fd >= 0:
            os.close(null_fd)


__all__ = ["finalize_rootfs", "mask_paths", "readonly_path"]
