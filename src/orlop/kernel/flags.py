"""Kernel flag sets as IntFlags, so that errors print ``BIND|REC`` by name."""

from __future__ import annotations

import enum


class MountFlag(enum.IntFlag):
    RDONLY = 1
    NOSUID = 2
    NODEV = 4
    NOEXEC = 8
    SYNCHRONOUS = 16
    REMOUNT = 32
    MANDLOCK = 64
    DIRSYNC = 128
    NOSYMFOLLOW = 256
    NOATIME = 1024
    NODIRATIME = 2048
    BIND = 4096
    MOVE = 8192
    REC = 16384
    SILENT = 32768
    UNBINDABLE = 1 << 17
    PRIVATE = 1 << 18
    SLAVE = 1 << 19
    SHARED = 1 << 20
    RELATIME = 1 << 21
    STRICTATIME = 1 << 24
    LAZYTIME = 1 << 25

    @classmethod
    def none(cls) -> MountFlag:
        return cls(0)


class CloneFlag(enum.IntFlag):
    NEWTIME = 0x80
    NEWNS = 0x20000
    NEWCGROUP = 0x2000000
    NEWUTS = 0x4000000
    NEWIPC = 0x8000000
    NEWUSER = 0x10000000
    NEWPID = 0x20000000
    NEWNET = 0x40000000


class MountAttr(enum.IntFlag):
    """mount_setattr(2) attributes."""

    RDONLY = 0x1
    NOSUID = 0x2
    NODEV = 0x4
    NOEXEC = 0x8
    NOATIME = 0x10
    STRICTATIME = 0x20
    NODIRATIME = 0x80
    NOSYMFOLLOW = 0x200000


MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0x80000

MOVE_MOUNT_F_EMPTY_PATH = 0x04
MOVE_MOUNT_T_EMPTY_PATH = 0x40

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
