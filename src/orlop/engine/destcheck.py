"""For an external runtime: refuse bundle mounts whose destination resolves into /proc.

The built-in runtime checks each pinned mount target itself (runtime/rootfs.py,
``refuse_procfs_target``).  crun 1.8 follows an image's ``/data -> /proc`` symlink and
mounts a volume over the container's procfs, which defeats the masked and read-only
/proc paths (the CVE-2019-16884 / CVE-2019-19921 class; runc refuses it in
``checkProcMount``).  So before crun or runc runs, the engine resolves every mount
destination inside the container's filesystem, as the runtime will, and refuses one
that lands at or under /proc.  It looks at a read-only overlay of the container's layers
(its upper dir on top), mounted in a forked child's private mount namespace that dies
with the child: nothing reaches the host's mount table, the upper dir is never mounted
writable twice, and the container is not running, so nothing changes meanwhile.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orlop.errors import RuntimeFailedError
from orlop.kernel import libc
from orlop.kernel.flags import CloneFlag, MountFlag
from orlop.kernel.procmounts import proc_mount_error
from orlop.kernel.safepath import clean_parts, fd_path, open_in_root
from orlop.runtime.rootfs import mount_overlay

# Mounts the engine itself adds at fixed places (procfs, /dev, /sys...): never user input.
_KERNEL_TYPES = frozenset({"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"})


def refuse_mounts_into_proc(spec: dict[str, Any], rootfs: Path, lowers: Sequence[Path],
                            upper: Path) -> None:
    """Raise if a mount of ``spec`` would be placed at or under /proc after symlinks.

    Raises:
        RuntimeFailedError: exit code 125, naming the mount and where it resolves.
    """
    dests = [(str(m["destination"]), "bind" in (m.get("options") or []) or
              "rbind" in (m.get("options") or []) or m.get("type") == "bind")
             for m in spec.get("mounts") or []
             if m.get("type") not in _KERNEL_TYPES and m.get("destination") not in
             ("/dev", "/dev/shm")]
    if not dests:
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: private namespace, read-only overlay, resolve, report
        os.close(r)
        code = 0
        try:
            message = _check_in_child(rootfs, lowers, upper, dests)
            if message:
                os.write(w, message.encode())
                code = 1
        except BaseException as err:  # reported to the parent, never raised in the child
            with contextlib.suppress(OSError):
                os.write(w, f"cannot check the mount destinations: {err}".encode())
            code = 2
        finally:
            os._exit(code)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            message = f.read().decode(errors="replace")
    finally:
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeFailedError(message or "cannot check the mount destinations",
                                 exit_code=125)


def _check_in_child(rootfs: Path, lowers: Sequence[Path], upper: Path,
                    dests: list[tuple[str, bool]]) -> str:
    libc.unshare(CloneFlag.NEWNS)
    libc.mount(None, "/", None, MountFlag.REC | MountFlag.PRIVATE)
    # No upper dir: a read-only overlay; mount_overlay copes with long layer lists.
    mount_overlay(str(rootfs), [str(upper), *(str(d) for d in reversed(lowers))], None, None)
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    prefix = os.readlink(fd_path(root_fd))
    for dest, is_bind in dests:
        resolved = _resolve(root_fd, prefix, dest)
        message = proc_mount_error(resolved, is_proc=False, is_bind=is_bind)
        if message is not None:
            return f"mount {dest}: the destination resolves to {resolved}: {message}"
    return ""


def _resolve(root_fd: int, prefix: str, dest: str) -> str:
    """Where ``dest`` lands inside the root: its longest existing prefix resolved (symlinks
    followed inside the root), with the missing rest appended as the runtime creates it."""
    parts = clean_parts(dest)
    for i in range(len(parts), 0, -1):
        try:
            fd = open_in_root(root_fd, "/".join(parts[:i]))
        except OSError:
            continue
        try:
            real = os.readlink(fd_path(fd))
        finally:
            os.close(fd)
        inside = "/" + os.path.relpath(real, prefix) if real != prefix else "/"
        rest = parts[i:]
        return os.path.normpath(os.path.join(inside, *rest)) if rest else inside
    return "/" + "/".join(parts)
