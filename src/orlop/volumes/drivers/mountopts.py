"""The local driver's ``o=`` string, read with the runtime's mount(8) word table.

``o=size=5m,uid=1000,ro`` becomes mount(2) flags (``ro``) and filesystem data
(``size=5m,uid=1000``); propagation words become a second mount(2) call.  The words
are those of runtime/mountopts.py (one table, as moby/sys/mount's for Docker's local
driver); this module only adds what a volume's ``o=`` has on top: a comma string, and
mount(8)'s userspace words (``loop``, ``nofail``...), which never reach the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from orlop.kernel.flags import MountFlag
from orlop.runtime.mountopts import parse_mount_options

# mount(8) words that are not kernel options and must not reach the filesystem.
_USERSPACE = frozenset({"loop", "auto", "noauto", "user", "nouser", "users", "_netdev",
                        "nofail"})


@dataclass(frozen=True)
class DriverMountOptions:
    """A volume's ``o=`` for one mount(2) call plus one propagation call."""

    flags: MountFlag
    propagation: MountFlag
    data: str
    loop: bool  # mount(8)'s "loop" was given


def parse_driver_options(o: str) -> DriverMountOptions:
    """Split ``o=`` into flags, propagation (all words or-ed) and data; the last word wins."""
    words = [w for w in (w.strip() for w in o.split(",")) if w]
    parsed = parse_mount_options(w for w in words if w not in _USERSPACE)
    return DriverMountOptions(flags=parsed.flags,
                              propagation=reduce(or_, parsed.propagation, MountFlag(0)),
                              data=",".join(parsed.data), loop="loop" in words)
