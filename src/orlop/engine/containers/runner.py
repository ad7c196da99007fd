"""Start a container and wait for it in the foreground: the CLI process is its monitor.

The foreground CLI holds an flock on the container's lock file for as long as the
container runs.  The kernel drops that lock when the CLI dies, however it dies, so
any later `orlop` command can tell a running container from one whose monitor was
killed (see Engine.reconcile) without trusting a pid that may have been reused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import time
from pathlib import Path

from orlop.engine import store
from orlop.engine.containers.bundle import build_spec, process_env
from orlop.engine.containers.cgroups import Cgroup, Resources
from orlop.engine.containers.ownership import apply_ownership
from orlop.engine.containers.procio import (
    _FORWARDED,
    Stdio,
    console_pair,
    container_lock,
    copy_winsize,
    is_locked,
    wait_process,
    winsize_of,
)
from orlop.engine.containers.users import resolve_user
from orlop.engine.files.copyup import copy_up
from orlop.engine.files.initlayer import ensure_mtab
from orlop.engine.models import Container
from orlop.engine.timefmt import now_rfc3339
from orlop.errors import InvalidParameterError, OrlopError, RuntimeFailedError
from orlop.images.configenv import config_env
from orlop.kernel import fs
from orlop.kernel.flags import MNT_DETACH, MountFlag
from orlop.kernel.syscalls import LINUX
from orlop.mounts.plan import sort_mounts
from orlop.mounts.spec import MountPoint
from orlop.state import inflight

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence
    from typing import Any

    from orlop.engine.net.setup import Attachment
    from orlop.engine.services import Services
    from orlop.kernel.syscalls import Syscalls
    from orlop.runtime.spec import Mount, Spec

# Moved to procio (exec needs them without this module's imports); the old names stay.
_copy_winsize = copy_winsize
_wait = wait_process
__all__ = [
    "INIT_PATH",
    "Stdio",
    "container_lock",
    "effective_caps",
    "find_init",
    "finish_cgroup",
    "has_limits",
    "is_locked",
    "launch_in_cgroup",
    "prepare",
    "release_mounts",
    "resources_of",
    "run_foreground",
]


def run_foreground(engine: Services, c: Container, stdio: Stdio, *, interactive: bool) -> int:
    """Start ``c`` and wait for it; returns Docker's exit code for the container.  An
    --rm container is removed before its lock is let go (see :func:`_record_exit`)."""
    cfg = engine.config
    # The operation marker (state/inflight.py): if this CLI is killed, the next command
    # repairs what the start had made (references, mounts, pins).
    with inflight.operation(cfg.root), container_lock(cfg.run_root, c.id):
        mounted: list[str] = []
        try:
            spec, cdir, lowers = prepare(engine, c, mounted)
            runtime = c.runtime or "orlop"
            if runtime == "orlop":
                return _run_builtin(engine, c, cdir, spec, stdio, interactive=interactive)
            cdir = cfg.containers_dir / c.id
            return _run_external(engine, c, cdir, runtime, stdio, interactive=interactive,
                                 lowers=lowers)
        finally:
            release_mounts(engine, c, mounted)
            release_network(engine, c, later=True)
            if c.host_config.auto_remove:
                _remove_self(engine, c)


def _remove_self(engine: Services, c: Container) -> None:
    """An --rm container's removal by its foreground monitor, which holds its lock: no
    other process can take it for a container whose monitor died (its record still
    says it runs, :func:`_record_exit`) or start it again in between."""
    from orlop.engine.containers.remove import remove

    with contextlib.suppress(OrlopError):
        cur = engine.containers.get(c.id)
        if cur is not None:
            remove(engine, cur, c.id, force=True, volumes=True, locked=True)


def release_network(engine: Services, c: Container, later: bool = False) -> None:
    """Tear down what attach() set up (nothing for none/host/container:); ``later``: in
    a detached child, once the container's exit is reported (netsetup.detach_later)."""
    from orlop.engine.net.setup import detach, detach_later

    (detach_later if later else detach)(engine.config, c.id)


