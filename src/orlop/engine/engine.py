"""The Engine facade: the verbs the CLI's local backend, orlopd and the build helper call.

Each verb resolves its container (after the reconciliation) and hands the work to the
module of that verb, with the stores and services it needs (engine/services.py); none
of those modules knows this class.  The roots, the services and the reconciliation are
RootServices' (engine/root.py), which the CLI's volume verbs use without it.
"""

from __future__ import annotations

from orlop.engine.root import RootServices
from orlop.state import inflight

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from orlop.engine.containers.procio import Stdio
    from orlop.engine.files.changes import Change
    from orlop.engine.models import Container
    from orlop.engine.runoptions import RunOptions


class Engine(RootServices):
    """The verbs; the stores, the services and the reconciliation are RootServices'."""

    # --- containers ---------------------------------------------------------------

    def create_container(self, opts: RunOptions) -> Container:
        """Validate everything, create missing volumes, then record the container
        atomically (engine/containers/create.py)."""
        from orlop.engine.containers.create import create

        self.reconcile()
        return create(self, opts)

    def mount_points(self, container_id: str) -> list[dict[str, Any]]:
        return self.containers.mount_points(container_id)

    def start_attached(self, ref: str, stdio: Stdio, *, interactive: bool) -> int:
        """Start a created or exited container in the foreground and wait for it."""
        from orlop.engine.containers.start import start_attached

        return start_attached(self, self.get_container(ref), stdio, interactive=interactive)

    def start_detached(self, ref: str) -> Container:
        """Start a container under its own monitor process and return at once."""
        from orlop.engine.containers.start import start_detached

        return start_detached(self, self.get_container(ref))

    def run(self, opts: RunOptions, stdio: Stdio) -> int:
        c = self.create_container(opts)
        return self.start_attached(c.id, stdio, interactive=opts.interactive)

    def run_detached(self, opts: RunOptions) -> Container:
        from orlop.errors import OrlopError

        c = self.create_container(opts)
        try:
            return self.start_detached(c.id)
        except OrlopError:
            if opts.auto_remove:
                from contextlib import suppress

                with suppress(OrlopError):
                    self.remove_container(c.id, force=True, volumes=True)
            raise

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False,
                         locked: bool = False) -> str:
        """Remove a container (engine/containers/remove.py); with ``volumes`` also its
        anonymous volumes no one else uses.  ``locked``: the caller (its own monitor)
        already holds its lock."""
        from orlop.engine.containers.remove import remove

        return remove(self, self.get_container(ref), ref, force=force, volumes=volumes,
                      locked=locked)

    def remove_link(self, name: str) -> None:
        """``rm --link /this/alias``: one legacy link goes (engine/net/links.py)."""
        from orlop.engine.net.links import remove_link

        self.reconcile()
        remove_link(self, name)

    def kill_container(self, c: Container) -> None:
        """SIGKILL the container's PID 1 and wait until its monitor has let go."""
        from orlop.engine.containers.remove import kill

        kill(self, c)

    # --- lifecycle verbs (engine/containers/lifecycle.py) ---------------------------

    def stop_container(self, ref: str, timeout: int | None = None,
                       signal: str | None = None) -> Container:
        from orlop.engine.containers import lifecycle

        c = self.get_container(ref)
        if signal:
            lifecycle.parse_signal(signal)
        lifecycle.stop(self, c, timeout, signal)
        return c

    def signal_container(self, ref: str, signal: str = "SIGKILL") -> Container:
        from orlop.engine.containers import lifecycle

        lifecycle.parse_signal(signal)
        c = self.get_container(ref)
        lifecycle.kill(self, c, signal)
        return c

    def restart_container(self, ref: str, timeout: int | None = None,
                          signal: str | None = None) -> Container:
        c = self.stop_container(ref, timeout, signal)
        c = self.start_detached(c.id)
        self.events.container(c, "restart")
        return c

    def wait_container(self, ref: str) -> int:
        """The exit code once the container is not running; for a --rm container
        already gone, named by its full id, the code its monitor left behind."""
        from orlop.engine.containers import lifecycle
        from orlop.errors import ContainerNotFoundError

        try:
            c = self.get_container(ref)
        except ContainerNotFoundError:
            code = lifecycle.exit_code_left(self.config.run_root, ref)
            if code is None:
                raise
            return code
        return lifecycle.wait(self, c)

    def pause_container(self, ref: str, paused: bool = True) -> Container:
        from orlop.engine.containers import lifecycle

        c = self.get_container(ref)
        lifecycle.pause(self, c, paused)
        return c

    def rename_container(self, ref: str, new_name: str) -> None:
        from orlop.engine.containers import lifecycle

        lifecycle.rename(self.containers, self.events, self.get_container(ref), new_name)

    def top_container(self, ref: str,
                      ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
        from orlop.engine.containers import lifecycle

        return lifecycle.top(self.containers, self.config.run_root, self.get_container(ref),
                             ps_args)

    def container_changes(self, ref: str) -> list[Change]:
        """``diff``: the container's writable layer against its image (engine/files)."""
        from orlop.engine.files.changes import container_changes

        return container_changes(self.images, self.config, self.get_container(ref))

    def log_path(self, c: Container) -> Path:
        from orlop.engine.containers.logs import check_readable
        from orlop.engine.containers.monitor import log_path

        check_readable(c)
        return log_path(self.config, c.id)

    def is_running(self, c: Container) -> bool:
        from orlop.engine.containers.procio import is_locked

        return is_locked(self.config.run_root, c.id)

    # --- data mobility (commit, cp, export, save/load, volume backup) ---------------

    def commit(self, ref: str, reference: str | None, *, changes: list[str] | None = None,
               author: str = "", message: str = "") -> Any:
        """``commit``: the container's writable layer, without volume content, as an image."""
        from orlop.engine.files.commit import commit_container

        return commit_container(self, ref, reference, changes=changes or [], author=author,
                                message=message)

    def copy_out(self, ref: str, src: str, dest: str | None, *, out_fd: int = 1,
                 follow_link: bool = False, progress: Any = None) -> Any:
        """``cp CONTAINER:SRC DEST`` (``dest`` None: a tar stream on ``out_fd``);
        ``progress(bytes so far)`` for a DEST."""
        from orlop.engine.files import cp

        if dest is None:
            return cp.copy_out_stream(self, ref, src, out_fd, follow_link=follow_link)
        return cp.copy_out_to_host(self, ref, src, dest, follow_link=follow_link,
                                   progress=progress)

    def copy_in(self, ref: str, src: str | None, dest: str, *, in_fd: int = 0,
                archive: bool = False, follow_link: bool = False, progress: Any = None) -> Any:
        """``cp SRC CONTAINER:DEST`` (``src`` None: a tar stream read from ``in_fd``);
        ``progress(bytes so far)`` for a SRC."""
        from orlop.engine.files import cp

        if src is None:
            return cp.copy_in_stream(self, ref, dest, in_fd, archive=archive)
        return cp.copy_in_from_host(self, ref, src, dest, archive=archive,
                                    follow_link=follow_link, progress=progress)

    def volume_export(self, name: str, out_fd: int, *, progress: Any = None,
                      checksum: str = "crc32", consistent: bool = False,
                      snapshot: str | None = None, since: str | None = None,
                      writeback: bool = False) -> int:
        from orlop.engine.files.volumebackup import export_volume

        return export_volume(self, name, out_fd, progress=progress, checksum=checksum,
                             consistent=consistent, snapshot=snapshot, since=since,
                             writeback=writeback)

    def volume_import(self, name: str, stream: Any, *, force: bool = False) -> Any:
        from orlop.volumes.backup import import_volume

        self.reconcile()
        return import_volume(self.volumes, name, stream, force=force)

    def volume_clone(self, src: str, dst: str) -> Any:
        from orlop.volumes.backup import clone_volume

        return clone_volume(self.volumes, src, dst)

    def export_container(self, ref: str, out_fd: int) -> int:
        """``export``: the container's flattened rootfs (no volume content) as a tar."""
        from orlop.engine.files.export import export_container

        return export_container(self, ref, out_fd)

    def save_images(self, refs: list[str], out_fd: int) -> int:
        """``save``: Docker archive + OCI layout of the images, as one tar on ``out_fd``."""
        from orlop.images.save import save_images

        with inflight.operation(self.config.root):  # a kill leaves tmp/save-*
            written = save_images(self.images, refs, out_fd)
        for image_id in dict.fromkeys(self.images.get(r).id for r in refs):
            self.image_event(image_id, "save", image_id)
        return written

    def load_images(self, stream: Any,
                    progress: Callable[[str, int, int], None] | None = None) -> list[str]:
        """``load``: returns Docker's ``Loaded image: ...`` lines; ``progress`` hears
        ``(layer id, done, size)`` of each layer stored (``Loading layer``)."""
        from orlop.images.load import load_archive, loaded_ids

        self.images.reconcile()
        with inflight.operation(self.config.root):  # a kill leaves tmp/load-*, layers
            lines = load_archive(self.images, stream, progress)
        for image_id in loaded_ids(self.images, lines):
            self.image_event(image_id, "load", image_id)
        return lines
