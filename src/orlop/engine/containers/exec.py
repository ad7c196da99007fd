"""`orlop exec`: a new process in a running container, with the container's identity.

The process gets the container's capabilities, no_new_privs, cgroups and namespaces
(runtime/exec.py does the joining); its environment is the container's plus ``-e``;
user and working directory the container's unless ``-u``/``-w``.  The CLI waits for it
(it is the CLI's child: the CLI is a subreaper) and exits with its status.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator

from orlop.engine.models import Container
from orlop.errors import ContainerStateError
from orlop.records import FrozenRecord

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from pathlib import Path

    from orlop.engine.containers.procio import Stdio
    from orlop.engine.events import EventLog
    from orlop.engine.services import Services
    from orlop.engine.store import ContainerStore
    from orlop.runtime.exec import ExecRequest


class ExecOptions(FrozenRecord):
    _fields = ("command", "detach", "interactive", "tty", "env", "workdir", "user",
               "exec_id", "detach_keys", "detach_keys_text")
    __slots__ = _fields
    command: list[str]
    detach: bool
    interactive: bool
    tty: bool
    env: list[str]
    workdir: str
    user: str
    exec_id: str  # the API's exec id, for the events (a fresh one if empty)
    # -it on our own terminal: the bytes that detach (--detach-keys, the config's,
    # else Ctrl-P Ctrl-Q); empty: not detachable (orlopd's helpers scan for them)
    detach_keys: bytes
    detach_keys_text: str  # as given (flag or config), for orlopd's DetachKeys

    def __init__(self, command: list[str], detach: bool = False, interactive: bool = False,
                 tty: bool = False, env: list[str] | None = None, workdir: str = "",
                 user: str = "", exec_id: str = "", detach_keys: bytes = b"",
                 detach_keys_text: str = "") -> None:
        self._set(command=command, detach=detach, interactive=interactive, tty=tty,
                  env=[] if env is None else env, workdir=workdir, user=user,
                  exec_id=exec_id, detach_keys=detach_keys,
                  detach_keys_text=detach_keys_text)


def exec_container(engine: Services, ref: str, opts: ExecOptions, stdio: Stdio) -> int:
    from orlop.engine.containers.bundle import process_env
    from orlop.engine.containers.cgroups import Cgroup
    from orlop.engine.containers.procio import copy_winsize as _copy_winsize
    from orlop.engine.containers.procio import is_locked
    from orlop.engine.containers.procio import wait_process as _wait
    from orlop.images.configenv import config_env
    from orlop.runtime.exec import ExecRequest, exec_in
    from orlop.runtime.spec import Spec, User

    c = engine.get_container(ref)
    if c.status == "paused":
        raise ContainerStateError(
            f"Container {c.id} is paused, unpause the container before exec")
    if c.status != "running" or c.pid <= 0 or not is_locked(engine.config.run_root, c.id):
        raise ContainerStateError(f"Container {c.id} is not running")
    cdir = engine.config.containers_dir / c.id
    with open(cdir / "config.json") as f:
        spec = Spec.from_dict(json.load(f))
    proc = spec.process
    user = proc.user
    image = engine.images.get(c.image_id)
    # the container's user's home, as its start put it (runc's, when Config.Env has none)
    home = next((e[5:] for e in proc.env if e.startswith("HOME=")), "/root")
    if opts.user:
        from orlop.engine.containers.users import resolve_user

        # moby's getUser: the -u user's groups from /etc/group, then the container's
        # --group-add (without -u the process keeps the container's user, groups and all)
        with start_failures(runtime=False):
            ru = resolve_user(opts.user, [cdir / "diff",
                                          *reversed(engine.images.layer_dirs(image))],
                              c.host_config.group_add or ())
        user = User(uid=ru.uid, gid=ru.gid, additional_gids=list(ru.additional_gids))
        home = ru.home
    # moby's exec: the daemon's defaults (TERM by the exec's own -t) and Config.Env, then
    # the exec's -e (a bare KEY unsets; the client has filled in the ones it has)
    env = process_env(config_env(image.container_config.get("Env") or [], c.config.env),
                      spec.hostname, home, opts.tty, opts.env)
    spec = spec.replace(process=proc.replace(
        args=list(opts.command), env=env, cwd=opts.workdir or proc.cwd, user=user,
        terminal=opts.tty))
    pidfd = _pidfd_of(engine.containers, c)
    master = slave = -1
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        if opts.tty and not opts.detach:
            master, slave = _container_pty(c.pid, pidfd, user.uid)
            _copy_winsize(stdio.stdout, slave)
        if opts.detach:
            fds = (devnull, devnull, devnull)
        else:
            fds = (stdio.stdin if opts.interactive else devnull, stdio.stdout, stdio.stderr)
        cg = Cgroup(c.id)
        req = ExecRequest(spec=spec, pidfd=pidfd, pid=c.pid,
                          cgroup_procs=tuple(str(p) for p in cg.procs_paths()
                                             if p.exists()),
                          detach=opts.detach,
                          seccomp_cache=engine.config.run_root / "seccomp")
        exec_id = _exec_events(engine.events, c, opts)
        if opts.detach:
            with start_failures():
                _start_watched(engine.events.path.parent, c, req.replace(detach=False),
                               exec_id)
            return 0
        if master >= 0 and opts.interactive and opts.detach_keys and \
                os.isatty(stdio.stdin):
            pty, master, slave = (master, slave), -1, -1  # the keeper's from here
            with start_failures():
                return _run_detachable(engine.events.path.parent, c, req, exec_id, stdio,
                                       pty, opts.detach_keys)
        with start_failures():
            pid = exec_in(req, stdin=fds[0], stdout=fds[1], stderr=fds[2],
                          console=slave if slave >= 0 else None)
        if slave >= 0:
            os.close(slave)
            slave = -1
        code = _wait(pid, master, stdio, opts.interactive)
        engine.events.container(c, "exec_die", {"execID": exec_id, "exitCode": str(code)})
        return code
    finally:
        os.close(pidfd)
        os.close(devnull)
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


@contextlib.contextmanager
def start_failures(*, runtime: bool = True) -> Iterator[None]:
    """An exec that could not start, as dockerd 20.10 to 27 report it (moby
    daemon/exec.go): exit code 126 whatever the cause, a missing command included, and
    the runtime's own failure (``runtime``) in the words dockerd wraps runc's in.  Docker
    28 (API 1.48, beyond the versions Orlop speaks) keeps 127 for a missing command
    (moby c866a7e5f8); docs/differences.md says why Orlop answers as 20.10."""
    from orlop.errors import RuntimeFailedError

    try:
        yield
    except RuntimeFailedError as err:
        message = str(err)
        if runtime:
            message = ("OCI runtime exec failed: exec failed: unable to start container "
                       f"process: {message}: unknown")
        raise RuntimeFailedError(message, 126) from None


def _start_watched(events_root: Path, c: Container, req: ExecRequest, exec_id: str) -> None:
    """``exec -d``: the process is started by a watcher, a grandchild of the caller in
    its own session, which waits for it and logs ``exec_die`` as dockerd does for a
    detached exec; the caller returns once the process runs (or raises the start's
    error, as an attached exec would).  The watcher keeps no descriptor of the caller's
    (its stdio, a helper's pipes to orlopd) but the container's pidfd: whoever reads
    the caller's output sees EOF when the caller exits, not when the exec ends."""
    from orlop.engine.events import EventLog
    from orlop.errors import RuntimeFailedError
    from orlop.kernel.fdio import read_all
    from orlop.runtime.exec import exec_in

    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked watcher
        try:
            os.close(r)
            os.setsid()
            if os.fork():
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _close_fds_except({0, 1, 2, w, req.pidfd})
            try:
                pid = exec_in(req, stdin=0, stdout=1, stderr=2)
            except RuntimeFailedError as err:
                os.write(w, json.dumps({"message": str(err), "code": err.exit_code}).encode())
                os._exit(0)
            os.write(w, b"{}")
            os.close(w)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            code = code if code >= 0 else 128 - code
            EventLog(events_root).container(c, "exec_die",
                                            {"execID": exec_id, "exitCode": str(code)})
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.waitpid(child, 0)
        raw = read_all(r)
    finally:
        os.close(r)
    if not raw.strip():
        raise RuntimeFailedError("the exec's watcher died before starting it", 125)
    outcome: dict[str, str | int] = json.loads(raw)
    if "message" in outcome:
        raise RuntimeFailedError(str(outcome["message"]), int(outcome.get("code", 125)))


def _run_detachable(events_root: Path, c: Container, req: ExecRequest, exec_id: str,
                    stdio: Stdio, pty: tuple[int, int], keys: bytes) -> int:
    """``exec -it`` on our terminal, which the detach keys can leave: a keeper child
    starts the process (so it is the keeper's to wait for), relays the terminal, and
    tells us how it ended: the exit code, or "detached", on which we return at once
    (the shell waits for us) while the keeper, its terminal given back and its stdio
    closed, drains the pty until the process ends and logs ``exec_die``.

    Raises:
        Detached: the keys were typed (the process runs on).
    """
    from orlop.detachkeys import Detached
    from orlop.engine.containers.procio import wait_process
    from orlop.engine.events import EventLog
    from orlop.errors import RuntimeFailedError
    from orlop.runtime.exec import exec_in

    master, slave = pty
    r, w = os.pipe()
    keeper = os.fork()
    if keeper == 0:  # pragma: no cover - runs in the forked keeper
        try:
            os.close(r)
            try:
                pid = exec_in(req, stdin=stdio.stdin, stdout=stdio.stdout,
                              stderr=stdio.stderr, console=slave)
            except RuntimeFailedError as err:
                os.write(w, json.dumps({"message": str(err), "code": err.exit_code}).encode())
                os._exit(0)
            os.close(slave)
            os.write(w, json.dumps({"pid": pid}).encode() + b"\n")
            try:
                code = wait_process(pid, master, stdio, True, keys)
                os.write(w, json.dumps({"code": code}).encode() + b"\n")
            except Detached:
                os.write(w, b'{"detached": true}\n')
                os.close(w)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                code = _drain_and_wait(pid, master)
            EventLog(events_root).container(c, "exec_die",
                                            {"execID": exec_id, "exitCode": str(code)})
        finally:
            os._exit(0)
    os.close(w)
    os.close(master)  # only the keeper holds the terminal: it sees EIO when the
    os.close(slave)  # process is gone
    forwarded = _forward_signals_to_keeper(keeper)
    try:
        with os.fdopen(r, "rb") as pipe:
            for line in pipe:
                msg = json.loads(line)
                if "message" in msg:
                    os.waitpid(keeper, 0)
                    raise RuntimeFailedError(str(msg["message"]), int(msg["code"]))
                if "detached" in msg:
                    raise Detached  # the docker CLI's exec: moby/term's EscapeError
                if "code" in msg:
                    os.waitpid(keeper, 0)
                    return int(msg["code"])
        os.waitpid(keeper, 0)
        raise RuntimeFailedError("the exec's keeper died", 125)
    finally:
        forwarded()


def _forward_signals_to_keeper(keeper: int) -> Callable[[], None]:
    """SIGTERM/SIGHUP/SIGQUIT for us go to the keeper, which passes them on to the
    process (--sig-proxy); returns the undo."""
    import signal

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(keeper, signum)

    saved = {s: signal.signal(s, forward)
             for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}

    def undo() -> None:
        for s, h in saved.items():
            signal.signal(s, h)
    return undo


def _drain_and_wait(pid: int, master: int) -> int:
    """After a detach: read (and drop) the process's output so it never blocks on a
    full pty, until it ends; its exit code."""
    while True:
        try:
            if not os.read(master, 65536):
                break
        except OSError:
            break  # EIO: the last holder of the terminal's other side is gone
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _exec_events(events: EventLog, c: Container, opts: ExecOptions) -> str:
    """Docker's ``exec_create: CMD ARGS`` and ``exec_start: CMD ARGS``; the exec id."""
    exec_id = opts.exec_id or os.urandom(32).hex()
    cmd = list(opts.command) or [""]
    what = f"{cmd[0]} {' '.join(cmd[1:])}"  # moby: Entrypoint + " " + Args
    for action in ("exec_create", "exec_start"):
        events.container(c, f"{action}: {what}", {"execID": exec_id})
    return exec_id


def _container_pty(pid: int, pidfd: int, uid: int) -> tuple[int, int]:
    """A pty of the container's own devpts, opened from the host through its root
    (RESOLVE_IN_ROOT, no symlinks, a ptmx device checked), so the process sees
    /dev/pts/N as with Docker.  A container without a devpts at /dev/pts (its own
    /dev bind-mounted) gets a host pty, nameless inside, as before."""
    import select

    from orlop.kernel.pty import open_pty_in

    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise ContainerStateError("the container exited") from None
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if poller.poll(0):  # the pid may be someone else's now: its root is not ours
            raise ContainerStateError("the container exited")
        try:
            master, slave, _n = open_pty_in(root, "dev/pts/ptmx", in_root=True)
        except OSError:
            return os.openpty()
    finally:
        os.close(root)
    # Its user owns the terminal, or a non-root exec could not read its own stdin.
    os.fchown(slave, uid, -1)
    return master, slave


def _pidfd_of(containers: ContainerStore, c: Container) -> int:
    """A pidfd of the container's PID 1, checked against the store after opening."""
    try:
        pidfd = os.pidfd_open(c.pid)
    except ProcessLookupError:
        raise ContainerStateError(f"Container {c.id} is not running") from None
    cur = containers.get(c.id)
    if cur is None or cur.pid != c.pid or cur.status != "running":
        os.close(pidfd)
        raise ContainerStateError(f"Container {c.id} is not running")
    return pidfd


__all__ = ["ExecOptions", "exec_container"]