def prepare(engine: Services, c: Container,
            mounted: list[str]) -> tuple[Spec, Path, list[Path]]:
    """Mount the container's volumes (names appended to ``mounted`` as they are taken),
    copy image content up into new volumes, and write the bundle."""
    cfg = engine.config
    with engine.db.read() as conn:
        points = [MountPoint.from_json(s) for s in store.mount_points(conn, c.id)]
    image = engine.images.get(c.image_id)
    lowers = engine.images.layer_dirs(image)
    cdir = cfg.containers_dir / c.id
    upper, work, rootfs = cdir / "diff", cdir / "work", cdir / "rootfs"
    names = [mp.name for mp in points if mp.type == "volume" and mp.name]
    if names:
        mounted.extend(names)  # released on any failure below, even a partial mount
        paths = engine.volumes.mount_many(names, c.id)
        engine.events.volume_mounts(c.id, points)
        pins = pins_dir(cfg.run_root)
        points = [_with_source(mp, paths[mp.name], pins) if mp.type == "volume" and mp.name
                  else mp for mp in points]
        inflight.fault("start.after_mount")
    jobs = [(mp.destination, Path(mp.source)) for mp in points
            if mp.type == "volume" and mp.copy_up and not mp.subpath]
    if jobs:
        copy_up(rootfs, lowers, upper, work, jobs, engine.volumes.copy_up)
    points = apply_ownership(engine, c, points, lowers, cdir)  # U: chown to the user
    from orlop.engine.net.links import at_start, refresh_parents
    from orlop.engine.net.setup import attach

    linked = at_start(engine, c)  # before any network: a refused link leaves none
    spec = _spec_for(engine, c, points, lowers, cdir,
                     attach(cfg, engine.networks, engine.containers, c, linked.hosts),
                     linked.env)
    refresh_parents(engine, c, linked.parents)
    if (c.runtime or "orlop") != "orlop":
        from orlop.engine.containers.destcheck import rehearse_mounts

        rehearse_mounts(spec, cdir, lowers, upper)
    # crun/runc read the file; the built-in runtime's launch() gets this same object.
    spec.save(cdir / "config.json", durable=False)  # rewritten at every start
    return spec, cdir, lowers


def release_mounts(engine: Services, c: Container, mounted: list[str]) -> None:
    release_pinned()
    with contextlib.suppress(OrlopError, OSError):
        engine.volumes.unmount_many(mounted, c.id)
        engine.events.volume_unmounts(c.id, mounted)


def resources_of(c: Container) -> Resources:
    hc = c.host_config
    return Resources(memory=hc.memory, pids_limit=hc.pids_limit or 0, nano_cpus=hc.nano_cpus,
                     memory_swap=hc.memory_swap, cpu_shares=hc.cpu_shares,
                     cpuset_cpus=hc.cpuset_cpus,
                     memory_swappiness=-1 if hc.memory_swappiness is None
                     else hc.memory_swappiness)


def has_limits(c: Container) -> bool:
    r = resources_of(c)
    return r.memory > 0 or r.pids_limit > 0 or r.nano_cpus > 0 or r.cpu_shares > 0 \
        or bool(r.cpuset_cpus) or r.memory_swappiness >= 0


def launch_in_cgroup(engine: Services, c: Container, cdir: Path, spec: Spec, *,
                     stdin: int, stdout: int, stderr: int, console_socket: int | None,
                     die_with_parent: bool, console_size: bytes | None = None) -> int:
    """Start the built-in runtime's init parked before execve, move it into the
    container's cgroup, then let it exec: the process never runs a single instruction
    of the image outside its limits.  Returns the host pid of PID 1."""
    from orlop.runtime import launch

    cg = Cgroup(c.id)
    cg.create(resources_of(c))
    fifo = engine.config.run_root / "containers" / f"{c.id}.fifo"
    with contextlib.suppress(FileNotFoundError):
        fifo.unlink()
    os.mkfifo(fifo, 0o600)
    pid = 0
    try:
        # A cgroup namespace is rooted where it is made: the runtime joins the cgroup
        # first (without one, the engine moves the parked init, which costs less).
        joins = cg.procs_paths() if spec.linux.namespace("cgroup") is not None else []
        launched = launch(cdir, spec, stdin=stdin, stdout=stdout,
                          stderr=stderr, console_socket=console_socket,
                          console_size=console_size, wait_for_start=True,
                          exec_fifo=fifo, die_with_parent=die_with_parent,
                          seccomp_cache=seccomp_cache(engine), cgroup_procs=joins)
        pid = launched.pid
        cg.add(pid)
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
        release_pinned()  # the parked init had made every mount: its namespace keeps them
        return pid
    except BaseException as err:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        cg.destroy()
        if isinstance(err, OSError):
            raise RuntimeFailedError(f"cannot start the container: {err}") from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            fifo.unlink()


