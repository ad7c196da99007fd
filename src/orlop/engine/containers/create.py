"""``create``: validate everything, create missing volumes, then record the container.

Every flag is checked, and every mount spec parsed once (parse_user_specs), before
anything exists: a bad flag leaves no record, no volume and no directory behind.

Crash safety (a CLI killed with SIGKILL at any point of :func:`create`): the record
comes first, in the 'creating' state, under the container's lock; every anonymous
volume is written into it before it is made.  If the creator dies, the lock goes with
it and the next command's reconciliation removes the record, those volumes and the
directory (engine/containers/remove.py ``remove_half_created``).  Nothing of the
container exists outside the store before the record does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from orlop.engine import store
from orlop.engine.containers.hostopts import DEFAULT_SHM_SIZE
from orlop.engine.models import Container, ContainerConfig, HostConfig
from orlop.engine.runoptions import RunOptions
from orlop.engine.timefmt import ZERO_TIME, now_rfc3339
from orlop.errors import ConflictError, InvalidParameterError
from orlop.state import inflight
from orlop.state.sqlite import sqlite3
from orlop.volumes.fsutil import remove_path

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.containers.mountpoints import MountPlan
    from orlop.engine.net.options import NetPlan
    from orlop.engine.services import Services
    from orlop.engine.store import ContainerStore
    from orlop.images.store import Image
    from orlop.volumes.model import Volume
    from orlop.volumes.service import VolumeService


def create(svc: Services, opts: RunOptions) -> Container:
    """Validate everything, create missing volumes, then record the container atomically."""
    from orlop.engine.containers.mountpoints import (
        parse_user_specs,
        register_mount_points,
        rollback,
        volumes_from_sources,
    )
    from orlop.engine.containers.remove import unlink_run_files

    config = svc.config
    if opts.name:
        from orlop.engine.containers.names import validate_container_name

        validate_container_name(opts.name)
    validate_options(opts)
    from orlop.engine.net import options as netopts

    # Every spec checked before the image lookup creates nothing.
    specs = parse_user_specs(opts, config.root)
    image = svc.images.get(opts.image)
    if opts.platform:
        from orlop.engine.containers.hostopts import check_platform

        check_platform(opts.platform, opts.image, str(image.config.get("os") or "linux"),
                       str(image.config.get("architecture") or ""))
    img_cfg = image.container_config
    net = netopts.check(svc.containers, svc.networks, opts,
                        img_cfg.get("ExposedPorts") or None)
    link_plan = None
    if opts.links or opts.endpoint_links:
        from orlop.engine.net import links

        link_plan = links.plan(svc.containers, opts)
    image_volumes = sorted((img_cfg.get("Volumes") or {}).keys())
    with svc.containers.read() as conn:
        sources = volumes_from_sources(conn, specs.volumes_from)
        name = opts.name.removeprefix("/")
        if name:
            store.check_name_free(conn, name)
        else:
            name = _free_random_name(conn)
    from orlop.randomness import token_hex

    cid = token_hex(32)
    runtime = opts.runtime or config.runtime

    fault = os.environ.get("ORLOP_FAULT")  # tests only: die at a named point
    from orlop.engine.containers.procio import container_lock

    with inflight.operation(config.root), container_lock(config.run_root, cid):
        with svc.containers.write() as conn:
            store.insert(conn, _build(cid, name, runtime, image, opts, net, None, "creating"),
                         [])
            # Addresses in the same transaction: concurrent creates queue here.
            joined = [svc.networks.connect_in(conn, cid, name, req) for req in net.requests]
            if link_plan is not None:
                links.record(conn, cid, link_plan, joined)
        _fault(fault, "create.after_insert")
        cdir = config.containers_dir / cid
        plan = None
        try:
            plan = register_mount_points(
                _RecordingVolumes(svc.containers, svc.volumes, cid), specs,
                image_volumes, sources)
            _fault(fault, "create.after_volumes")
            os.makedirs(config.containers_dir, 0o710, exist_ok=True)  # as Docker's
            cdir.mkdir(mode=0o700)
            # The overlay's root directory takes the upper dir's mode: 0755 like an
            # image's /.
            for sub in ("diff", "work", "rootfs"):
                (cdir / sub).mkdir(mode=0o755)
            _fault(fault, "create.after_dirs")
            c = _build(cid, name, runtime, image, opts, net, plan, "created")
            rows = [(mp.destination, mp.type, mp.name or None, mp.to_json())
                    for mp in plan.points]
            for attempt in range(2):
                try:
                    with svc.containers.write() as conn:
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
                            svc.volumes.ensure(mp.name, mp.driver or "local")
        except BaseException:
            if plan is not None:
                rollback(plan, svc.volumes)
            with contextlib.suppress(OSError):  # a mount left inside stops it
                remove_path(cdir)
            svc.containers.delete_creating(cid)
            unlink_run_files(config.run_root, cid)
            raise
    svc.events.container(c, "create")
    return c


def _free_random_name(conn: sqlite3.Connection) -> str:
    """A random name no container has: dockerd's retries (``namesgenerator``: the plain
    ``adjective_surname`` first, then with a digit added); with a few hundred containers
    the plain names collide often enough that a create without a name must not fail."""
    from orlop.engine.containers.names import random_name
    from orlop.errors import NameConflictError

    for retry in range(_NAME_RETRIES):
        name = random_name(retry)
        try:
            store.check_name_free(conn, name)
        except NameConflictError:
            continue
        return name
    return random_name(_NAME_RETRIES)  # a conflict here is reported at the insert


_NAME_RETRIES = 6  # as moby's daemon/names.go


def _build(cid: str, name: str, runtime: str, image: Image, opts: RunOptions,
           net: NetPlan, plan: MountPlan | None, status: str) -> Container:
    """The record: first without its mounts ('creating'), then with them."""
    from orlop.engine.containers.health import merge as merge_healthcheck

    return Container(
        id=cid, name=name, image_id=image.id, image_ref=opts.image,
        created=now_rfc3339(),
        config=ContainerConfig(
            hostname=opts.hostname or (_host_name() if opts.uts_mode == "host" else "")
            or net.default_hostname or cid[:12],
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
            mounts=plan.mounts if plan else None,
            tmpfs=plan.tmpfs if plan else None,
            volumes_from=list(opts.volumes_from) or None, network_mode=net.mode,
            auto_remove=opts.auto_remove, runtime=runtime,
            readonly_rootfs=opts.read_only, container_id_file=opts.container_id_file,
            restart_policy=restart_policy(opts.restart),
            log_config={"Type": opts.log_driver or "json-file", "Config": dict(opts.log_opts)},
            memory=opts.memory, memory_swap=opts.memory_swap, pids_limit=opts.pids_limit or None,
            nano_cpus=opts.nano_cpus, cap_add=list(opts.cap_add) or None,
            cap_drop=list(opts.cap_drop) or None, init=opts.init or None,
            security_opt=list(opts.security_opt) or None,
            sysctls=dict(opts.sysctls) or None,
            port_bindings=net.port_bindings or None, publish_all=opts.publish_all,
            dns=list(opts.dns) or None, dns_search=list(opts.dns_search) or None,
            dns_options=list(opts.dns_options) or None,
            extra_hosts=list(opts.add_host) or None,
            shm_size=opts.shm_size or DEFAULT_SHM_SIZE, cpu_shares=opts.cpu_shares,
            cpuset_cpus=opts.cpuset_cpus, devices=[d.to_api() for d in opts.devices],
            device_cgroup_rules=list(opts.device_cgroup_rules) or None,
            ulimits=[u.to_api() for u in opts.ulimits], pid_mode=opts.pid_mode,
            uts_mode=opts.uts_mode, cgroupns_mode=opts.cgroupns_mode or "host",
            group_add=list(opts.group_add) or None, volume_driver=opts.volume_driver,
            isolation=opts.isolation, memory_swappiness=opts.memory_swappiness,
            ipc_mode=opts.ipc_mode or "private", userns_mode=opts.userns_mode),
        status=status, pid=0, exit_code=0, started_at=ZERO_TIME,
        finished_at=ZERO_TIME, error="", runtime=runtime,
    )


def _host_name() -> str:
    """``--uts host``: the container's hostname is the host's (Docker's Config.Hostname)."""
    import socket

    return socket.gethostname()


def _fault(fault: str | None, point: str) -> None:
    """ORLOP_FAULT=<point>: die here as SIGKILL would (crash-safety tests)."""
    if fault == point:
        inflight.fault(point)


class _RecordingVolumes:
    """The volume service as :func:`create` hands it to register_mount_points: the
    name of an anonymous volume is written into the 'creating' record before the
    volume is made, so a killed creator's volumes can be found and removed."""

    def __init__(self, containers: ContainerStore, volumes: VolumeService, cid: str) -> None:
        self._containers = containers
        self._volumes = volumes
        self._cid = cid
        self._names: list[str] = []

    def ensure(self, name: str | None = None, driver: str = "local",
               options: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, *, anonymous: bool = False
               ) -> tuple[Volume, bool]:
        if anonymous and name:
            # A fresh random name: if it exists after a crash, this creator made it.
            self._names.append(name)
            self._containers.set_creating_volumes(self._cid, self._names)
        return self._volumes.ensure(name, driver, options, labels, anonymous=anonymous)

    def remove(self, name: str, force: bool = False) -> None:
        self._volumes.remove(name, force)

    def snapshot_path(self, volume: str, snapshot: str) -> str:
        from orlop.volumes.snapshots import SnapshotStore

        return SnapshotStore(self._volumes).data_path(volume, snapshot)


def restart_policy(text: str) -> dict[str, Any]:
    name, _, count = (text or "no").partition(":")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def validate_options(opts: RunOptions) -> None:
    """Docker's checks of run/create flags, before anything is created."""
    from orlop.engine.containers.hostopts import check_runtime, validate_host_options
    from orlop.engine.containers.lifecycle import parse_signal

    validate_host_options(opts)
    check_runtime(opts.runtime)
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
    if opts.memory_swap > 0 and not opts.memory:
        raise InvalidParameterError("You should always set the Memory limit when using "
                                    "Memoryswap limit, see usage")
    if opts.memory_swap > 0 and opts.memory_swap < opts.memory:
        raise InvalidParameterError("Minimum memoryswap limit should be larger than memory "
                                    "limit, see usage")
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
