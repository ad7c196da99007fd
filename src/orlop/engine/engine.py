"""The Engine facade used by the CLI (and later the API server).

It is the only place where images, volumes, the state store and the runtime meet.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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
from orlop.state import Database, inflight
from orlop.state.layout import prepare_root

if TYPE_CHECKING:
    from orlop.engine.containers.mountpoints import MountPlan
    from orlop.engine.containers.procio import Stdio
    from orlop.engine.events import EventLog
    from orlop.engine.files.changes import Change
    from orlop.images.store import ImageStore
    from orlop.network.service import NetworkService
    from orlop.volumes.model import Volume
    from orlop.volumes.service import VolumeService

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def validate_container_name(name: str) -> None:
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
                if d == config.root:
                    prepare_root(d)  # 0710 as Docker's; repairs a root of an older Orlop
                else:
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

        store = ImageStore(self.config, self.db)
        store.on_event = self._image_event
        return store

    @cached_property
    def volumes(self) -> VolumeService:
        """The volume service, once the state is reconciled: a `volume rm` right after a
        killed `run` must not find the volume "in use" by references the kill left."""
        from orlop.volumes.service import VolumeService

        service = VolumeService(self.config, self.db)
        service.on_event = self.events.volume
        self.__dict__["volumes"] = service  # reconcile() uses it: no second one
        self.reconcile()
        return service

    @cached_property
    def networks(self) -> NetworkService:
        from orlop.network.service import NetworkService

        service = NetworkService(self.config, self.db)
        service.on_event = self.events.network
        return service

    @cached_property
    def events(self) -> EventLog:
        """The event log (engine/events.py): every verb records Docker's events in it."""
        from orlop.engine.events import EventLog

        return EventLog(self.config.root)

    def _image_event(self, image_id: str, action: str, name: str) -> None:
        """Image events carry the image's labels (moby LogImageEvent), unless it is gone."""
        labels: dict[str, str] = {}
        if action != "delete":
            with contextlib.suppress(OrlopError):
                cfg = self.images.get(image_id).config.get("config") or {}
                labels = {str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()}
        self.events.image(image_id, action, name, labels)

    def close(self) -> None:
        if "events" in self.__dict__:
            self.events.close()
        self.db.close()

    def skip_reconcile(self) -> None:
        """For a container's own monitor: it must not take its container for dead."""
        self._reconciled = True

    # --- reconciliation -----------------------------------------------------

    def reconcile(self, force: bool = False) -> None:
        """Repair what a killed monitor or CLI left behind.

        Cheap when nothing is wrong: one query for live containers, one non-blocking
        flock each, and one listdir of the operation markers (state/inflight.py).  For a
        container whose monitor died: kill what is left of it (by its cgroup, never by a
        pid that may have been reused), mark it exited, and remove it if it was --rm.  A
        container whose creator died is removed with the anonymous volumes it was making.
        Whenever something died (a monitor, a creator, or any process in the middle of an
        operation), the full repair (:meth:`repair`) follows.
        """
        if self._reconciled and not force:
            return
        self._reconciled = True
        from orlop.engine.containers.procio import is_locked

        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, pid, status FROM containers WHERE status IN "
                "('running', 'paused', 'restarting', 'creating')").fetchall()
        live = [(r["id"], r["pid"]) for r in rows if r["status"] != "creating"]
        half = [r["id"] for r in rows if r["status"] == "creating"
                and not is_locked(self.config.run_root, r["id"])]
        for cid in half:
            self._remove_half_created(cid)
        dead = [cid for cid, _pid in live if not is_locked(self.config.run_root, cid)]
        removed = []
        for cid in dead:
            from orlop.engine.containers.cgroups import Cgroup

            cg = Cgroup(cid)
            oom = cg.oom_killed() if cg.exists() else False
            if cg.exists():
                cg.kill_all()
                cg.destroy()
            with self.db.write() as conn:
                c = store.get_by_id(conn, cid)
                if c is None or not c.alive or is_locked(self.config.run_root, cid):
                    continue
                store.set_state(conn, cid, status="exited", pid=0, exit_code=137,
                                finished_at=now_rfc3339(), oom_killed=int(oom),
                                error="the container's monitor process died")
            self.events.died(c, 137, c.started_at)
            if c.host_config.auto_remove:
                removed.append(cid)
        if dead or half or inflight.dead_markers(self.config.root):
            self.repair()
        if os.path.isdir(self.config.run_root / "netns"):
            from orlop.engine.net.setup import sweep

            sweep(self.config, lambda cid: not is_locked(self.config.run_root, cid))
        for cid in removed:
            with contextlib.suppress(OrlopError):
                self.remove_container(cid, force=True, volumes=True)

    def repair(self) -> None:
        """The full reconciliation, after a kill (engine/repair.py): what each step of
        an interrupted operation can leave -- volume staging and trash directories,
        half-imported volumes, rows without directories, references held by containers
        that are gone or not running, driver mounts nobody uses, subpath pins, host
        mounts of containers that are gone, container directories without a record, run
        files and old ``.exit`` files, staging directories under ``tmp/``."""
        from orlop.engine.repair import repair

        with inflight.operation(self.config.root):  # a kill in here: the next one repairs
            repair(self)

    def _remove_half_created(self, cid: str) -> None:
        """A container whose creator died before finishing create_container: remove the
        anonymous volumes it recorded (only if no container references them: never
        another container's data), then the record, then the directory."""
        import fcntl
        import json

        lock_dir = self.config.run_root / "containers"
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_dir / f"{cid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its creator (or another reconciler) is at work
            with self.db.read() as conn:
                row = conn.execute("SELECT status, creating_volumes FROM containers "
                                   "WHERE id = ?", (cid,)).fetchone()
            if row is None or row["status"] != "creating":
                return
            for name in json.loads(row["creating_volumes"] or "[]"):
                with contextlib.suppress(OrlopError):
                    self.volumes.remove(name, force=True)
            with self.db.write() as conn:
                conn.execute("DELETE FROM containers WHERE id = ? AND status = 'creating'",
                             (cid,))
            shutil.rmtree(self.config.containers_dir / cid, ignore_errors=True)
            _unlink_run_files(self.config.run_root, cid)
        finally:
            os.close(fd)

    # --- containers ---------------------------------------------------------

    def create_container(self, opts: RunOptions) -> Container:
        """Validate everything, create missing volumes, then record the container atomically."""
        from orlop.engine.containers.mountpoints import (
            parse_user_specs,
            register_mount_points,
            rollback,
            volumes_from_sources,
        )

        self.reconcile()
        if opts.name:
            validate_container_name(opts.name)
        _validate_lifecycle_options(opts)
        from orlop.engine.net import options as netopts

        # Every spec checked before the image lookup creates nothing.
        parse_user_specs(opts, self.config.root)
        image = self.images.get(opts.image)
        img_cfg = image.container_config
        net = netopts.check(self, opts, img_cfg.get("ExposedPorts") or None)
        image_volumes = sorted((img_cfg.get("Volumes") or {}).keys())
        with self.db.read() as conn:
            sources = volumes_from_sources(conn, opts.volumes_from)
            if opts.name:
                owner = conn.execute("SELECT id FROM containers WHERE name = ?",
                                     (opts.name.removeprefix("/"),)).fetchone()
                if owner is not None:
                    from orlop.errors import NameConflictError

                    raise NameConflictError(opts.name.removeprefix("/"), owner["id"])
        import secrets  # here: 3 ms of imports (hmac, base64) that exec never needs

        from orlop.engine.containers.health import merge as merge_healthcheck

        cid = secrets.token_hex(32)
        name = opts.name.removeprefix("/")
        if not name:
            from orlop.engine.containers.names import random_name

            name = random_name()
        runtime = opts.runtime or self.config.runtime

        def build(plan: MountPlan | None, status: str) -> Container:
            return Container(
                id=cid, name=name, image_id=image.id, image_ref=opts.image,
                created=now_rfc3339(),
                config=ContainerConfig(
                    hostname=opts.hostname or net.default_hostname or cid[:12],
                    user=opts.user, env=list(opts.env),
                    cmd=list(opts.command) or None, entrypoint=opts.entrypoint,
                    image=opts.image, working_dir=opts.working_dir,
                    volumes=plan.config_volumes if plan else None,
                    labels=dict(opts.labels), tty=opts.tty, open_stdin=opts.interactive,
                    stop_signal=opts.stop_signal, stop_timeout=opts.stop_timeout,
                    exposed_ports=net.exposed_ports or None, domainname=opts.domainname,
                    mac_address=opts.mac_address,
                    healthcheck=merge_healthcheck(
                        opts.healthcheck, image.container_config.get("Healthcheck"))),
                host_config=HostConfig(
                    binds=plan.binds if plan else None,
                    mounts=plan.api_mounts if plan else None,
                    tmpfs=plan.tmpfs if plan else None,
                    volumes_from=list(opts.volumes_from) or None, network_mode=net.mode,
                    auto_remove=opts.auto_remove, runtime=runtime,
                    readonly_rootfs=opts.read_only,
                    restart_policy=_restart_policy(opts.restart),
                    log_config={"Type": "json-file", "Config": dict(opts.log_opts)},
                    memory=opts.memory, pids_limit=opts.pids_limit or None,
                    nano_cpus=opts.nano_cpus, cap_add=list(opts.cap_add) or None,
                    cap_drop=list(opts.cap_drop) or None, init=opts.init or None,
                    security_opt=list(opts.security_opt) or None,
                    sysctls=dict(opts.sysctls) or None,
                    port_bindings=net.port_bindings or None, publish_all=opts.publish_all,
                    dns=list(opts.dns) or None, dns_search=list(opts.dns_search) or None,
                    dns_options=list(opts.dns_options) or None,
                    extra_hosts=list(opts.add_host) or None,
                    volume_driver=opts.volume_driver),
                status=status, pid=0, exit_code=0, started_at=ZERO_TIME,
                finished_at=ZERO_TIME, error="", runtime=runtime,
            )

        # Crash safety (a CLI killed with SIGKILL at any point of this method): the record
        # comes first, in the 'creating' state, under the container's lock; every
        # anonymous volume is written into it before it is made.  If this process dies,
        # the lock goes with it and the next command's reconcile() removes the record,
        # those volumes and the directory (_remove_half_created).  Nothing of the
        # container exists outside the store before the record does.
        fault = os.environ.get("ORLOP_FAULT")  # tests only: die at a named point
        from orlop.engine.containers.procio import container_lock

        with inflight.operation(self.config.root), \
                container_lock(self.config.run_root, cid):
            with self.db.write() as conn:
                store.insert(conn, build(None, "creating"), [])
                # Addresses in the same transaction: concurrent creates queue here.
                for req in net.requests:
                    self.networks.connect_in(conn, cid, name, req)
            _fault(fault, "create.after_insert")
            cdir = self.config.containers_dir / cid
            plan = None
            try:
                plan = register_mount_points(
                    cast("VolumeService", _RecordingVolumes(self, cid)), opts,
                    image_volumes, sources, self.config.root)
                _fault(fault, "create.after_volumes")
                os.makedirs(self.config.containers_dir, 0o710, exist_ok=True)  # as Docker's
                cdir.mkdir(mode=0o700)
                # The overlay's root directory takes the upper dir's mode: 0755 like an
                # image's /.
                for sub in ("diff", "work", "rootfs"):
                    (cdir / sub).mkdir(mode=0o755)
                _fault(fault, "create.after_dirs")
                c = build(plan, "created")
                rows = [(mp.destination, mp.type, mp.name or None, mp.to_json())
                        for mp in plan.points]
                for attempt in range(2):
                    try:
                        with self.db.write() as conn:
                            store.finish_create(conn, c, rows)
                        break
                    except sqlite3.IntegrityError:
                        # A racing `volume rm` deleted a volume between ensure() and this
                        # transaction (the foreign key caught it): recreate, try once more.
                        if attempt:
                            raise ConflictError(
                                "a volume of this container was removed while it was "
                                "being created") from None
                        for mp in plan.points:
                            if mp.type == "volume" and mp.name:
                                self.volumes.ensure(mp.name, mp.driver or "local")
            except BaseException:
                if plan is not None:
                    rollback(plan, self.volumes)
                shutil.rmtree(cdir, ignore_errors=True)
                with self.db.write() as conn:
                    conn.execute("DELETE FROM containers WHERE id = ? AND status = 'creating'",
                                 (cid,))
                _unlink_run_files(self.config.run_root, cid)
                raise
        self.events.container(c, "create")
        return c

    def get_container(self, ref: str) -> Container:
        self.reconcile()
        with self.db.read() as conn:
            return store.resolve(conn, ref)

    def list_containers(self, all_: bool = False) -> list[Container]:
        self.reconcile()
        with self.db.read() as conn:
            cs = store.list_all(conn)
        return cs if all_ else [c for c in cs if c.alive]

    def mount_points(self, container_id: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return store.mount_points(conn, container_id)

    def start_attached(self, ref: str, stdio: Stdio, *, interactive: bool) -> int:
        """Start a created or exited container in the foreground and wait for it."""
        from orlop.engine.containers.runner import run_foreground

        c = self.get_container(ref)
        if c.alive:
            raise ContainerStateError(f"container {c.id} is already running")
        self._reset_for_start(c)
        self.events.container(c, "attach")
        try:
            return run_foreground(self, c, stdio, interactive=interactive)
        finally:
            if c.host_config.auto_remove:
                with contextlib.suppress(OrlopError):
                    self.remove_container(c.id, force=True, volumes=True)

    def start_detached(self, ref: str) -> Container:
        """Start a container under its own monitor process and return at once.

        Starting a running container does nothing (Docker's behaviour)."""
        from orlop.engine.containers.monitor import start_detached

        c = self.get_container(ref)
        if c.alive:
            return c
        self._reset_for_start(c)
        start_detached(self, c)
        return c

    def _reset_for_start(self, c: Container) -> None:
        """A start by hand clears stop/kill's mark and the restart count (Docker)."""
        if c.manually_stopped or c.restart_count:
            with self.db.write() as conn:
                store.set_state(conn, c.id, manually_stopped=0, restart_count=0)

    def run(self, opts: RunOptions, stdio: Stdio) -> int:
        c = self.create_container(opts)
        return self.start_attached(c.id, stdio, interactive=opts.interactive)

    def run_detached(self, opts: RunOptions) -> Container:
        c = self.create_container(opts)
        try:
            return self.start_detached(c.id)
        except OrlopError:
            if opts.auto_remove:
                with contextlib.suppress(OrlopError):
                    self.remove_container(c.id, force=True, volumes=True)
            raise

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False,
                         locked: bool = False) -> str:
        """Remove a container; with ``volumes`` also its anonymous volumes no one else uses.

        Named volumes are never removed implicitly (Docker's rule).  The container's
        lock is held while its record goes, so a racing `start` either started it
        before (and then this is a conflict, or a kill with -f) or finds no record.
        ``locked``: the caller (its own monitor) already holds the lock.
        """
        c = self.get_container(ref)
        with inflight.operation(self.config.root):
            return self._remove_container(c, ref, force=force, volumes=volumes,
                                          locked=locked)

    def _remove_container(self, c: Container, ref: str, *, force: bool, volumes: bool,
                          locked: bool) -> str:
        import fcntl
        import time

        fd = -1
        if not locked:
            lock_dir = self.config.run_root / "containers"
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
                self.kill_container(c)
                killed = True
            self.volumes.release_plugin_refs(c.id)  # a plugin's Unmount that failed at stop
            with self.db.write() as conn:
                if store.get_by_id(conn, c.id) is None:
                    if killed and c.host_config.auto_remove:
                        # A --rm container removes itself once killed (its monitor or
                        # attached runner did it, with its volumes): what was asked is done.
                        return c.name
                    from orlop.errors import ContainerNotFoundError

                    raise ContainerNotFoundError(ref)
                vols = store.delete(conn, c.id)
                anon = {r["name"] for r in conn.execute(
                    "SELECT name FROM volumes WHERE anonymous = 1")}
            # Record first, then the directory: a kill in between leaves a directory
            # without a record, which the repair removes (engine/repair.py), and a
            # network the sweep tears down (engine/net/setup.py).
            inflight.fault("rm.after_delete")
            from orlop.engine.net.setup import detach

            detach(self.config, c.id)
            shutil.rmtree(self.config.containers_dir / c.id, ignore_errors=True)
            # The exit code stays for `wait` only where the container removed itself.
            _unlink_run_files(self.config.run_root, c.id,
                              exit_file=not c.host_config.auto_remove)
        finally:
            if fd >= 0:
                os.close(fd)
        self.events.container(c, "destroy")
        if volumes:
            for name in vols:
                if name in anon:
                    # Still used by another container (--volumes-from): kept, as Docker.
                    with contextlib.suppress(OrlopError):
                        self.volumes.remove(name)
        return c.name

    def kill_container(self, c: Container) -> None:
        """SIGKILL the container's PID 1 and wait until its monitor has let go (marked
        stopped first, or a restart policy would bring it back: `rm -f` never ended)."""
        from orlop.engine.containers.lifecycle import _mark_stopped, kill_and_wait

        _mark_stopped(self, c.id)
        kill_and_wait(self, c)

    # --- lifecycle verbs (engine/containers/lifecycle.py) ------------------------------------

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
            exit_file = self.config.run_root / "containers" / f"{ref}.exit"
            if len(ref) == 64 and exit_file.exists():
                with contextlib.suppress(OSError, ValueError):
                    return int(exit_file.read_text().strip() or 0)
            raise
        return lifecycle.wait(self, c)

    def pause_container(self, ref: str, paused: bool = True) -> Container:
        from orlop.engine.containers import lifecycle

        c = self.get_container(ref)
        lifecycle.pause(self, c, paused)
        return c

    def rename_container(self, ref: str, new_name: str) -> None:
        from orlop.engine.containers import lifecycle

        lifecycle.rename(self, self.get_container(ref), new_name)

    def top_container(self, ref: str,
                      ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
        from orlop.engine.containers import lifecycle

        return lifecycle.top(self, self.get_container(ref), ps_args)

    def container_changes(self, ref: str) -> list[Change]:
        """``diff``: the container's writable layer against its image (engine/changes)."""
        from orlop.engine.files.changes import container_changes

        return container_changes(self, self.get_container(ref))

    def log_path(self, c: Container) -> Path:
        from orlop.engine.containers.monitor import log_path

        return log_path(self.config, c.id)

    def is_running(self, c: Container) -> bool:
        from orlop.engine.containers.procio import is_locked

        return is_locked(self.config.run_root, c.id)

    def inspect_container(self, ref: str) -> dict[str, Any]:
        from orlop.engine.inspect import container_json

        c = self.get_container(ref)
        image = self.images.get(c.image_id)
        return container_json(self, c, self.mount_points(c.id),
                              self.images.layer_dirs(image))

    # --- data mobility (commit, cp, export, save/load, volume backup) ---------------

    def commit(self, ref: str, reference: str | None, *, changes: list[str] | None = None,
               author: str = "", message: str = "") -> Any:
        """``commit``: the container's writable layer, without volume content, as an image."""
        from orlop.engine.files.commit import commit_container

        return commit_container(self, ref, reference, changes=changes or [], author=author,
                                message=message)

    def copy_out(self, ref: str, src: str, dest: str | None, *, out_fd: int = 1,
                 follow_link: bool = False) -> Any:
        """``cp CONTAINER:SRC DEST`` (``dest`` None: a tar stream on ``out_fd``)."""
        from orlop.engine.files import cp

        if dest is None:
            return cp.copy_out_stream(self, ref, src, out_fd, follow_link=follow_link)
        return cp.copy_out_to_host(self, ref, src, dest, follow_link=follow_link)

    def copy_in(self, ref: str, src: str | None, dest: str, *, in_fd: int = 0,
                archive: bool = False, follow_link: bool = False) -> Any:
        """``cp SRC CONTAINER:DEST`` (``src`` None: a tar stream read from ``in_fd``)."""
        from orlop.engine.files import cp

        if src is None:
            return cp.copy_in_stream(self, ref, dest, in_fd, archive=archive)
        return cp.copy_in_from_host(self, ref, src, dest, archive=archive,
                                    follow_link=follow_link)

    def volume_export(self, name: str, out_fd: int, *, progress: Any = None,
                      checksum: str = "crc32") -> int:
        from orlop.volumes.backup import export_volume

        return export_volume(self.volumes, name, out_fd, progress=progress,
                             checksum=checksum)

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
            self._image_event(image_id, "save", image_id)
        return written

    def load_images(self, stream: Any) -> list[str]:
        """``load``: returns Docker's ``Loaded image: ...`` lines."""
        from orlop.images.load import load_archive

        self.images.reconcile()
        with inflight.operation(self.config.root):  # a kill leaves tmp/load-*, layers
            lines = load_archive(self.images, stream)
        for image_id in _loaded_ids(self.images, lines):
            self._image_event(image_id, "load", image_id)
        return lines


def _loaded_ids(images: ImageStore, lines: list[str]) -> list[str]:
    """The ids of the images ``load`` reported (``Loaded image: ref`` / ``... ID: id``)."""
    ids: dict[str, None] = {}
    for line in lines:
        ref = line.partition(": ")[2].strip()
        with contextlib.suppress(OrlopError):
            ids[images.get(ref).id] = None
    return list(ids)


def _fault(fault: str | None, point: str) -> None:
    """ORLOP_FAULT=<point>: die here as SIGKILL would (crash-safety tests)."""
    if fault == point:
        inflight.fault(point)


def _unlink_run_files(run_root: Path, cid: str, *, exit_file: bool = False) -> None:
    for suffix in (".lock", ".stdin", ".fifo", *((".exit",) if exit_file else ())):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(run_root / "containers" / f"{cid}{suffix}")


class _RecordingVolumes:
    """The volume service as create_container hands it to register_mount_points: the
    name of an anonymous volume is written into the 'creating' record before the
    volume is made, so a killed creator's volumes can be found and removed."""

    def __init__(self, engine: Engine, cid: str) -> None:
        self._engine = engine
        self._cid = cid
        self._names: list[str] = []

    def ensure(self, name: str | None = None, driver: str = "local",
               options: Any = None, labels: Any = None, *, anonymous: bool = False
               ) -> tuple[Volume, bool]:
        if anonymous and name:
            # A fresh random name: if it exists after a crash, this creator made it.
            self._names.append(name)
            with self._engine.db.write() as conn:
                store.set_creating_volumes(conn, self._cid, self._names)
        return self._engine.volumes.ensure(name, driver, options, labels,
                                           anonymous=anonymous)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._engine.volumes, attr)