def finish_cgroup(c: Container) -> bool:
    """Kill what is left of the container, remove its cgroup; returns OOMKilled."""
    cg = Cgroup(c.id)
    if not cg.exists():
        return False
    oom = cg.oom_killed()
    cg.kill_all()
    cg.destroy()
    return oom


# A volume-subpath is checked (openat2 RESOLVE_BENEATH) and, through the fd of that check,
# bind-mounted onto a private directory (run root's pins/<pid>-..., where the repair after
# a kill finds the pins of dead processes with one listdir), as moby does; the runtime
# binds that mount point.  A container sharing the volume can then swap the checked
# directory for a symlink to the host as it likes: what is mounted is the directory that
# was checked (the CVE-2021-30465 class; moby's volume-subpath had the same race).  An fd
# alone cannot be passed: the runtime's new mount namespace refuses to clone a mount of
# ours (EINVAL).  The pin lives until release_pinned(): right after the built-in runtime
# started (its namespace has its own copy), at exit for an external runtime.
PINNED: list[str] = []


def release_pinned() -> None:
    while PINNED:
        path = PINNED.pop()
        with contextlib.suppress(OSError):
            fs.umount2(path, MNT_DETACH)
        with contextlib.suppress(OSError):
            if os.path.isdir(path):
                os.rmdir(path)
            else:
                os.unlink(path)  # the pin of a file subpath


def pins_dir(run_root: Path) -> Path:
    """Where subpath pins live: ``<pid>-<n>-<hex>``, the pid of the process holding it."""
    return run_root / "pins"


