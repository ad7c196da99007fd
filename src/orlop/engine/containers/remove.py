"""``rm``: a container's record, network, directory and run files, and with ``-v`` its
anonymous volumes; and the removal of a create whose creator died.

The container's lock is held while its record goes, so a racing `start` either started
it before (and then this is a conflict, or a kill with -f) or finds no record.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from orlop.engine import store
from orlop.errors import ConflictError, ContainerStateError, OrlopError
from orlop.state import inflight
from orlop.volumes.fsutil import remove_path

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.models import Container
    from orlop.engine.services import Services
    from orlop.engine.store import ContainerStore
    from orlop.volumes.service import VolumeService


def remove(svc: Services, c: Container, ref: str, *, force: bool, volumes: bool,
           locked: bool) -> str:
    """Remove ``c`` (``ref`` as the user named it, for the error); with ``volumes``
    also its anonymous volumes no one else uses.  Named volumes are never removed
    implicitly (Docker's rule).  ``locked``: the caller (its own monitor) already holds
    the lock.  Returns the container's name."""
    with inflight.operation(svc.config.root):
        return _remove(svc, c, ref, force=force, volumes=volumes, locked=locked)


def _remove(svc: Services, c: Container, ref: str, *, force: bool, volumes: bool,
            locked: bool) -> str:
    import fcntl
    import time

    config = svc.config
    fd = -1
    if not locked:
        lock_dir = config.run_root / "containers"
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_dir / f"{c.id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
    killed = False
    try:
        deadline = time.monotonic() + 30
        while fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if not force:
                raise ConflictError(
                    f"You cannot remove a running container {c.id}. Stop the container "
                    "before attempting removal or force remove")
            if time.monotonic() > deadline:
                raise ContainerStateError(f"container {c.id} did not stop")
            kill(svc, c)
            killed = True
        svc.volumes.release_plugin_refs(c.id)  # a plugin's Unmount that failed at stop
        with svc.containers.write() as conn:
            if store.get_by_id(conn, c.id) is None:
                if killed and c.host_config.auto_remove:
                    # A --rm container removes itself once killed (its monitor or
                    # attached runner did it, with its volumes): what was asked is done.
                    return c.name
                from orlop.errors import ContainerNotFoundError

                raise ContainerNotFoundError(ref)
            vols = store.delete(conn, c.id)
            anon = store.anonymous_volume_names(conn)
        # Record first, then the directory: a kill in between leaves a directory
        # without a record, which the repair removes (engine/repair.py), and a
        # network the sweep tears down (engine/net/setup.py).
        inflight.fault("rm.after_delete")
        from orlop.engine.net.setup import detach

        detach(config, c.id)
        with contextlib.suppress(OSError):  # a mount left inside stops it
            remove_path(config.containers_dir / c.id)
        # The exit code stays for `wait` only where the container removed itself.
        unlink_run_files(config.run_root, c.id, exit_file=not c.host_config.auto_remove)
    finally:
        if fd >= 0:
            os.close(fd)
    svc.events.container(c, "destroy")
    if volumes:
        for name in vols:
            if name in anon:
                # Still used by another container (--volumes-from): kept, as Docker.
                with contextlib.suppress(OrlopError):
                    svc.volumes.remove(name)
    return c.name


def kill(svc: Services, c: Container) -> None:
    """SIGKILL the container's PID 1 and wait until its monitor has let go (marked
    stopped first, or a restart policy would bring it back: `rm -f` never ended)."""
    from orlop.engine.containers.lifecycle import kill_and_wait, mark_stopped

    mark_stopped(svc.containers, c.id)
    kill_and_wait(svc, c)


def remove_half_created(config: EngineConfig, containers: ContainerStore,
                        volumes: VolumeService, cid: str) -> None:
    """A container whose creator died before finishing its create: remove the
    anonymous volumes it recorded (only if no container references them: never
    another container's data), then the record, then the directory."""
    import fcntl

    lock_dir = config.run_root / "containers"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{cid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its creator (or another reconciler) is at work
        names = containers.creating_volumes(cid)
        if names is None:
            return
        for name in names:
            with contextlib.suppress(OrlopError):
                volumes.remove(name, force=True)
        containers.delete_creating(cid)
        with contextlib.suppress(OSError):  # a mount left inside stops it
            remove_path(config.containers_dir / cid)
        unlink_run_files(config.run_root, cid)
    finally:
        os.close(fd)


def unlink_run_files(run_root: Path, cid: str, *, exit_file: bool = False) -> None:
    """The container's lock, stdin FIFO and fifo (and its ``.exit`` file if asked)."""
    for suffix in (".lock", ".stdin", ".fifo", *((".exit",) if exit_file else ())):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(run_root / "containers" / f"{cid}{suffix}")
