"""ctypes wrappers for the syscalls Python 3.11's `os` lacks.

Each wrapper raises a plain ``OSError`` carrying errno, the way the `os` module
does; callers that know the context (the runtime, a volume driver) wrap it into a
richer error.  x86_64 syscall numbers, checked against asm/unistd_64.h.
"""

from __future__ import annotations

import ctypes
import errno
import os

from orlop.kernel.consts import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_RECURSIVE,
    LINUX_CAPABILITY_VERSION_3,
    MOVE_MOUNT_F_EMPTY_PATH,
    MOVE_MOUNT_T_EMPTY_PATH,
    OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE,
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_NR: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155, "unshare": 272, "setns": 308, "renameat2": 316,
        "open_tree": 428, "move_mount": 429, "openat2": 437, "mount_setattr": 442,
        "capget": 125, "capset": 126, "prctl": 157,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "close_range": 436,
        "seccomp": 317,
    },
    "aarch64": {
        "pivot_root": 41, "unshare": 97, "setns": 268, "renameat2": 276,
        "open_tree": 428, "move_mount": 429, "openat2": 437, "mount_setattr": 442,
        "capget": 90, "capset": 91, "prctl": 167,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "close_range": 436,
        "seccomp": 277,
    },
}
NR = _NR.get(os.uname().machine, _NR["x86_64"])


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        if path is not None:
            raise OSError(err, f"{what}: {os.strerror(err)}", path)
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(int(flags)),
                       _b(data)), "mount", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount2", target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(int(flags))), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(NR["pivot_root"], _b(new_root), _b(put_old)), "pivot_root", new_root)


def renameat2(olddirfd: int, old: str, newdirfd: int, new: str, flags: int) -> None:
    _check(_libc.syscall(NR["renameat2"], ctypes.c_int(olddirfd), _b(old),
                         ctypes.c_int(newdirfd), _b(new), ctypes.c_uint(flags)), "renameat2", new)


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): the kernel resolves ``path`` under the given RESOLVE_* rules."""
    how = OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return _check(_libc.syscall(NR["openat2"], ctypes.c_int(dirfd), _b(path), ctypes.byref(how),
                                ctypes.c_size_t(ctypes.sizeof(how))), "openat2", path)


class MountAttrStruct(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def mount_setattr(dirfd: int, path: str, flags: int, attr_set: int, attr_clr: int = 0,
                  propagation: int = 0) -> None:
    attr = MountAttrStruct(attr_set, attr_clr, propagation, 0)
    _check(_libc.syscall(NR["mount_setattr"], ctypes.c_int(dirfd), _b(path), ctypes.c_uint(flags),
                         ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))),
           "mount_setattr", path)


def mount_setattr_supported() -> bool:
    """Whether the kernel has mount_setattr(2) (Linux >= 5.12), without mounting anything.

    An invalid fd answers EBADF where the syscall exists and ENOSYS where it does not
    (seccomp in a nested container may also answer EPERM: treated as missing).
    """
    attr = MountAttrStruct(0, 0, 0, 0)
    ret = _libc.syscall(NR["mount_setattr"], ctypes.c_int(-1), b"", ctypes.c_uint(AT_EMPTY_PATH),
                        ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    return ret == 0 or ctypes.get_errno() not in (errno.ENOSYS, errno.EPERM)


# statfs(2) f_type of procfs (linux/magic.h).
PROC_SUPER_MAGIC = 0x9FA0


def fstatfs_type(fd: int) -> int:
    """The ``f_type`` of the filesystem holding ``fd`` (works on O_PATH fds since 3.12).

    ``os.fstatvfs`` does not report it; struct statfs begins with ``long f_type`` on
    every 64-bit Linux ABI, so a large enough zeroed buffer is all ctypes needs.
    """
    buf = ctypes.create_string_buffer(256)
    _check(_libc.fstatfs(ctypes.c_int(fd), buf), "fstatfs")
    return ctypes.c_long.from_buffer(buf).value


def open_tree(dirfd: int, path: str, flags: int) -> int:
    return _check(_libc.syscall(NR["open_tree"], ctypes.c_int(dirfd), _b(path),
                                ctypes.c_uint(flags)), "open_tree", path)


def move_mount(from_dirfd: int, from_path: str, to_dirfd: int, to_path: str, flags: int) -> None:
    _check(_libc.syscall(NR["move_mount"], ctypes.c_int(from_dirfd), _b(from_path),
                         ctypes.c_int(to_dirfd), _b(to_path), ctypes.c_uint(flags)),
           "move_mount", to_path)


def clone_tree(src_fd: int, recursive: bool = True) -> int:
    """A detached copy of the mount tree at ``src_fd`` (open_tree OPEN_TREE_CLONE)."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH
    if recursive:
        flags |= AT_RECURSIVE
    return open_tree(src_fd, "", flags)