def _with_source(mp: MountPoint, volume_path: str, pins: Path | None = None, *,
                 sc: Syscalls = LINUX) -> MountPoint:
    """The mount point with its host source: the volume's path, or a pin of its subpath
    (in ``pins``; beside the volume's ``_data`` when not given).  ``sc``: the kernel."""

    if not mp.subpath:
        return mp.replace(source=volume_path)
    from orlop.kernel.flags import RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS
    from orlop.kernel.fs import openat2

    vfd = os.open(volume_path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        # The subpath must exist and stay inside the volume, symlinks included
        # (RESOLVE_BENEATH refuses "..", absolute symlinks and links that leave it).
        try:
            sfd = openat2(vfd, mp.subpath, os.O_PATH, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
        except OSError as err:
            if err.errno == errno.EXDEV:
                raise RuntimeFailedError(
                    f"cannot access path {mp.subpath} in volume {mp.name}: "
                    "path escapes the volume") from None
            raise RuntimeFailedError(
                f"cannot access path {mp.subpath} in volume {mp.name}: "
                f"{os.strerror(err.errno or 0)}") from None
    finally:
        os.close(vfd)
    try:
        tag = f"{os.getpid()}-{len(PINNED)}-{os.urandom(4).hex()}"
        if pins is None:
            pin = os.path.join(os.path.dirname(volume_path), f".subpath-{tag}")
        else:
            os.makedirs(pins, 0o700, exist_ok=True)
            pin = str(pins / tag)
        # A subpath may name a file (Docker allows it): the pin is then an empty file,
        # and the runtime creates the container's mount target as a file too.
        if stat.S_ISDIR(os.fstat(sfd).st_mode):
            os.mkdir(pin, 0o700)
        else:
            os.close(os.open(pin, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY
                             | os.O_CLOEXEC, 0o600))
        PINNED.append(pin)
        sc.mount(f"/proc/self/fd/{sfd}", pin, None, MountFlag.BIND)
        sc.mount(None, pin, None, MountFlag.PRIVATE)
    finally:
        os.close(sfd)
    return mp.replace(source=pin)


def _external_runtime(exe: str, runtime_args: list[str], cdir: Path, lowers: list[Path],
                      **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``exe runtime_args...`` in a mount namespace of its own, a slave of the
    host's (nothing mounted there reaches the host, the host's unmounts still reach an
    ``rslave`` bind, as with the built-in runtime), with the overlay rootfs mounted
    first by the runtime's own code (runtime/imageroot.py: any number of layers), so no
    container mount reaches the host; on a hybrid cgroup host whose v2 hierarchy holds
    controllers, crun 1.8 refuses to run ("cgroups in hybrid mode not supported"), so
    that mount is hidden in the namespace."""
    import subprocess  # here: the built-in runtime's run never needs it

    from orlop.runtime.imageroot import exec_in_image_root_argv

    argv = [exe, *_runtime_flags(exe), *runtime_args]
    return subprocess.Popen(
        exec_in_image_root_argv(cdir / "rootfs", lowers, cdir / "diff", cdir / "work", argv),
        close_fds=True, **popen)


def external_cgroup(c: Container) -> dict[str, Any]:
    """The limits of a crun/runc container: its cgroup made and limited by the engine (as
    for the built-in runtime), and the runtime started inside it (Popen's preexec_fn, in
    the single-threaded monitor or CLI), so the container inherits it; crun here manages
    no cgroup itself.  ``{}`` without limits."""
    if not has_limits(c):
        return {}
    cg = Cgroup(c.id)
    cg.create(resources_of(c))
    paths = [str(p) for p in cg.procs_paths()]

    def join() -> None:
        for path in paths:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
    return {"preexec_fn": join}


def _spec_for(engine: Services, c: Container, points: list[MountPoint], lowers: list[Path],
              cdir: Path, net: Attachment, link_env: Sequence[str] = ()) -> Spec:
    from orlop.engine.containers.rro import recursive_ro_error
    from orlop.mounts.oci import oci_mount
    from orlop.runtime.spec import Mount

    cfg = c.config
    image = engine.images.get(c.image_id)
    img_cfg = image.container_config
    entrypoint = cfg.entrypoint if cfg.entrypoint is not None else (img_cfg.get("Entrypoint")
                                                                    or [])
    cmd = cfg.cmd if cfg.cmd is not None else (img_cfg.get("Cmd") or [])
    args = [*entrypoint, *cmd]
    if not args:
        raise RuntimeFailedError("no command specified", exit_code=125)
    hc = c.host_config
    user = resolve_user(cfg.user or img_cfg.get("User") or "",
                        [cdir / "diff", *reversed(lowers)], hc.group_add or ())
    hostname = net.hostname
    (cdir / "hostname").write_text(hostname + "\n")
    (cdir / "hosts").write_text(net.hosts)
    (cdir / "resolv.conf").write_text(net.resolv)
    with contextlib.suppress(FileNotFoundError):  # no writable layer: nothing to add
        ensure_mtab(cdir / "diff", lowers)  # moby's init layer has it (files/initlayer.py)
    by_dest = {mp.destination: mp for mp in points}
    rro_error = (recursive_ro_error(c.runtime or engine.config.runtime)
                 if any(not mp.rw for mp in points) else None)
    extra = [oci_mount(by_dest[d], rro_error,
                       source_is_dir=by_dest[d].type == "tmpfs" or os.path.isdir(by_dest[d].source))
             for d in sort_mounts(list(by_dest))]
    extra += [Mount(f"/etc/{name}", "bind", str(cdir / name), ["rbind", "rprivate"])
              for name in ("hostname", "hosts", "resolv.conf")]
    extra += device_mounts(hc.devices)
    if hc.init:
        init = find_init()
        extra.append(Mount(INIT_PATH, "bind", init, ["rbind", "ro", "rprivate"]))
        args = [INIT_PATH, "--", *args]
    env = process_env(config_env(img_cfg.get("Env") or [], cfg.env), hostname, user.home,
                      cfg.tty, linked=link_env)
    spec = build_spec(
        args=args, env=env, cwd=cfg.working_dir or img_cfg.get("WorkingDir") or "/",
        user=user, hostname=hostname, terminal=cfg.tty, rootfs=cdir / "rootfs",
        readonly_rootfs=hc.readonly_rootfs, network=hc.network_mode, netns=net.netns,
        lower_dirs=lowers, upper_dir=cdir / "diff", work_dir=cdir / "work",
        extra_mounts=extra,
    )
    if any(p in ("rslave", "slave", "rshared", "shared") for m in extra for p in m.options):
        # As moby: the root must not be private, or a slave bind never hears the host's
        # unmounts (crun's default is private; the built-in runtime always uses rslave).
        spec.linux.rootfs_propagation = "rslave"
    caps_sets = spec.process.capabilities
    assert caps_sets is not None  # default_spec() always sets them
    if hc.cap_add or hc.cap_drop:
        caps = effective_caps(caps_sets.bounding, hc.cap_add or [], hc.cap_drop or [])
        caps_sets.bounding, caps_sets.effective, caps_sets.permitted = (
            list(caps), list(caps), list(caps))
    _apply_security(spec, hc.security_opt or [], hc.sysctls or {})
    _apply_host_modes(spec, c)
    resources: dict[str, object] = {}
    memory: dict[str, object] = {}
    if hc.memory > 0:
        memory["limit"] = hc.memory
    if hc.memory_swappiness is not None:
        memory["swappiness"] = hc.memory_swappiness
    if memory:
        resources["memory"] = memory
    if hc.pids_limit and hc.pids_limit > 0:
        resources["pids"] = {"limit": hc.pids_limit}
    cpu: dict[str, object] = {}
    if hc.nano_cpus > 0:
        cpu.update(quota=hc.nano_cpus * 100_000 // 1_000_000_000, period=100_000)
    if hc.cpu_shares > 0:
        cpu["shares"] = hc.cpu_shares
    if hc.cpuset_cpus:
        cpu["cpus"] = hc.cpuset_cpus
    if cpu:
        resources["cpu"] = cpu
    if resources:
        spec.linux.extra["resources"] = resources
        spec.linux.cgroups_path = f"/orlop/{c.id}"
    return spec


def device_mounts(devices: list[dict[str, str]]) -> list[Mount]:
    """``--device``: the host's node bound at its container path (the same node, major
    and minor, as the one Docker's runtime makes with mknod; a bind also works where the
    runtime may not mknod).  Orlop keeps no device cgroup, so the node is usable as the
    host's permissions allow; ``r``-only permissions make the bind read-only."""
    from orlop.runtime.spec import Mount

    out = []
    for d in devices:
        opts = ["bind", "rprivate"]
        if "w" not in d.get("CgroupPermissions", "rwm"):
            opts.append("ro")
        out.append(Mount(d["PathInContainer"], "bind", d["PathOnHost"], opts))
    return out


def _apply_host_modes(spec: Spec, c: Container) -> None:
    """--ulimit (process.rlimits), --shm-size (the /dev/shm tmpfs), --pid host and
    --uts host (no namespace of their own), --cgroupns private (one of its own)."""
    from orlop.engine.containers.hostopts import ULIMIT_NAMES
    from orlop.runtime.spec import Namespace, Rlimit

    hc = c.host_config
    if hc.ulimits:
        def raw(v: int) -> int:  # OCI's uint64: Docker's -1 (unlimited) is 2**64 - 1
            return v if v >= 0 else (1 << 64) - 1
        spec.process.rlimits = [Rlimit(ULIMIT_NAMES[u["Name"]], raw(int(u["Hard"])),
                                       raw(int(u["Soft"]))) for u in hc.ulimits]
    for m in spec.mounts:
        if m.destination == "/dev/shm":
            m.options = [o for o in m.options if not o.startswith("size=")] + [
                f"size={hc.shm_size}"]
    drop = {"pid"} if hc.pid_mode == "host" else set()
    if hc.uts_mode == "host":
        drop.add("uts")
        spec.hostname = ""
    if drop:
        spec.linux.namespaces = [ns for ns in spec.linux.namespaces if ns.type not in drop]
    if hc.cgroupns_mode == "private" and spec.linux.namespace("cgroup") is None:
        spec.linux.namespaces.append(Namespace("cgroup"))


def seccomp_cache(engine: Services) -> Path:
    """Where the built-in runtime keeps compiled seccomp programs (run root: tmpfs, root
    only, so a kernel or libseccomp upgrade - a reboot - starts it afresh)."""
    return engine.config.run_root / "seccomp"


def _apply_security(spec: Spec, security_opt: list[str], sysctls: dict[str, str]) -> None:
    """no_new_privs, the seccomp filter (resolved against the final bounding set, as
    moby does: --cap-add SYS_ADMIN also allows mount/unshare) and the sysctls."""
    from orlop.engine.security.seccomp import resolve
    from orlop.engine.security.secopts import parse_security_opts
    from orlop.runtime.spec import Seccomp

    sec = parse_security_opts(security_opt)
    spec.process.no_new_privileges = sec.no_new_privileges
    if not sec.seccomp_unconfined:
        bounding = spec.process.capabilities.bounding if spec.process.capabilities else []
        section = resolve(sec.seccomp_profile, bounding)
        if section is not None:
            try:
                spec.linux.seccomp = Seccomp.from_dict(section)
            except ValueError as err:  # an action, operator or arch no kernel filter has
                raise InvalidParameterError(f"Decoding seccomp profile failed: {err}") from err
    if sysctls:
        spec.linux.sysctl = dict(sysctls)


# Where --init's binary appears in the container (Docker's path for its tini).
INIT_PATH = "/sbin/docker-init"
# A static tini (Debian's package "tini" ships /usr/bin/tini-static): the image may have
# no libc at all, so a dynamically linked init would not start in it.
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/libexec/docker/docker-init",
                   "/usr/bin/docker-init")


