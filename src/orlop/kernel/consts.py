"""The kernel's plain integer constants: syscall flags, prctl options, ioctl numbers.

A module apart from kernel/flags.py's IntFlags (whose classes cost ~1 ms to build): a
command that needs a number or two (``volume create``'s ``RENAME_NOREPLACE``, the ctypes
wrappers of kernel/libc.py) does not build them (issue 17).  kernel/flags.py re-exports
every name here.
"""

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

# mount_setattr(2): the atime bits are one 3-bit field; to change it, clear the mask.
MOUNT_ATTR_RELATIME = 0x00
MOUNT_ATTR__ATIME = 0x70

# fsopen(2) / fsconfig(2) / fsmount(2)
FSOPEN_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 0x1

# close_range(2)
CLOSE_RANGE_CLOEXEC = 0x4

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# capget(2) / capset(2)
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# netdevice(7)
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# tty_ioctl(4)
TIOCSCTTY = 0x540E
