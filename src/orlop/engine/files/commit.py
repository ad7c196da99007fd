"""``commit``: a new image from a container's writable layer.

The layer is the container's overlay upper directory (``containers/<id>/diff``), read
on the host by file descriptor (orlop.archive.tarwriter: never following a link the
container planted) and converted to OCI form: overlay whiteouts (0/0 character
devices) become ``.wh.NAME`` entries, opaque directories get ``.wh..wh..opq``.

Volumes, bind mounts and tmpfs mounts are never part of the layer: their content is
not in the upper directory in the first place (the mounts hide it), and their mount
point directories are written without content even if something did land below them
(a file created there before the mount, or by ``cp`` into a never-started container),
as Docker leaves them as empty directories (reference 2.14).  The anonymous volume
targets stay in the image's ``Config.Volumes``.

The tar is produced by a thread into a pipe that the image store extracts from, so the
layer is hashed and stored in one pass with no temporary file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.engine.files.initlayer import is_init_entry
from orlop.engine.timefmt import now_rfc3339
from orlop.errors import SystemFailureError
from orlop.images.commit import commit_image_config, container_config_for_commit

if TYPE_CHECKING:
    from orlop.engine.services import Services
    from orlop.images.store import Image, ImageStore


def has_content(upper_fd: int) -> bool:
    """Whether the layer has anything but the engine's own entries (then the commit
    adds no layer, as moby's for an unchanged container)."""
    with os.scandir(upper_fd) as it:
        return any(not is_init_entry(upper_fd, e.name, e.name, e.stat(follow_symlinks=False))
                   for e in it)


def layer_from_upper(images: ImageStore, upper_fd: int, mount_targets: Sequence[str]
                     ) -> str:
    """Store the upper dir as a layer; returns its diff_id."""
    skip = {t.strip("/") for t in mount_targets if t.strip("/")}
    # moby commits the writable layer without its init layer: the engine's own mount
    # points and /etc/mtab are left out (engine/files/initlayer.py).
    opts = TreeOptions(overlay_whiteouts=True, descend=lambda arc: arc not in skip,
                       skip=is_init_entry)
    rfd, wfd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            w = TarWriter(wfd)
            w.add_tree(upper_fd, "", opts, include_root=False)
            w.close()
        except BrokenPipeError:
            pass  # the reader failed and closed its end: its error is the one reported
        except BaseException as err:  # reported by the caller's thread
            failure.append(err)
        finally:
            os.close(wfd)

    t = threading.Thread(target=produce, name="commit-tar", daemon=True)
    t.start()
    try:
        # Closing our end (also on error) makes a still-writing producer fail with EPIPE.
        with os.fdopen(rfd, "rb", buffering=1 << 20) as stream:
            diff_id = images.add_layer(stream)
    except BaseException:
        t.join()
        if failure:  # the producer's error is the cause; the store only saw a short tar
            raise SystemFailureError(
                f"commit: cannot read the container's files: {failure[0]}") from failure[0]
        raise
    t.join()
    if failure:
        raise SystemFailureError(
            f"commit: cannot read the container's files: {failure[0]}") from failure[0]
    return diff_id


def commit_container(engine: Services, ref: str, reference: str | None, *,
                     changes: Sequence[str] = (), author: str = "", message: str = "") -> Image:
    """Docker's ``commit``; returns the new image."""
    from orlop.images.changes import apply_changes

    apply_changes({}, changes)  # a bad --change fails before any work
    c = engine.get_container(ref)
    image = engine.images.get(c.image_id)
    points = engine.containers.mount_points(c.id)
    targets = [str(p.get("destination", "")) for p in points]
    upper = engine.config.containers_dir / c.id / "diff"
    upper_fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if has_content(upper_fd):
            diff_ids = [*image.diff_ids, layer_from_upper(engine.images, upper_fd, targets)]
            empty = False
        else:
            diff_ids, empty = list(image.diff_ids), True
    finally:
        os.close(upper_fd)
    cc = c.config
    container_config = container_config_for_commit(
        image.container_config, hostname=cc.hostname, user=cc.user, env=cc.env, cmd=cc.cmd,
        entrypoint=cc.entrypoint, image_ref=c.image_ref or cc.image,
        working_dir=cc.working_dir, labels=cc.labels, volumes=cc.volumes, tty=cc.tty,
        open_stdin=cc.open_stdin)
    config = commit_image_config(image.config, image.id, c.id, container_config, changes,
                                 author=author, message=message, created=now_rfc3339(),
                                 empty_layer=empty)
    made = engine.images.create_image(diff_ids, config, reference)
    engine.events.container(c, "commit", {"comment": message, "imageID": made.id,
                                          "imageRef": reference or ""})
    return made