def find_init() -> str:
    for path in INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise RuntimeFailedError(
        "--init needs a static init on the host: install Debian's package \"tini\" "
        f"(it provides {INIT_CANDIDATES[0]})")


def effective_caps(default: list[str], add: list[str], drop: list[str]) -> list[str]:
    """Docker's rule (moby oci/caps TweakCapabilities): ALL in --cap-add means every
    capability; ALL in --cap-drop empties the defaults first; adds win over drops."""
    from orlop.kernel.caps import CAPABILITIES

    def norm(name: str) -> str:
        n = name.upper()
        return n if n.startswith("CAP_") or n == "ALL" else "CAP_" + n

    adds, drops = {norm(a) for a in add}, {norm(d) for d in drop}
    if "ALL" in adds:
        base = list(CAPABILITIES)
    elif "ALL" in drops:
        base = []
    else:
        base = [cap for cap in default if cap not in drops]
    for cap in sorted(adds - {"ALL"}):
        if cap not in base:
            base.append(cap)
    return base


def _record_start(engine: Services, c: Container, pid: int) -> None:
    from orlop.engine.containers import health

    health.reset(engine.config, c)
    with engine.db.write() as conn:
        store.set_state(conn, c.id, status="running", pid=pid, started_at=now_rfc3339(),
                        exit_code=0, error="")
    engine.events.started(c)
    health.spawn_prober(engine.config, c, pid)  # a foreground container is probed too


