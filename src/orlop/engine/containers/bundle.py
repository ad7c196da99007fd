"""Turn a container into an OCI runtime bundle: config.json plus a rootfs path.

The bundle is the contract with every runtime (the built-in one, crun, runc).  The
overlay rootfs is described by ``org.orlop.overlay.*`` annotations: the built-in
runtime mounts it inside the container's own mount namespace, so no container mount
ever shows in the host's mount table; for an external runtime the engine mounts it
on the host first, as Docker does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orlop.engine.containers.users import ResolvedUser

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default capability set (moby oci/caps/defaults.go).
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# Docker's masked and read-only /proc and /sys paths (moby oci/defaults.go).
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

OVERLAY_LOWER = "org.orlop.overlay.lowerdir"
OVERLAY_UPPER = "org.orlop.overlay.upperdir"
OVERLAY_WORK = "org.orlop.overlay.workdir"


def default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]


def build_spec(
    *,
    args: Sequence[str],
    env: Sequence[str],
    cwd: str,
    user: ResolvedUser,
    hostname: str,
    terminal: bool,
    rootfs: Path,
    readonly_rootfs: bool,
    network: str,
    lower_dirs: Sequence[Path],
    upper_dir: Path,
    work_dir: Path,
    extra_mounts: Sequence[dict[str, Any]],
    netns: str = "",
) -> dict[str, Any]:
    """The config.json for one container start.  ``lower_dirs`` bottom layer first;
    ``netns``: the path of a network namespace to join instead of making one."""
    namespaces = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if netns:  # prepared by the engine (netavark) or another container's: joined
        namespaces.append({"type": "network", "path": netns})
    elif network != "host":
        namespaces.append({"type": "network"})
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": user.uid, "gid": user.gid,
                     "additionalGids": list(user.additional_gids)},
            "args": list(args),
            "env": list(env),
            "cwd": cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                             "inheritable": [], "ambient": []},
            # Docker's default: off (--security-opt no-new-privileges turns it on); the
            # seccomp filter is loaded without it, while the init still has
            # CAP_SYS_ADMIN (runtime/procsetup.finalize_namespace).
            "noNewPrivileges": False,
        },
        "root": {"path": str(rootfs), "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": default_mounts() + list(extra_mounts),
        "annotations": {
            OVERLAY_LOWER: ":".join(str(d) for d in reversed(lower_dirs)),
            OVERLAY_UPPER: str(upper_dir),
            OVERLAY_WORK: str(work_dir),
        },
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def process_env(image_env: Sequence[str], user_env: Sequence[str], hostname: str,
                home: str, terminal: bool) -> list[str]:
    """Docker's environment: PATH and HOSTNAME first, then the image's, then the user's
    (a later KEY= replaces an earlier one, keeping its position)."""
    merged: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in [*image_env, *user_env]:
        key, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(key, "")
            if key not in os.environ:
                continue
        merged[key] = value
    if terminal:
        merged.setdefault("TERM", "xterm")
    merged.setdefault("HOME", home or "/root")
    return [f"{k}={v}" for k, v in merged.items()]


def write_bundle(bundle_dir: Path, spec: dict[str, Any]) -> Path:
    """Write config.json atomically (a half-written file must never be run)."""
    path = bundle_dir / "config.json"
    tmp = bundle_dir / ".config.json.tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f, indent=1)
    os.replace(tmp, path)
    return path
