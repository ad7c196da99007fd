"""Mount a container's image root: the overlay of its layers, in a mount namespace of our own.

One implementation for every place that needs a container's merged root: the runtime's
prepare_rootfs (from the spec's overlay annotations), the engine's copy-up into new
volumes and its stopped-container view for ``cp``/``export``/``diff`` (engine/files/),
and the namespace an external OCI runtime (crun, runc) is started in
(:func:`exec_in_image_root_argv`).  An image of many layers has a lowerdir list longer
than mount(2)'s one page of options; :func:`mount_overlay` gets past it, so every one
of those paths does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from orlop.kernel.flags import (
    AT_FDCWD,
    FSCONFIG_CMD_CREATE,
    FSCONFIG_SET_STRING,
    FSMOUNT_CLOEXEC,
    FSOPEN_CLOEXEC,
    MNT_DETACH,
    MOVE_MOUNT_F_EMPTY_PATH,
    CloneFlag,
    MountFlag,
)
from orlop.kernel.syscalls import LINUX

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import NoReturn

    from orlop.kernel.syscalls import Syscalls

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def mount_overlay(root: str, lower: list[str], upper: str | None, work: str | None, *,
                  sc: Syscalls = LINUX) -> None:
    """Mount the image overlay on ``root`` (inside the container's mount namespace).

    mount(2) takes at most one page of options; a long lowerdir list is made shorter
    by naming the layers relative to their common parent (the way Docker's overlay2
    driver does), and if that is still too long it is given to fsconfig(2) one layer
    at a time ("lowerdir+", kernel >= 6.8), which has no such limit.
    """
    def options(lowers: list[str], up: str | None, wk: str | None) -> str:
        opts = "lowerdir=" + ":".join(lowers)
        if up and wk:
            opts += f",upperdir={up},workdir={wk}"
        return opts

    data = options(lower, upper, work)
    if len(data) < PAGE_SIZE:
        sc.mount("overlay", root, "overlay", 0, data)
        return
    paths = [*lower, *(p for p in (upper, work) if p)]
    common = os.path.commonpath(paths)
    rel = options([os.path.relpath(p, common) for p in lower],
                  os.path.relpath(upper, common) if upper else None,
                  os.path.relpath(work, common) if work else None)
    if len(rel) < PAGE_SIZE:
        old = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(common)
            sc.mount("overlay", root, "overlay", 0, rel)
        finally:
            os.fchdir(old)
            os.close(old)
        return
    fs_fd = sc.fsopen("overlay", FSOPEN_CLOEXEC)
    try:
        for layer in lower:
            sc.fsconfig(fs_fd, FSCONFIG_SET_STRING, "lowerdir+", layer)
        if upper and work:
            sc.fsconfig(fs_fd, FSCONFIG_SET_STRING, "upperdir", upper)
            sc.fsconfig(fs_fd, FSCONFIG_SET_STRING, "workdir", work)
        sc.fsconfig(fs_fd, FSCONFIG_CMD_CREATE)
        mnt_fd = sc.fsmount(fs_fd, FSMOUNT_CLOEXEC)
    finally:
        os.close(fs_fd)
    try:
        sc.move_mount(mnt_fd, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(mnt_fd)


def private_namespace(*, slave: bool = False, sc: Syscalls = LINUX) -> None:
    """A mount namespace of the calling process's own, whose mounts never reach the host.

    ``/`` is made rprivate, or rslave with ``slave`` (the host's later unmounts still
    reach us: what an external runtime's ``rslave`` binds rely on).
    """
    sc.unshare(CloneFlag.NEWNS)
    sc.mount(None, "/", None, MountFlag.REC | (MountFlag.SLAVE if slave else MountFlag.PRIVATE))


def mount_image_root(rootfs: str | Path, lower_dirs: Sequence[str | Path], upper: str | Path,
                     work: str | Path, *, sc: Syscalls = LINUX) -> int:
    """The overlay of ``lower_dirs`` (the image's layers, bottom first, as the image
    store lists them) with the container's ``upper``/``work`` dirs on ``rootfs``; returns
    an O_PATH fd of the mounted root (opened after mounting: the overlay, not the
    directory it covers).  Call it in a namespace of :func:`private_namespace`."""
    mount_overlay(str(rootfs), [str(d) for d in reversed(lower_dirs)], str(upper), str(work),
                  sc=sc)
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


# ``python -I`` ignores PYTHONPATH: the child imports this module from the same tree;
# ``-S`` with add_site_paths: site-packages without their .pth files' code (launcher.py).
_SRC_DIR = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from orlop.launcher import add_site_paths; add_site_paths(); "
         "from orlop.runtime.imageroot import exec_main; exec_main(sys.argv[2:])")


def exec_in_image_root_argv(rootfs: str | Path, lower_dirs: Sequence[str | Path],
                            upper: str | Path, work: str | Path, argv: Sequence[str]
                            ) -> list[str]:
    """The command that runs ``argv`` in a mount namespace of its own (rslave, see
    :func:`private_namespace`) where the image root is already mounted on ``rootfs``:
    how an external runtime gets its bundle's rootfs without any mount on the host."""
    return [sys.executable, "-I", "-S", "-c", _BOOT, _SRC_DIR, str(rootfs), str(upper), str(work),
            *(str(d) for d in lower_dirs), "--", *argv]


def exec_main(args: list[str]) -> NoReturn:
    """``ROOTFS UPPER WORK LOWER... -- ARGV...``: mount, then exec ARGV (exit 125 when the
    root cannot be mounted, 127 when ARGV cannot be executed).

    On a hybrid cgroup host whose v2 hierarchy holds controllers, crun 1.8 refuses to
    run ("cgroups in hybrid mode not supported"); that mount is hidden in the namespace.
    """
    sep = args.index("--")
    rootfs, upper, work, *lowers = args[:sep]
    argv = args[sep + 1:]
    try:
        private_namespace(slave=True)
        mount_image_root(rootfs, lowers, upper, work)
    except OSError as err:
        sys.stderr.write(f"orlop: cannot mount the container's root: {err}\n")
        sys.stderr.flush()
        os._exit(125)
    with suppress(OSError):
        LINUX.umount2("/sys/fs/cgroup/unified", MNT_DETACH)
    try:
        os.execv(argv[0], argv)
    except OSError as err:
        sys.stderr.write(f"orlop: cannot execute {argv[0]}: {err}\n")
        sys.stderr.flush()
        os._exit(127)


__all__ = ["PAGE_SIZE", "exec_in_image_root_argv", "mount_image_root", "mount_overlay",
           "private_namespace"]