def _record_exit(engine: Services, c: Container, code: int, oom: bool = False) -> None:
    """The container ended: 'exited' with its code, and Docker's ``die``.

    An --rm container's record is not rewritten: it is removed right after, under the
    lock its monitor holds until then (:func:`run_foreground`), in one transaction (the
    removal's) instead of two, each with its fsyncs (~1 ms idle, several under load).
    Its exit code goes where a `wait` that finds no record reads it (the run root's
    ``.exit`` file, as the detached monitor leaves it).  Nothing durable is lost: a
    kill between the two leaves a record that says 'running' with no monitor, which the
    next command marks exited and, --rm, removes (reconcile.py), as Docker removes an
    AutoRemove container it finds stopped at start; the 'exited' record, made durable
    for a container about to be deleted, left an exited --rm container behind instead.
    """
    if c.host_config.auto_remove:
        from orlop.engine.containers.exitfile import write_exit_file

        write_exit_file(engine.config, c.id, code)
        engine.events.died(c, code)
        inflight.fault("run.rm_after_exit")
        return
    with engine.db.write() as conn:
        store.set_state(conn, c.id, status="exited", pid=0, exit_code=code,
                        finished_at=now_rfc3339(), oom_killed=int(oom))
    engine.events.died(c, code)


def _record_failure(engine: Services, c: Container, err: RuntimeFailedError) -> None:
    with engine.db.write() as conn:
        store.set_state(conn, c.id, status="created", exit_code=err.exit_code, error=str(err))


