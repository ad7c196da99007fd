"""Copy an image's content into new, empty volumes before the container starts (Docker's rule).

The source is the container's merged rootfs (image layers plus its writable layer),
which exists only while an overlay is mounted.  We mount it in a short-lived child
process with a private mount namespace, so the mount never appears on the host and
vanishes with the child even if it is killed.  The overlay is mounted by the runtime's
code (runtime/imageroot.py), which takes an image of any number of layers.  Targets are
resolved inside that rootfs (a `/data -> /etc` symlink in the image means the image's
/etc), and the copy itself is fd-based and never follows symlinks (see volumes/copy.py).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from orlop.errors import SystemFailureError
from orlop.kernel.fdio import read_all
from orlop.kernel.safepath import open_in_root
from orlop.runtime.imageroot import mount_image_root, private_namespace

CopyFn = Callable[[int, int], bool]


def copy_up(
    rootfs: Path,
    lower_dirs: Sequence[Path],
    upper: Path,
    work: Path,
    jobs: Sequence[tuple[str, Path]],
    copy: CopyFn,
) -> list[str]:
    """For each (target in the container, volume data dir): copy if the volume is empty.

    Returns the targets that were copied.  Runs the work in a forked child.
    """
    if not jobs:
        return []
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(rfd)
        code = 0
        try:
            copied = _child(rootfs, lower_dirs, upper, work, jobs, copy)
            os.write(wfd, json.dumps({"copied": copied}).encode())
        except BaseException as err:
            try:
                os.write(wfd, json.dumps({"error": f"copy-up: {err}"}).encode())
            finally:
                code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    data = read_all(rfd)
    os.close(rfd)
    os.waitpid(pid, 0)
    try:
        result = json.loads(data or b"{}")
    except ValueError:
        result = {}
    if "error" in result:
        raise SystemFailureError(str(result["error"]))
    if "copied" not in result:
        raise SystemFailureError("copy-up: the helper process died")
    return list(result["copied"])


def _child(rootfs: Path, lower_dirs: Sequence[Path], upper: Path, work: Path,
           jobs: Sequence[tuple[str, Path]], copy: CopyFn) -> list[str]:
    private_namespace()
    root_fd = mount_image_root(rootfs, lower_dirs, upper, work)
    copied = []
    for target, vol_dir in jobs:
        try:
            src = open_in_root(root_fd, target, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                continue  # nothing in the image at that path: nothing to copy
            raise
        try:
            dst = os.open(vol_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if copy(dst, src):
                    copied.append(target)
            finally:
                os.close(dst)
        finally:
            os.close(src)
    return copied
