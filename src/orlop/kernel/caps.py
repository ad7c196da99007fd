"""Linux capabilities by name: the bounding, effective/permitted/inheritable and ambient sets.

The names are the OCI spec's (``CAP_CHOWN``...); numbers are from linux/capability.h.
Dropping capabilities is the last line of defence once a process escapes a mount
(CVE-2022-0492, cgroup release_agent, needed CAP_SYS_ADMIN; "shocker" needed
CAP_DAC_READ_SEARCH), so Docker's default set keeps neither.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from orlop.kernel import libc
from orlop.kernel.flags import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
)

CAPABILITIES: dict[str, int] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

# moby daemon/pkg/oci/caps/defaults.go, in Docker's order.
DOCKER_DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)


def cap_number(name: str) -> int:
    """The number of a capability; accepts ``CAP_CHOWN`` and ``chown``."""
    key = name.upper()
    if not key.startswith("CAP_"):
        key = "CAP_" + key
    try:
        return CAPABILITIES[key]
    except KeyError:
        raise ValueError(f"unknown capability {name!r}") from None


def cap_mask(names: Iterable[str]) -> int:
    """A 64-bit mask with one bit per named capability."""
    mask = 0
    for name in names:
        mask |= 1 << cap_number(name)
    return mask


def last_cap() -> int:
    """The highest capability the running kernel knows.

    Probed with PR_CAPBSET_READ rather than read from /proc/sys/kernel/cap_last_cap,
    so it works after pivot_root when the container has no /proc.
    """
    cap = 0
    while cap < 64:
        try:
            libc.prctl(PR_CAPBSET_READ, cap)
        except OSError as err:
            if err.errno == errno.EINVAL:
                break
            raise
        cap += 1
    return cap - 1


def drop_bounding_set(keep: int, last: int | None = None) -> None:
    """PR_CAPBSET_DROP every capability not in ``keep`` (needs CAP_SETPCAP)."""
    top = last_cap() if last is None else last
    for cap in range(top + 1):
        if not keep & (1 << cap):
            libc.prctl(PR_CAPBSET_DROP, cap)


def set_capabilities(effective: int, permitted: int, inheritable: int) -> None:
    libc.capset(effective, permitted, inheritable)


def set_ambient(ambient: int, last: int) -> None:
    """Clear the ambient set, then raise each wanted cap (each must be permitted+inheritable)."""
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(last + 1):
        if ambient & (1 << cap):
            libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