def _run_builtin(engine: Services, c: Container, cdir: Path, spec: Spec,
                 stdio: Stdio, *, interactive: bool) -> int:
    from orlop.runtime import launch

    master = ours = theirs = -1
    stdin = stdio.stdin if interactive else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = None
        if c.config.tty:
            # The init allocates the terminal in the container's devpts and sends us
            # its master: the process sees /dev/pts/0, as with Docker.
            ours, theirs = console_pair()
            # orlopd's stdout is a pipe: the size the API client asked for on create.
            from orlop.engine.containers.console import requested_size

            size = winsize_of(stdio.stdout) or requested_size(engine.config, c.id)
        console_socket = theirs if theirs >= 0 else None
        limited = has_limits(c)
        try:
            # A cgroup only with limits: the first move of a process into a cgroup costs
            # 8-15 ms here (the kernel's RCU sync of cgroup_threadgroup_rwsem), measured
            # on `run --rm busybox true`: 112 ms without, 126 ms with.  So a foreground
            # container without limits cannot be paused (detached ones always can).
            if limited:
                pid = launch_in_cgroup(engine, c, cdir, spec, stdin=stdin, stdout=stdio.stdout,
                                       stderr=stdio.stderr, console_socket=console_socket,
                                       console_size=size, die_with_parent=True)
            else:
                pid = launch(cdir, spec, stdin=stdin, stdout=stdio.stdout,
                             stderr=stdio.stderr, console_socket=console_socket,
                             console_size=size, seccomp_cache=seccomp_cache(engine)).pid
        except RuntimeFailedError as err:
            _record_failure(engine, c, err)
            raise
        release_pinned()  # the container exec'd: its namespace has its own copy of the pins
        if theirs >= 0:
            os.close(theirs)
            theirs = -1
            from orlop.kernel.pty import recv_fd  # here: only -t (socket: ~3 ms of a run)

            master = recv_fd(ours)
        _record_start(engine, c, pid)
        code = _wait(pid, master, stdio, interactive)
        oom = finish_cgroup(c) if limited else False
        _record_exit(engine, c, code, oom)
        return code
    finally:
        if not interactive:
            os.close(stdin)
        for fd in (master, ours, theirs):
            if fd >= 0:
                os.close(fd)