def _restart_policy(text: str) -> dict[str, Any]:
    name, _, count = (text or "no").partition(":")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _validate_lifecycle_options(opts: RunOptions) -> None:
    """Docker's checks of run/create flags, before anything is created."""
    from orlop.engine.containers.lifecycle import parse_signal

    name, sep, count = (opts.restart or "no").partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidParameterError(f"invalid restart policy '{opts.restart}'")
    if sep:
        if name != "on-failure":
            raise InvalidParameterError(
                f"maximum retry count cannot be used with restart policy '{name}'")
        if not count.isdigit():
            raise InvalidParameterError(f"invalid restart policy '{opts.restart}'")
    if name != "no" and opts.auto_remove:
        raise InvalidParameterError("Conflicting options: --restart and --rm")
    if opts.stop_signal:
        parse_signal(opts.stop_signal)
    if opts.memory and opts.memory < 6 * 1024 * 1024:
        raise InvalidParameterError("Minimum memory limit allowed is 6MB")
    if opts.nano_cpus:
        ncpu = os.cpu_count() or 1
        if opts.nano_cpus < 10_000_000 or opts.nano_cpus > ncpu * 1_000_000_000:
            raise InvalidParameterError(
                f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs "
                "available")
    from orlop.kernel.caps import CAPABILITIES

    for cap in [*opts.cap_add, *opts.cap_drop]:
        key = cap.upper()
        key = key if key.startswith("CAP_") or key == "ALL" else "CAP_" + key
        if key != "ALL" and key not in CAPABILITIES:
            raise InvalidParameterError(f'unknown capability: "{key}"')
    if opts.privileged:
        from orlop.errors import UnsupportedError

        raise UnsupportedError(
            "--privileged is not supported by Orlop: it would give the container every "
            "capability and every host device; use --cap-add for what it needs")
    _validate_security(opts)
    if opts.log_opts:
        from orlop.engine.containers.logs import validate_log_opts

        validate_log_opts(opts.log_opts)
    if opts.init:
        from orlop.engine.containers.runner import find_init

        find_init()


def _validate_security(opts: RunOptions) -> None:
    """--security-opt and --sysctl, checked at create: a container that could never
    start is never made (Docker finds a bad profile or sysctl only at start)."""
    if not opts.security_opt and not opts.sysctls:
        return
    from orlop.engine.security.secopts import parse_security_opts
    from orlop.engine.security.sysctl import validate_sysctls

    sec = parse_security_opts(list(opts.security_opt))
    if sec.seccomp_profile and not sec.seccomp_unconfined:
        from orlop.engine.security.seccomp import resolve

        resolve(sec.seccomp_profile, [])
    # Every container has its own IPC and UTS namespaces; the network one unless
    # --network host.
    validate_sysctls(opts.sysctls, private_ipc=True, private_net=opts.network != "host",
                     private_uts=True)


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
