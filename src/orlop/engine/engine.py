"""The Engine facade used by the CLI (and later the API server).

It is the only place where images, volumes, the state store and the runtime meet.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orlop.config import EngineConfig
from orlop.engine import store
from orlop.engine.models import Container, ContainerConfig, HostConfig, RunOptions
from orlop.engine.timefmt import ZERO_TIME, now_rfc3339
from orlop.errors import (
    ConflictError,
    ContainerStateError,
    InvalidParameterError,
    OrlopError,
    PermissionDeniedError,
)
from orlop.state import Database

if TYPE_CHECKING:
    from orlop.engine.runner import Stdio
    from orlop.images.store import ImageStore
    from orlop.volumes.service import VolumeService

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _validate_container_name(name: str) -> None:
    """Docker's rule: ``/?[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""
    n = name.removeprefix("/")
    if len(n) < 2 or not n[0].isalnum() or not n.isascii() or not set(n) <= _NAME_OK:
        raise InvalidParameterError(
            f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        for d in (config.root, config.run_root):
            try:
                os.makedirs(d, mode=0o711, exist_ok=True)
            except OSError as err:
                raise PermissionDeniedError(
                    f"cannot use {d} as the engine's root: {err.strerror}") from err
        if not os.access(config.root, os.W_OK) or _read_only_fs(config.root):
            raise PermissionDeniedError(
                f"cannot use {config.root} as the engine's root: not writable")
        self.db = Database(config.db_path)
        self._reconciled = False

    @cached_property
    def images(self) -> ImageStore:
        from orlop.images.store import ImageStore

        return ImageStore(self.config, self.db)

    @cached_property
    def volumes(self) -> VolumeService:
        from orlop.volumes.service import VolumeService

        return VolumeService(self.config, self.db)

    def close(self) -> None:
        self.db.close()

    # --- reconciliation -----------------------------------------------------

    def reconcile(self) -> None:
        """Mark containers whose monitor died as exited and release their volumes.

        Cheap when nothing is wrong: one query for running containers and one
        non-blocking flock per running container.
        """
        if self._reconciled:
            return
        self._reconciled = True
        from orlop.engine.runner import is_locked

        with self.db.read() as conn:
            running = [r["id"] for r in conn.execute(
                "SELECT id FROM containers WHERE status = 'running'")]
        dead = [cid for cid in running if not is_locked(self.config.run_root, cid)]
        for cid in dead:
            with self.db.write() as conn:
                row = conn.execute("SELECT status FROM containers WHERE id = ?",
                                   (cid,)).fetchone()
                if row is None or row["status"] != "running" or \
                        is_locked(self.config.run_root, cid):
                    continue
                store.set_state(conn, cid, status="exited", pid=0, exit_code=137,
                                finished_at=now_rfc3339(),
                                error="the container's monitor process died")
        if dead:
            alive = {cid for cid in running if cid not in dead}
            self.volumes.reconcile(alive)

    # --- containers ---------------------------------------------------------

    def create_container(self, opts: RunOptions) -> Container:
        """Validate everything, create missing volumes, then record the container atomically."""
        from orlop.engine.mountpoints import (
            parse_user_specs,
            register_mount_points,
            rollback,
            volumes_from_sources,
        )

        self.reconcile()
        if opts.name:
            _validate_container_name(opts.name)
        if opts.network not in ("none", "host"):
            raise InvalidParameterError(
                f"network {opts.network} not found (Orlop supports --network none and host)")
        parse_user_specs(opts)  # every spec checked before the image lookup creates nothing
        image = self.images.get(opts.image)
        img_cfg = image.container_config
        image_volumes = sorted((img_cfg.get("Volumes") or {}).keys())
        with self.db.read() as conn:
            sources = volumes_from_sources(conn, opts.volumes_from)
            if opts.name:
                owner = conn.execute("SELECT id FROM containers WHERE name = ?",
                                     (opts.name.removeprefix("/"),)).fetchone()
                if owner is not None:
                    from orlop.errors import NameConflictError

                    raise NameConflictError(opts.name.removeprefix("/"), owner["id"])
        cid = secrets.token_hex(32)
        plan = register_mount_points(self.volumes, opts, image_volumes, sources)
        from orlop.engine.names import random_name

        name = opts.name.removeprefix("/") or random_name()
        c = Container(
            id=cid, name=name, image_id=image.id, image_ref=opts.image, created=now_rfc3339(),
            config=ContainerConfig(
                hostname=opts.hostname or cid[:12], user=opts.user, env=list(opts.env),
                cmd=list(opts.command) or None, entrypoint=opts.entrypoint, image=opts.image,
                working_dir=opts.working_dir, volumes=plan.config_volumes,
                labels=dict(opts.labels), tty=opts.tty, open_stdin=opts.interactive),
            host_config=HostConfig(
                binds=plan.binds, mounts=plan.api_mounts, tmpfs=plan.tmpfs,
                volumes_from=list(opts.volumes_from) or None, network_mode=opts.network,
                auto_remove=opts.auto_remove, runtime=opts.runtime or self.config.runtime,
                readonly_rootfs=opts.read_only),
            status="created", pid=0, exit_code=0, started_at=ZERO_TIME, finished_at=ZERO_TIME,
            error="", runtime=opts.runtime or self.config.runtime,
        )
        cdir = self.config.containers_dir / cid
        try:
            cdir.mkdir(parents=True, mode=0o700)
            # The overlay's root directory takes the upper dir's mode: 0755 like an image's /.
            for sub in ("diff", "work", "rootfs"):
                (cdir / sub).mkdir(mode=0o755)
            rows = [(mp.destination, mp.type, mp.name or None, mp.to_json())
                    for mp in plan.points]
            for attempt in range(2):
                try:
                    with self.db.write() as conn:
                        store.insert(conn, c, rows)
                    break
                except sqlite3.IntegrityError:
                    # A racing `volume rm` deleted a volume between ensure() and our
                    # insert (the foreign key caught it): recreate and try once more.
                    if attempt:
                        raise ConflictError(
                            "a volume of this container was removed while it was being "
                            "created") from None
                    for mp in plan.points:
                        if mp.type == "volume" and mp.name:
                            self.volumes.ensure(mp.name, mp.driver or "local")
        except BaseException:
            rollback(plan, self.volumes)
            shutil.rmtree(cdir, ignore_errors=True)
            raise
        return c

    def get_container(self, ref: str) -> Container:
        self.reconcile()
        with self.db.read() as conn:
            return store.resolve(conn, ref)

    def list_containers(self, all_: bool = False) -> list[Container]:
        self.reconcile()
        with self.db.read() as conn:
            cs = store.list_all(conn)
        return cs if all_ else [c for c in cs if c.status == "running"]

    def mount_points(self, container_id: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return store.mount_points(conn, container_id)

    def start_attached(self, ref: str, stdio: Stdio, *, interactive: bool) -> int:
        """Start a created or exited container in the foreground and wait for it."""
        from orlop.engine.runner import run_foreground

        c = self.get_container(ref)
        if c.status == "running":
            raise ContainerStateError(f"container {c.id} is already running")
        try:
            return run_foreground(self, c, stdio, interactive=interactive)
        finally:
            if c.host_config.auto_remove:
                with contextlib.suppress(OrlopError):
                    self.remove_container(c.id, force=True, volumes=True)

    def run(self, opts: RunOptions, stdio: Stdio) -> int:
        c = self.create_container(opts)
        return self.start_attached(c.id, stdio, interactive=opts.interactive)

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        """Remove a container; with ``volumes`` also its anonymous volumes no one else uses.

        Named volumes are never removed implicitly (Docker's rule).
        """
        from orlop.engine.runner import is_locked

        c = self.get_container(ref)
        if c.status == "running" and is_locked(self.config.run_root, c.id):
            if not force:
                raise ConflictError(
                    f"You cannot remove a running container {c.id}. Stop the container "
                    "before attempting removal or force remove")
            self.kill_container(c)
        with self.db.write() as conn:
            vols = store.delete(conn, c.id)
            anon = {r["name"] for r in conn.execute(
                "SELECT name FROM volumes WHERE anonymous = 1")}
        shutil.rmtree(self.config.containers_dir / c.id, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.config.run_root / "containers" / f"{c.id}.lock")
        if volumes:
            for name in vols:
                if name in anon:
                    # Still used by another container (--volumes-from): kept, as Docker.
                    with contextlib.suppress(OrlopError):
                        self.volumes.remove(name)
        return c.name

    def kill_container(self, c: Container) -> None:
        """SIGKILL the container's PID 1 and wait until its monitor has let go."""
        import signal
        import time

        from orlop.engine.runner import is_locked

        if c.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_locked(self.config.run_root, c.id) and time.monotonic() < deadline:
            time.sleep(0.01)

    def inspect_container(self, ref: str) -> dict[str, Any]:
        from orlop.engine.inspect import container_json

        c = self.get_container(ref)
        image = self.images.get(c.image_id)
        return container_json(self, c, self.mount_points(c.id),
                              self.images.layer_dirs(image))


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
