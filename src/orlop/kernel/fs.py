"""The kernel's filesystem and mount calls, as the layers above the runtime may use them.

kernel/libc.py is the ctypes plumbing (syscall numbers, structs, errno handling) and is
private to ``orlop.kernel`` and ``orlop.runtime`` (an import-linter contract in
pyproject.toml says so).  The engine, volumes and images reach the kernel through this
module instead, so that what they may call is one short list: resolving a path inside a
root (openat2), an atomic rename (renameat2), the few mounts they make in short-lived
helper namespaces (copy-up, the stopped-container view, mount rehearsal, volume
drivers), unmounting what they left behind, and one capability probe.  Mounting a
container's root is not here: that is the runtime's (runtime/rootfs.py).
"""

from __future__ import annotations

from orlop.kernel import libc


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` under ``dirfd`` with the RESOLVE_* rules (O_CLOEXEC added)."""
    return libc.openat2(dirfd, path, flags, resolve, mode)


def renameat2(olddirfd: int, old: str, newdirfd: int, new: str, flags: int) -> None:
    """renameat2(2): RENAME_NOREPLACE / RENAME_EXCHANGE, which os.rename cannot do."""
    libc.renameat2(olddirfd, old, newdirfd, new, flags)


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    """mount(2)."""
    libc.mount(source, target, fstype, flags, data)


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    libc.umount2(target, flags)


def unshare(flags: int) -> None:
    """unshare(2): a helper process's own mount namespace (CLONE_NEWNS) before it mounts."""
    libc.unshare(flags)


def mount_setattr_supported() -> bool:
    """Whether the kernel has mount_setattr(2) (Linux >= 5.12), without mounting anything."""
    return libc.mount_setattr_supported()



def syncfs(fd: int) -> None:
    """syncfs(2): write back the one filesystem holding ``fd`` (durability of a tree
    written in many files, without the whole machine's ``sync``)."""
    libc.syncfs(fd)


def start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """sync_file_range(SYNC_FILE_RANGE_WRITE): start writing the range's dirty pages to
    the disk now, waiting for none (a file written in one go reaches the disk while it
    is written, not all at its close or rename; nothing about durability changes)."""
    libc.sync_file_range(fd, offset, nbytes, libc.SYNC_FILE_RANGE_WRITE)


def ficlone(dst_fd: int, src_fd: int) -> None:
    """ioctl(FICLONE): a reflink copy; OSError EOPNOTSUPP/EXDEV/EINVAL where the
    filesystem cannot share extents."""
    libc.ficlone(dst_fd, src_fd)


__all__ = ["ficlone", "mount", "mount_setattr_supported", "openat2", "renameat2",
           "start_writeback", "syncfs", "umount2", "unshare"]
