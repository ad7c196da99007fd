"""``linux.sysctl``: written through the container's own /proc/sys, after pivot_root.

The init is already in the container's network, IPC and UTS namespaces, so
/proc/sys/net, kernel.shm* and fs.mqueue.* are the container's copies; the engine has
refused anything else (engine/security/sysctl.py).  The file is opened beneath the
container's /proc with no symlinks and no mount crossing (RESOLVE_NO_XDEV), so a bind
or a link planted under /proc/sys cannot redirect the write to a host file.
This runs before finalize_rootfs makes /proc/sys read-only (runc's order).
"""

from __future__ import annotations

import os

from orlop.kernel import libc
from orlop.kernel.fdio import write_all
from orlop.kernel.flags import (
    RESOLVE_BENEATH,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
)
from orlop.kernel.safepath import open_nofollow_in_root
from orlop.runtime.failure import InitStepError

_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV


def sysctl_path(name: str) -> str:
    """"net.ipv4.ip_forward" -> "sys/net/ipv4/ip_forward" (relative to /proc)."""
    parts = name.split(".")
    if not name or any(p in ("", ".", "..") or "/" in p for p in parts):
        raise InitStepError(f'sysctl "{name}": not a sysctl name', 22)
    return "sys/" + "/".join(parts)


def write_sysctls(root_fd: int, sysctls: dict[str, str]) -> None:
    if not sysctls:
        return
    proc = open_nofollow_in_root(root_fd, "/proc", os.O_PATH | os.O_DIRECTORY)
    try:
        for name, value in sysctls.items():
            rel = sysctl_path(name)
            what = "open"
            try:
                fd = libc.openat2(proc, rel, os.O_WRONLY | os.O_NOFOLLOW, _RESOLVE)
                what = "write"
                try:
                    write_all(fd, value.encode())
                finally:
                    os.close(fd)
            except OSError as err:  # runc's text: "open /proc/sys/...: no such file ..."
                reason = os.strerror(err.errno or 0).lower()
                raise InitStepError(f"{what} /proc/{rel}: {reason}", err.errno or 0) from err
    finally:
        os.close(proc)
