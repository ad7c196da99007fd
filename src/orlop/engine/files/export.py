"""``export``: the container's root filesystem, flattened, as a tar stream.

Like Docker, the content of volumes, bind mounts and tmpfs mounts is not included (the
tar is of the container's own filesystem: image layers plus its writable layer); their
mount points are.  The overlay is mounted in a private mount namespace of a forked child
(orlop.engine.files.view), also for a running container (a second overlay instance over its
layers, with its own work dir), and walked by fd with the no-follow tar writer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.engine.files.view import opened, run_in_view

if TYPE_CHECKING:
    from orlop.engine.services import Services


def export_container(engine: Services, ref: str, out_fd: int) -> int:
    """Write the tar to ``out_fd``; returns its size in bytes."""
    def fn(root_fd: int) -> dict[str, Any]:
        dfd = os.open(f"/proc/self/fd/{root_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            w = TarWriter(out_fd)
            # one_file_system: nothing is mounted below this overlay in the child, but a
            # walk must never wander into another filesystem if something were.
            w.add_tree(dfd, "", TreeOptions(one_file_system=True), include_root=False)
            w.close()
            return {"size": w.size}
        finally:
            os.close(dfd)

    with opened(engine, ref, with_mounts=False, force_overlay=True) as view:
        return int(run_in_view(view, fn)["size"])
