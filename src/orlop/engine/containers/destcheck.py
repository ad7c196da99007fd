"""For an external runtime: rehearse the bundle's mounts with the built-in runtime's checks.

The built-in runtime refuses, on each pinned mount target, anything but procfs at or
under /proc however the path was reached (runtime/rootfs.py ``refuse_procfs_target``).
crun 1.8 follows an image's ``/data -> /proc`` or ``/rel -> ../proc/sys`` symlink and
mounts a volume over the container's procfs, which defeats the masked and read-only
/proc paths (the CVE-2019-16884 / CVE-2019-19921 class; runc refuses it in
``checkProcMount``).  So before crun or runc runs, the engine places the same mounts
with the built-in runtime's ``prepare_rootfs`` in a forked child's private mount
namespace, over a throwaway copy-on-write layer (a tmpfs upper dir on top of the
container's own upper and image layers): the container's files are not touched, nothing
reaches the host's mount table, and it all goes away with the child.  A refusal there
is the start's error.  The container is not running, so nothing changes in between.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.errors import RuntimeFailedError
from orlop.kernel import fs
from orlop.kernel.flags import CloneFlag, MountFlag

if TYPE_CHECKING:
    from orlop.runtime.spec import Spec


def rehearse_mounts(spec: Spec, bundle: Path, lowers: Sequence[Path],
                    upper: Path) -> None:
    """Raise if the built-in runtime would refuse a mount of ``spec`` in this container.

    Raises:
        RuntimeFailedError: exit code 125, with the runtime's message.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(r)
        code = 0
        try:
            _rehearse_in_child(spec, bundle, lowers, upper)
        except BaseException as err:  # reported to the parent, never raised in the child
            with contextlib.suppress(OSError):
                os.write(w, (getattr(err, "message", "") or str(err)).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            message = f.read().decode(errors="replace")
    finally:
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeFailedError(message or "cannot check the container's mounts",
                                 exit_code=125)


def _rehearse_in_child(spec: Spec, bundle: Path, lowers: Sequence[Path],
                       upper: Path) -> None:
    from orlop.runtime.rootfs import prepare_rootfs
    from orlop.runtime.spec import (
        ANNOTATION_LOWERDIR,
        ANNOTATION_UPPERDIR,
        ANNOTATION_WORKDIR,
    )

    fs.unshare(CloneFlag.NEWNS)
    fs.mount(None, "/", None, MountFlag.REC | MountFlag.PRIVATE)
    scratch = bundle / "work"  # covered by a tmpfs in this namespace only
    fs.mount("tmpfs", str(scratch), "tmpfs", MountFlag.none(), "mode=700")
    os.mkdir(scratch / "u")
    os.mkdir(scratch / "w")
    annotations = dict(spec.annotations)
    annotations[ANNOTATION_LOWERDIR] = ":".join([str(upper),
                                                 *(str(d) for d in reversed(lowers))])
    annotations[ANNOTATION_UPPERDIR] = str(scratch / "u")
    annotations[ANNOTATION_WORKDIR] = str(scratch / "w")
    prepare_rootfs(spec.replace(annotations=annotations), bundle)