def _run_external(engine: Services, c: Container, cdir: Path, runtime: str, stdio: Stdio,
                  *, interactive: bool, lowers: list[Path]) -> int:
    """Run the same bundle with crun/runc (``RUNTIME --root DIR run --bundle B ID``).

    The runtime runs in a private mount namespace of its own, where the overlay rootfs is
    mounted first: as with the built-in runtime, no container mount reaches the host's
    mount table, and a killed CLI leaves none behind.  On a hybrid cgroup host whose
    v2 hierarchy holds controllers (as this project's machines), crun 1.8 refuses to run
    ("cgroups in hybrid mode not supported"); the v2 mount is hidden in that namespace.
    """
    import shutil
    import subprocess  # here: the built-in runtime's run never needs it

    exe = runtime if "/" in runtime else shutil.which(runtime)
    if not exe or not os.access(exe, os.X_OK):
        raise RuntimeFailedError(f'unknown or invalid runtime name: {runtime}')
    state_root = engine.config.run_root / "runtimes" / os.path.basename(exe)
    state_root.mkdir(parents=True, exist_ok=True)
    stdin = stdio.stdin if interactive else subprocess.DEVNULL
    err_log = cdir / "runtime.log"
    with open(err_log, "wb") as log:
        proc = _external_runtime(
            exe, ["--root", str(state_root), "run", "--bundle", str(cdir), c.id], cdir, lowers,
            stdin=stdin, stdout=stdio.stdout, stderr=log, **external_cgroup(c))
    _record_start(engine, c, proc.pid)
    old = {s: signal.signal(s, lambda signum, _f: proc.send_signal(signum)) for s in _FORWARDED}
    try:
        code = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    tail = err_log.read_text(errors="replace").strip()
    if tail:
        os.write(stdio.stderr, (tail + "\n").encode())
    subprocess.run([exe, "--root", str(state_root), "delete", "--force", c.id],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if code < 0:
        code = 128 - code
    oom = finish_cgroup(c) if has_limits(c) else False
    _record_exit(engine, c, code, oom)
    return code


def start_external_detached(engine: Services, c: Container, cdir: Path, lowers: list[Path], *,
                            stdin: int, stdout: int, stderr: int) -> tuple[int, int]:
    """Start the bundle with crun/runc for a detached monitor: ``RUNTIME run`` (not
    ``run -d``) as the monitor's child, in a private mount namespace as in the
    foreground.  Returns ``(runtime_pid, container_pid)``: the monitor waits for the
    runtime (it exits with the container's status when the container's PID 1 dies);
    stop/kill/exec act on the container's PID 1, read from ``--pid-file``.

    Raises:
        RuntimeFailedError: the runtime is unknown or exited before the container ran.
    """
    import shutil

    runtime = c.runtime or "orlop"
    exe = runtime if "/" in runtime else shutil.which(runtime)
    if not exe or not os.access(exe, os.X_OK):
        raise RuntimeFailedError(f"unknown or invalid runtime name: {runtime}")
    state_root = engine.config.run_root / "runtimes" / os.path.basename(exe)
    state_root.mkdir(parents=True, exist_ok=True)
    # What a previous run (a restart policy) or a killed monitor left of this id.
    delete_external(exe, state_root, c.id)
    pid_file = cdir / "runtime.pid"
    err_log = cdir / "runtime.log"
    for path in (pid_file, err_log):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    proc = _external_runtime(
        exe, ["--root", str(state_root), "--log", str(err_log), "run", "--pid-file",
              str(pid_file), "--bundle", str(cdir), c.id],
        cdir, lowers, stdin=stdin, stdout=stdout, stderr=stderr, **external_cgroup(c))
    pause = 0.001
    deadline = time.monotonic() + 30
    while True:
        # Whether the runtime has exited is asked before the pid file is read: a
        # container that exits at once takes its runtime with it, which must not be
        # taken for a runtime that never started it.
        exited = _has_exited(proc.pid)
        with contextlib.suppress(OSError, ValueError):
            text = pid_file.read_text().strip()
            if text:
                _UNREAPED.append(proc)
                return proc.pid, int(text)
        if exited or time.monotonic() > deadline:
            if proc.returncode is None:
                proc.kill()
            proc.wait()
            delete_external(exe, state_root, c.id)
            try:
                detail = err_log.read_text(errors="replace").strip().splitlines()[-1]
            except (OSError, IndexError):
                detail = f"exit status {proc.returncode}"
            raise RuntimeFailedError(f"{os.path.basename(exe)}: {detail}")
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


# The runtime processes of detached crun/runc containers, kept referenced until the
# monitor execs its watcher: a Popen's __del__ (and subprocess's _cleanup of the ones it
# keeps) reaps an exited child, after which the watcher could neither open a pidfd of it
# nor read its exit status, and the monitor died before reporting the start.
_UNREAPED: list[subprocess.Popen[bytes]] = []


def _has_exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited, leaving it unreaped (a zombie, waitid's
    WNOWAIT): its exit status stays for the watcher (watch.py) to read."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid != 0


def delete_external(exe: str, state_root: Path, cid: str) -> None:
    import subprocess  # here: the built-in runtime's run never needs it

    subprocess.run([exe, "--root", str(state_root), "delete", "--force", cid],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _runtime_flags(exe: str) -> list[str]:
    """crun refuses hybrid cgroup v1/v2 hosts (like this one) unless it manages no
    cgroups; Orlop sets no resource limits yet, so nothing is lost."""
    return ["--cgroup-manager=disabled"] if os.path.basename(exe) == "crun" else []
