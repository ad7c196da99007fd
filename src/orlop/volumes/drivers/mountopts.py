"""Parsing of the local driver's ``o=`` string and of sizes, as moby/sys/mount does.

``o=size=5m,uid=1000,ro`` becomes mount(2) flags (``ro``) and filesystem data
(``size=5m,uid=1000``); propagation words become a second mount(2) call.
"""

from __future__ import annotations

from dataclasses import dataclass

from orlop.kernel.flags import MountFlag

# word -> (clear instead of set, flag), moby/sys/mount flags_linux.go
_FLAGS: dict[str, tuple[bool, MountFlag]] = {
    "defaults": (False, MountFlag(0)),
    "ro": (False, MountFlag.RDONLY), "rw": (True, MountFlag.RDONLY),
    "suid": (True, MountFlag.NOSUID), "nosuid": (False, MountFlag.NOSUID),
    "dev": (True, MountFlag.NODEV), "nodev": (False, MountFlag.NODEV),
    "exec": (True, MountFlag.NOEXEC), "noexec": (False, MountFlag.NOEXEC),
    "sync": (False, MountFlag.SYNCHRONOUS), "async": (True, MountFlag.SYNCHRONOUS),
    "dirsync": (False, MountFlag.DIRSYNC),
    "mand": (False, MountFlag.MANDLOCK), "nomand": (True, MountFlag.MANDLOCK),
    "atime": (True, MountFlag.NOATIME), "noatime": (False, MountFlag.NOATIME),
    "diratime": (True, MountFlag.NODIRATIME), "nodiratime": (False, MountFlag.NODIRATIME),
    "bind": (False, MountFlag.BIND), "rbind": (False, MountFlag.BIND | MountFlag.REC),
    "relatime": (False, MountFlag.RELATIME), "norelatime": (True, MountFlag.RELATIME),
    "strictatime": (False, MountFlag.STRICTATIME),
    "nostrictatime": (True, MountFlag.STRICTATIME),
}
_PROPAGATION: dict[str, MountFlag] = {
    "private": MountFlag.PRIVATE, "rprivate": MountFlag.PRIVATE | MountFlag.REC,
    "shared": MountFlag.SHARED, "rshared": MountFlag.SHARED | MountFlag.REC,
    "slave": MountFlag.SLAVE, "rslave": MountFlag.SLAVE | MountFlag.REC,
    "unbindable": MountFlag.UNBINDABLE, "runbindable": MountFlag.UNBINDABLE | MountFlag.REC,
}
# mount(8) words that are not kernel options and must not reach the filesystem.
_USERSPACE = frozenset({"loop", "auto", "noauto", "user", "nouser", "users", "_netdev",
                        "nofail"})


@dataclass(frozen=True)
class MountOptions:
    flags: MountFlag
    propagation: MountFlag
    data: str
    loop: bool  # mount(8)'s "loop" was given


def parse_mount_options(o: str) -> MountOptions:
    flags = MountFlag(0)
    prop = MountFlag(0)
    data: list[str] = []
    loop = False
    for word in (w.strip() for w in o.split(",")):
        if not word:
            continue
        if word in _FLAGS:
            clear, flag = _FLAGS[word]
            flags = flags & ~flag if clear else flags | flag
        elif word in _PROPAGATION:
            prop |= _PROPAGATION[word]
        elif word in _USERSPACE:
            loop = loop or word == "loop"
        else:
            data.append(word)
    return MountOptions(flags, prop, ",".join(data), loop)
