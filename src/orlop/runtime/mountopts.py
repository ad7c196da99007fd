"""The mount option table: mount(8) words -> mount flags, propagation and fs data.

One table, as runc's specconv ``mountFlags`` map and crun's ``mount_flags.perf``: a
word either sets or clears a MountFlag, or picks a propagation type; "rro" asks for a
recursively read-only mount (mount_setattr AT_RECURSIVE, kernel >= 5.12); "tmpcopyup"
is accepted and ignored; anything else is passed to the filesystem as data
("size=1m", "mode=1777").

It is Orlop's only such table: the local volume driver's ``o=`` (volumes/drivers/mountopts.py)
and Docker's tmpfs word merging (mounts/tmpfs.py) read it too.
"""

from __future__ import annotations

from collections.abc import Iterable

from orlop.kernel.flags import MOUNT_ATTR__ATIME, MountAttr, MountFlag
from orlop.records import FrozenRecord

# word -> (clear?, flag)
FLAGS: dict[str, tuple[bool, MountFlag]] = {
    "ro": (False, MountFlag.RDONLY),
    "rw": (True, MountFlag.RDONLY),
    "nosuid": (False, MountFlag.NOSUID),
    "suid": (True, MountFlag.NOSUID),
    "nodev": (False, MountFlag.NODEV),
    "dev": (True, MountFlag.NODEV),
    "noexec": (False, MountFlag.NOEXEC),
    "exec": (True, MountFlag.NOEXEC),
    "sync": (False, MountFlag.SYNCHRONOUS),
    "async": (True, MountFlag.SYNCHRONOUS),
    "dirsync": (False, MountFlag.DIRSYNC),
    "mand": (False, MountFlag.MANDLOCK),
    "nomand": (True, MountFlag.MANDLOCK),
    "relatime": (False, MountFlag.RELATIME),
    "norelatime": (True, MountFlag.RELATIME),
    "strictatime": (False, MountFlag.STRICTATIME),
    "nostrictatime": (True, MountFlag.STRICTATIME),
    "noatime": (False, MountFlag.NOATIME),
    "atime": (True, MountFlag.NOATIME),
    "nodiratime": (False, MountFlag.NODIRATIME),
    "diratime": (True, MountFlag.NODIRATIME),
    "lazytime": (False, MountFlag.LAZYTIME),
    "nolazytime": (True, MountFlag.LAZYTIME),
    "nosymfollow": (False, MountFlag.NOSYMFOLLOW),
    "symfollow": (True, MountFlag.NOSYMFOLLOW),
    "bind": (False, MountFlag.BIND),
    "rbind": (False, MountFlag.BIND | MountFlag.REC),
}

PROPAGATION: dict[str, MountFlag] = {
    "private": MountFlag.PRIVATE,
    "rprivate": MountFlag.PRIVATE | MountFlag.REC,
    "shared": MountFlag.SHARED,
    "rshared": MountFlag.SHARED | MountFlag.REC,
    "slave": MountFlag.SLAVE,
    "rslave": MountFlag.SLAVE | MountFlag.REC,
    "unbindable": MountFlag.UNBINDABLE,
    "runbindable": MountFlag.UNBINDABLE | MountFlag.REC,
}

IGNORED = frozenset({"tmpcopyup", "notmpcopyup", "defaults"})

# MountFlag -> mount_setattr(2) attribute, for flags applied to a detached bind tree.
_ATTR: dict[MountFlag, int] = {
    MountFlag.RDONLY: MountAttr.RDONLY,
    MountFlag.NOSUID: MountAttr.NOSUID,
    MountFlag.NODEV: MountAttr.NODEV,
    MountFlag.NOEXEC: MountAttr.NOEXEC,
    MountFlag.NODIRATIME: MountAttr.NODIRATIME,
    MountFlag.NOSYMFOLLOW: MountAttr.NOSYMFOLLOW,
}
_ATIME = MountFlag.NOATIME | MountFlag.STRICTATIME | MountFlag.RELATIME


class MountOptions(FrozenRecord):
    """A parsed ``options`` list.

    Attributes:
        flags: MountFlags to set (BIND and REC included for bind/rbind).
        clear: MountFlags the options explicitly clear ("rw", "suid", "dev"...).
        propagation: propagation changes, applied in order after the mount.
        recursive_ro: "rro": read-only applied to every submount too.
        data: the filesystem-specific words, joined with "," for mount(2).
    """

    _fields = ("flags", "clear", "propagation", "recursive_ro", "data")
    __slots__ = _fields
    flags: MountFlag
    clear: MountFlag
    propagation: tuple[MountFlag, ...]
    recursive_ro: bool
    data: tuple[str, ...]

    def __init__(self, flags: MountFlag = MountFlag.none(),  # noqa: B008 - an immutable
                 clear: MountFlag = MountFlag.none(),  # noqa: B008 - IntFlag value
                 propagation: tuple[MountFlag, ...] = (), recursive_ro: bool = False,
                 data: tuple[str, ...] = ()) -> None:
        self._set(flags=flags, clear=clear, propagation=propagation,
                  recursive_ro=recursive_ro, data=data)

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & MountFlag.BIND)

    @property
    def data_string(self) -> str | None:
        return ",".join(self.data) or None

    def mount_flags(self) -> MountFlag:
        """Flags for a new (non-bind) mount: everything but bind and propagation."""
        return self.flags & ~(MountFlag.BIND | MountFlag.REC)

    def setattr_masks(self) -> tuple[int, int]:
        """(attr_set, attr_clr) for mount_setattr(2) on a bind mount.

        Unlike MS_BIND|MS_REMOUNT, which replaces every per-mount flag, this sets only
        what the options ask for and clears only what they clear; a bind mount keeps
        the rest from its source, the way mount(8) users expect.
        """
        attr_set = attr_clr = 0
        for flag, attr in _ATTR.items():
            if self.flags & flag:
                attr_set |= attr
            elif self.clear & flag:
                attr_clr |= attr
        if self.recursive_ro:
            attr_set |= MountAttr.RDONLY
        atime = self.flags & _ATIME
        if atime:
            attr_clr |= MOUNT_ATTR__ATIME
            if atime & MountFlag.NOATIME:
                attr_set |= MountAttr.NOATIME
            elif atime & MountFlag.STRICTATIME:
                attr_set |= MountAttr.STRICTATIME
        return attr_set, attr_clr


def parse_mount_options(options: Iterable[str]) -> MountOptions:
    """Split an OCI ``options`` list into flags, propagation and data; the last word wins."""
    flags = MountFlag(0)
    clear = MountFlag(0)
    propagation: list[MountFlag] = []
    data: list[str] = []
    rro = False
    for word in options:
        if word in FLAGS:
            is_clear, flag = FLAGS[word]
            if is_clear:
                flags &= ~flag
                clear |= flag
            else:
                flags |= flag
                clear &= ~flag
        elif word in PROPAGATION:
            propagation.append(PROPAGATION[word])
        elif word == "rro":
            rro = True
            flags |= MountFlag.RDONLY
            clear &= ~MountFlag.RDONLY
        elif word in IGNORED:
            continue
        elif word:
            data.append(word)
    return MountOptions(flags=flags, clear=clear, propagation=tuple(propagation),
                        recursive_ro=rro, data=tuple(data))
