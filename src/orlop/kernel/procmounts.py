"""What may be mounted at or under /proc: runc's ``checkProcMount`` rules, shared.

The runtime applies them to every bundle mount (defence in depth: a bundle written by
hand, or by an older engine, is checked too); the engine's mount validation applies
the same rules to user requests earlier, with the same texts.  Pure: no I/O here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Final


# runc checkProcMount's allowlist: procfs files that lxcfs emulates, bind-mounted over
# the container's own /proc.  Nothing else may be mounted under /proc.
PROC_BIND_ALLOWLIST: Final = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
})


def proc_mount_error(destination: str, *, is_proc: bool, is_bind: bool) -> str | None:
    """Why a mount at ``destination`` (an absolute, cleaned path) may not be made, or None.

    ``/proc`` itself takes only a fresh procfs; below it only the allowlisted binds.
    A fake /proc defeats the masked and read-only paths and the LSM checks that assume
    procfs (CVE-2019-16884, CVE-2019-19921).
    """
    if destination == "/proc":
        if is_proc:
            return None
        return f'"{destination}" cannot be mounted because it is not of type proc'
    if destination.startswith("/proc/") and not (is_bind and destination in PROC_BIND_ALLOWLIST):
        return f'"{destination}" cannot be mounted because it is inside /proc'
    return None
