"""Attach a file to a loop device with LO_FLAGS_AUTOCLEAR, by ioctl.

Autoclear makes the kernel detach the loop device when its last user goes away: after
the filesystem on it is unmounted, or, if we crash before mounting, when our fd is
closed by the process exit.  So no code path (and no crash) leaves a loop device behind,
and nothing needs to remember which device a volume used.  ``losetup --find --show``
cannot set autoclear, hence the ioctls (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, Linux 5.8).
They live in ``orlop.kernel`` (design.md: only kernel/ makes syscalls); the local volume
driver (volumes/drivers/local.py) is their user.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
LOOP_MAJOR = 7

# struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8]; }
# struct loop_info64 { u64 device, inode, rdevice, offset, sizelimit; u32 number,
#   encrypt_type, encrypt_key_size, flags; u8 file_name[64], crypt_name[64],
#   encrypt_key[32]; u64 init[2]; }
_LOOP_CONFIG = struct.Struct("=II QQQQQ IIII 64s64s32s QQ 8Q")


def attach(file_fd: int, *, read_only: bool = False, attempts: int = 32) -> tuple[int, str]:
    """Bind ``file_fd`` to a free loop device; returns (loop fd, /dev/loopN).

    The caller mounts the device and then closes the fd: from then on the mount alone
    keeps the device alive.  EBUSY means another process took the same free device
    between GET_FREE and CONFIGURE: ask again.
    """
    flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_READ_ONLY if read_only else 0)
    ctl = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(attempts):
            n = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
            dev = f"/dev/loop{n}"
            _ensure_node(dev, n)
            lfd = os.open(dev, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC)
            name = os.fsencode(f"/proc/self/fd/{file_fd}")[:63]
            cfg = _LOOP_CONFIG.pack(file_fd, 0, 0, 0, 0, 0, 0, 0, 0, 0, flags, name, b"", b"",
                                    0, 0, *([0] * 8))
            try:
                fcntl.ioctl(lfd, LOOP_CONFIGURE, cfg)
            except OSError as err:
                os.close(lfd)
                if err.errno == errno.EBUSY:
                    continue
                raise
            return lfd, dev
    finally:
        os.close(ctl)
    raise OSError(errno.EBUSY, "no free loop device")


def _ensure_node(dev: str, n: int) -> None:
    """devtmpfs creates /dev/loopN; a static /dev (some containers) may not have it."""
    try:
        st = os.stat(dev)
    except FileNotFoundError:
        os.mknod(dev, stat.S_IFBLK | 0o660, os.makedev(LOOP_MAJOR, n))
        return
    if not stat.S_ISBLK(st.st_mode):
        raise OSError(errno.ENOTBLK, "not a block device", dev)