def attach_tree(tree_fd: int, target_fd: int) -> None:
    """Attach a detached tree onto a pinned target directory fd."""
    move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                              ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), "prctl")


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


SECCOMP_SET_MODE_FILTER = 1


def seccomp_set_filter(program: bytes, flags: int = 0) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER): install a BPF program (struct sock_filter[],
    8 bytes per instruction) on the calling thread.  Needs no_new_privs or
    CAP_SYS_ADMIN; the kernel verifies the program."""
    if not program or len(program) % 8:
        raise OSError(22, "seccomp: not a BPF program")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    _check(_libc.syscall(NR["seccomp"], ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                         ctypes.c_uint(flags), ctypes.byref(prog)), "seccomp")


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """close_range(2): close (or, with CLOSE_RANGE_CLOEXEC, mark) every fd in [first, last]."""
    _check(_libc.syscall(NR["close_range"], ctypes.c_uint(first), ctypes.c_uint(last),
                         ctypes.c_uint(flags)), "close_range")


def fsopen(fstype: str, flags: int) -> int:
    """fsopen(2): a filesystem context fd, configured with :func:`fsconfig`."""
    return _check(_libc.syscall(NR["fsopen"], _b(fstype), ctypes.c_uint(flags)), "fsopen", fstype)


def fsconfig(fs_fd: int, cmd: int, key: str | None = None, value: str | None = None,
             aux: int = 0) -> None:
    """fsconfig(2); ``value`` has no length limit, unlike mount(2)'s one-page data."""
    _check(_libc.syscall(NR["fsconfig"], ctypes.c_int(fs_fd), ctypes.c_uint(cmd), _b(key),
                         _b(value), ctypes.c_int(aux)), "fsconfig", key)


def fsmount(fs_fd: int, flags: int, attr_flags: int = 0) -> int:
    """fsmount(2): a detached mount of a created context, to attach with move_mount."""
    return _check(_libc.syscall(NR["fsmount"], ctypes.c_int(fs_fd), ctypes.c_uint(flags),
                                ctypes.c_uint(attr_flags)), "fsmount")


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capget() -> tuple[int, int, int]:
    """The calling thread's (effective, permitted, inheritable) sets as 64-bit masks."""
    hdr = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    _check(_libc.syscall(NR["capget"], ctypes.byref(hdr), ctypes.byref(data)), "capget")
    return (data[0].effective | data[1].effective << 32,
            data[0].permitted | data[1].permitted << 32,
            data[0].inheritable | data[1].inheritable << 32)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) with the version-3 (64-bit) header, for the calling thread."""
    hdr = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(NR["capset"], ctypes.byref(hdr), ctypes.byref(data)), "capset")


__all__ = ["AT_FDCWD", "attach_tree", "capget", "capset", "clone_tree", "close_range",
           "fsconfig", "fsmount", "fsopen", "mount", "mount_setattr", "move_mount",
           "open_tree", "openat2", "pivot_root", "prctl", "renameat2", "setns", "umount2",
           "unshare"]


def syncfs(fd: int) -> None:
    """syncfs(2): write back the one filesystem holding ``fd`` (a snapshot made durable
    before it is renamed into place, without the whole machine's ``sync``)."""
    _check(_libc.syncfs(ctypes.c_int(fd)), "syncfs")


SYNC_FILE_RANGE_WRITE = 2  # start write-out of the range's dirty pages; wait for nothing


def sync_file_range(fd: int, offset: int, nbytes: int, flags: int) -> None:
    _check(_libc.sync_file_range(ctypes.c_int(fd), ctypes.c_int64(offset),
                                 ctypes.c_int64(nbytes), ctypes.c_uint(flags)),
           "sync_file_range")


FICLONE = 0x40049409  # _IOW(0x94, 9, int): share all extents of a file (reflink)


def ficlone(dst_fd: int, src_fd: int) -> None:
    """ioctl(FICLONE): ``dst`` shares ``src``'s extents (btrfs, XFS with reflink=1,
    bcachefs); EOPNOTSUPP/EXDEV/EINVAL where the filesystem cannot."""
    import fcntl

    fcntl.ioctl(dst_fd, FICLONE, src_fd)
