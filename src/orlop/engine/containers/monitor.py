"""The monitor of a detached container (`run -d`, `start`): Orlop's conmon, without a daemon.

One process per running container, in its own session, surviving the CLI that made it:

    CLI ── fork ──> M0: setsid ── fork ──> M (the monitor)   M0 exits at once, so M
                                                             belongs to no terminal and
                                                             no process waits for it
    M: /dev/null for 0, 1, 2 and every other fd closed; child subreaper; takes the
       container's lock (runner.container_lock's file: held as long as M lives, in any
       of the phases below, so every `orlop` command tells a live monitor from a dead
       one by a non-blocking flock);
       prepares and starts the container (runner.prepare / launch_in_cgroup: volumes,
       bundle, cgroup, parked init moved into the cgroup, then exec);
       tells the CLI "started, pid N" (or the error) on a pipe, and the CLI returns;
       execs watch.py ("watch" phase: built-in modules only, ~8.6 MB, relays output to the
       json-file log and waits for the exit without reaping it);
    then execs this module's finish_main ("finish" phase, the full engine again):
       records the exit code, OOMKilled and finish time, reaps PID 1, removes the
       cgroup, releases the volume mounts; then restarts the container per its restart
       policy (back to "watch"), or removes it (--rm), or exits, dropping the lock.

Exec'ing rather than staying in the forked CLI is what keeps an idle monitor small: a
fork of the CLI keeps every module the CLI imported (about 25 MB).

The CLI's SQLite connection is inherited by the fork and never touched in M (using a
connection across fork() corrupts SQLite's lock state): M opens its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orlop
from orlop.config import EngineConfig
from orlop.engine import store
from orlop.engine.containers.exitfile import write_exit_file
from orlop.engine.models import Container
from orlop.engine.timefmt import now_rfc3339, parse_rfc3339
from orlop.errors import ContainerNotFoundError, ContainerStateError, OrlopError, RuntimeFailedError
from orlop.kernel.fdio import read_all

if TYPE_CHECKING:
    from orlop.engine.containers.watch import JsonLog
    from orlop.engine.services import Services

WATCH_SCRIPT = Path(__file__).with_name("watch.py")
# The directory that holds the ``orlop`` package (``src/`` of a checkout), found from the
# package itself so that moving this module cannot point it elsewhere.
SRC_DIR = str(Path(orlop.__file__).resolve().parents[1])
# The finish phase: the full engine, imported from the same tree as this file, on an
# interpreter started with -I -S: site-packages are put on its path without running the
# code of their .pth files (orlop/launcher.py; ~25 ms of every start here).
_SITE = "from orlop.launcher import add_site_paths; add_site_paths(); "
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); " + _SITE +
         "from orlop.engine.containers.monitor import finish_main; finish_main(sys.argv[2:])")

_inherited: list[object] = []  # the CLI's engine, kept alive and never used in M

DEFAULT_MAX_FILE = 1


# --- the CLI side -------------------------------------------------------------------


def start_detached(engine: Services, c: Container) -> int:
    """Fork a monitor for ``c``, wait until it has started the container; returns its pid.

    From a process with other threads (orlopd's workers, where a build's RUN steps start
    their containers) the monitor is not forked: a fork copies locks another thread may
    hold (SQLite's allocator mutex, taken by the monitor's first connection), and such a
    child waits on them forever, holding the container's lock.  It is spawned then: a
    fresh interpreter that forks it as below."""
    import threading

    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    if threading.active_count() > 1:
        _spawn_monitor(engine.config, c.id, r, w)
        child = 0
    else:
        child = os.fork()
        if child == 0:
            code = 1
            try:
                os.close(r)
                os.setsid()
                if os.fork() == 0:
                    _inherited.append(engine)
                    _monitor(engine.config, c.id, w)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
    try:
        if child:
            os.waitpid(child, 0)
        data = read_all(r)
    finally:
        os.close(r)
    try:
        msg: dict[str, Any] = json.loads(data) if data else {}
    except ValueError:
        msg = {}
    if "pid" in msg:
        return int(msg["pid"])
    error = str(msg.get("error") or "the container's monitor died before starting it")
    if msg.get("kind") == "conflict":
        raise ContainerStateError(error)
    if msg.get("kind") == "not_found":
        raise ContainerNotFoundError(c.id)
    raise RuntimeFailedError(error, int(msg.get("exit_code") or 125))




_SPAWN_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); " + _SITE +
               "from orlop.engine.containers.monitor import spawned_main; "
               "spawned_main(sys.argv[2:])")


def _spawn_monitor(config: EngineConfig, cid: str, r: int, w: int) -> None:
    """A fresh interpreter forks the monitor (spawned_main) and exits; ``w`` is handed
    down for the report and closed here."""
    import subprocess

    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _SPAWN_BOOT, SRC_DIR, str(config.root),
             str(config.run_root), config.runtime, cid, str(w)],
            pass_fds=(w,), stdin=subprocess.DEVNULL, close_fds=True)
    finally:
        os.close(w)
    proc.wait()


def spawned_main(argv: list[str]) -> NoReturn:
    """``ROOT RUN_ROOT RUNTIME ID REPORT_FD``: what the fork in start_detached does, from
    a process with no other thread."""
    root, run_root, runtime, cid, report_s = argv
    config = EngineConfig.from_env(root, run_root, runtime)
    code = 1
    try:
        os.setsid()
        if os.fork() == 0:
            _monitor(config, cid, int(report_s))
        code = 0
    finally:
        os._exit(code)


# --- the monitor ---------------------------------------------------------------------


def _detach_stdio(keep: list[int]) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    start = 3
    for fd in sorted(keep):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 20)


def _become_monitor(keep: list[int]) -> None:
    from orlop.kernel import process

    _detach_stdio(keep)
    os.chdir("/")
    os.umask(0o022)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    process.set_child_subreaper(True)


def _report(fd: int | None, msg: dict[str, Any]) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(msg).encode())
    with contextlib.suppress(OSError):
        os.close(fd)


def _monitor(config: EngineConfig, cid: str, report_fd: int) -> NoReturn:
    try:
        from orlop.state import inflight

        inflight.forget_after_fork()  # the CLI's operation marker is the CLI's to end
        _become_monitor([report_fd])
        from orlop.engine.services import open_services

        engine = open_services(config)  # no reconciliation: it would find us dead
        lock_fd = acquire_lock(config.run_root, cid)
        if lock_fd < 0:
            raise ContainerStateError(f"container {cid} is already running")
        with engine.db.read() as conn:
            c = store.get_by_id(conn, cid)
        if c is None:
            raise ContainerNotFoundError(cid)
        serve(engine, c, lock_fd, report_fd)
    except OrlopError as err:
        _report(report_fd, {"error": str(err), "kind": err.kind.value,
                            "exit_code": getattr(err, "exit_code", 125)})
    except BaseException as err:
        _report(report_fd, {"error": f"monitor: {err}", "exit_code": 125})
    os._exit(1)


def acquire_lock(run_root: Path, cid: str, timeout: float = 2.0) -> int:
    """The container's lock, inheritable (it must survive our execs); -1 if held.

    A short wait: `rm` holds it for a moment while it deletes the container.
    """
    import fcntl

    d = run_root / "containers"
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / f"{cid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return -1
            time.sleep(0.01)


def log_path(config: EngineConfig, cid: str) -> Path:
    return config.containers_dir / cid / f"{cid}-json.log"


def log_limits(c: Container) -> tuple[int, int]:
    """The container's ``--log-opt max-size`` (bytes, 0: none) and ``max-file``."""
    from orlop.engine.containers.logs import parse_size

    opts = c.host_config.log_config.get("Config") or {}
    return parse_size(opts.get("max-size", "")), int(opts.get("max-file") or DEFAULT_MAX_FILE)


def open_log(config: EngineConfig, c: Container) -> JsonLog:
    """The container's json-file log, for a writer other than its detached monitor
    (orlopd's attached sessions): the same writer (engine/containers/watch.py), with
    the same line splitting and rotation."""
    from orlop.engine.containers.watch import JsonLog

    return JsonLog(str(log_path(config, c.id)) if keeps_log(c) else os.devnull,
                   *log_limits(c))


def keeps_log(c: Container) -> bool:
    """``--log-driver none``: the output goes to attached clients only, no file."""
    return c.host_config.log_config.get("Type") != "none"


def stdin_fifo(config: EngineConfig, cid: str) -> Path:
    return config.run_root / "containers" / f"{cid}.stdin"


def serve(engine: Services, c: Container, lock_fd: int, report_fd: int | None) -> NoReturn:
    """Start ``c`` and become its watcher (never returns)."""
    from orlop.engine.containers import runner

    config = engine.config
    mounted: list[str] = []
    to_close: list[int] = []
    fds: dict[str, int] = {}
    try:
        if c.config.open_stdin:
            fifo = stdin_fifo(config, c.id)
            with contextlib.suppress(FileNotFoundError):
                fifo.unlink()
            os.mkfifo(fifo, 0o600)
            # Opened read-write: the container's stdin never sees EOF because no
            # attach is connected, as Docker's `-d -i`.
            stdin = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
            fds["stdin_fd"] = stdin
        else:
            stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            to_close.append(stdin)
        console_ours = console_theirs = None
        external = (c.runtime or "orlop") != "orlop"
        if external and c.config.tty:
            raise RuntimeFailedError(
                f"detached containers with a terminal need the built-in runtime for now, "
                f"not {c.runtime!r}: use --runtime orlop or run in the foreground")
        if c.config.tty:
            # The terminal comes from the container's own devpts (/dev/pts/0 inside):
            # the init sends its master over this socket pair.
            from orlop.engine.containers.procio import console_pair

            console_ours, console_theirs = console_pair()
            to_close += [console_ours, console_theirs]
            out_w = err_w = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            to_close.append(out_w)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            fds.update(out_fd=out_r, err_fd=err_r)
            to_close += [out_w, err_w]
        spec, cdir, lowers = runner.prepare(engine, c, mounted)
        if external:
            # The watcher waits for the runtime process (our child); the store names the
            # container's PID 1, which stop/kill/exec act on.  crun here manages no
            # cgroup (hybrid host), so such a container cannot be paused.
            watch_pid, pid = runner.start_external_detached(
                engine, c, cdir, lowers, stdin=stdin, stdout=out_w, stderr=err_w)
        else:
            watch_pid = pid = runner.launch_in_cgroup(
                engine, c, cdir, spec, stdin=stdin, stdout=out_w, stderr=err_w,
                console_socket=console_theirs, die_with_parent=False)
        if console_ours is not None and console_theirs is not None:
            from orlop.kernel.pty import recv_fd

            os.close(console_theirs)
            to_close.remove(console_theirs)
            fds["master_fd"] = recv_fd(console_ours)
    except BaseException as err:
        runner.release_mounts(engine, c, mounted)
        runner.release_network(engine, c)
        failure = err if isinstance(err, RuntimeFailedError) else RuntimeFailedError(str(err))
        with contextlib.suppress(OrlopError), engine.db.write() as conn:
            if store.get_by_id(conn, c.id) is not None:
                store.set_state(conn, c.id, status="created" if report_fd is not None
                                else "exited", pid=0, exit_code=failure.exit_code,
                                error=str(failure), finished_at=now_rfc3339())
        if report_fd is None:  # a restart that failed: nobody to tell
            os._exit(1)
        raise
    for fd in to_close:
        os.close(fd)
    from orlop.engine.containers import health

    health.reset(config, c)
    with engine.db.write() as conn:
        store.set_state(conn, c.id, status="running", pid=pid, started_at=now_rfc3339(),
                        exit_code=0, error="", oom_killed=0)
    engine.events.started(c)
    # The prober is forked before the report: the CLI's next command (or compose's
    # next inspect) already finds it at work.
    health.spawn_prober(config, c, pid)
    container_pid = pid
    pid = watch_pid
    max_size, max_file = log_limits(c)
    args: dict[str, object] = {
        "pid": pid,
        "log_path": str(log_path(config, c.id)) if keeps_log(c) else os.devnull,
        "max_size": max_size,
        "max_file": max_file,
        **fds,
    }
    finish = [sys.executable, "-I", "-S", "-c", _BOOT, SRC_DIR, str(config.root),
              str(config.run_root), c.id, str(lock_fd), str(pid)]
    if report_fd is not None:
        # The start is reported by the watcher once it relays the output: a `logs` right
        # after `start` finds what the container printed at once, as with dockerd (whose
        # shim copies from the first byte).  Until then the output waits in the pipes.
        args.update(report_fd=report_fd, report_pid=container_pid)
        os.set_inheritable(report_fd, True)
    from orlop.engine.net.setup import HELD

    # The network namespace's descriptor too: the finish phase tears it down.
    for fd in [lock_fd, *fds.values(), *([HELD[c.id]] if c.id in HELD else [])]:
        os.set_inheritable(fd, True)
    engine.close()
    os.execv(sys.executable, [sys.executable, "-I", "-S", *watch_script(),
                              *watch_argv(args, finish)])


# Runs watch.py's bytecode (its path is argv[2]) as the script argv[1]: the process's
# command line still names watch.py.  Only built-in modules (marshal, io's open).
_WATCH_LOADER = ("import sys, marshal; f = open(sys.argv[2], 'rb'); f.seek(16); "
                 "code = marshal.loads(f.read()); f.close(); del sys.argv[2], sys.argv[0]; "
                 "exec(code, {'__name__': '__main__', '__file__': sys.argv[0]})")


def watch_script() -> list[str]:
    """How the interpreter is to run watch.py: from the bytecode in ``__pycache__``
    when there is a current one (through :data:`_WATCH_LOADER`), else from the source.

    A script given as source is compiled at every start, and the compiler's memory stays
    in the idle process (0.8 MB of its ~9.4 MB).  The loader runs the bytecode as it
    is, so it must be the one ``import`` would accept: the same header check as
    importlib's for a timestamp-based pyc (magic, flags 0, the source's mtime and size)."""
    import importlib.util

    source = str(WATCH_SCRIPT)
    try:
        cached = importlib.util.cache_from_source(source)
        st = os.stat(source)
        with open(cached, "rb") as f:
            head = f.read(16)
    except (OSError, NotImplementedError):
        return [source]
    want = (importlib.util.MAGIC_NUMBER + bytes(4)
            + (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
            + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
    return ["-c", _WATCH_LOADER, source, cached] if head == want else [source]


def watch_argv(args: Mapping[str, object], finish: Sequence[str]) -> list[str]:
    """watch.py's arguments: ``KEY=VALUE... -- FINISH...`` (it parses them without json,
    which would cost the idle process 1.2 MB)."""
    return [*(f"{k}={v}" for k, v in args.items()), "--", *finish]


# --- the finish phase ----------------------------------------------------------------


def finish_main(argv: list[str]) -> NoReturn:
    """``ROOT RUN_ROOT ID LOCK_FD PID CODE``: record the exit, clean up, restart or remove."""
    root, run_root, cid, lock_s, pid_s, code_s = argv
    lock_fd, pid, code = int(lock_s), int(pid_s), int(code_s)
    from orlop.engine.containers.cgroups import Cgroup
    from orlop.engine.services import open_services

    config = EngineConfig.from_env(root, run_root)
    cg = Cgroup(cid)
    oom = cg.oom_killed() if cg.exists() else False
    cg.kill_all()  # whatever of the container is left (exec -d, a frozen task)
    if not config.db_path.exists():  # the whole root was deleted under us
        _reap(pid)
        cg.destroy()
        os._exit(0)
    engine = open_services(config)
    with engine.db.read() as conn:
        c = store.get_by_id(conn, cid)
        vols = [] if c is None else store.volume_names(conn, cid)
    if c is not None:
        with engine.db.write() as conn:
            if store.get_by_id(conn, cid) is not None:
                store.set_state(conn, cid, status="exited", pid=0, exit_code=code,
                                finished_at=now_rfc3339(), oom_killed=int(oom))
    # Only now that the store no longer names it may the pid be reused.
    _reap(pid)
    from orlop.engine.net.setup import detach

    detach(config, cid, handoff=True)  # the keeper's, if one runs: the rm need not wait
    if c is not None and (c.runtime or "orlop") != "orlop":
        _delete_external(engine.config, c)
    cg.destroy()
    write_exit_file(engine.config, cid, code)
    for name in vols:
        with contextlib.suppress(OrlopError, OSError):
            engine.volumes.unmount(name, cid)
    if c is not None:
        engine.events.volume_unmounts(cid, vols)
        engine.events.died(c, code, c.started_at)
    if c is not None and c.config.open_stdin:
        with contextlib.suppress(FileNotFoundError):
            stdin_fifo(engine.config, cid).unlink()
    if c is not None:
        _after_exit(engine, c, code, lock_fd)
    os._exit(0)


def _delete_external(config: EngineConfig, c: Container) -> None:
    """The runtime's state of a container started with crun/runc (its `run` exited)."""
    import shutil

    from orlop.engine.containers.runner import delete_external

    exe = c.runtime if "/" in c.runtime else shutil.which(c.runtime)
    if exe:
        delete_external(exe, config.run_root / "runtimes" / os.path.basename(exe), c.id)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    while True:  # any orphan the subreaper adopted
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            return


def should_restart(policy: dict[str, Any], code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    """Docker's restart manager: never after stop/kill; on-failure only for non-zero
    exits, up to MaximumRetryCount (0 = no limit)."""
    if manually_stopped:
        return False
    name = policy.get("Name") or "no"
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure":
        limit = int(policy.get("MaximumRetryCount") or 0)
        return code != 0 and (limit == 0 or restart_count < limit)
    return False


def restart_delay(restart_count: int, ran_for: float) -> float:
    """100 ms, doubling with each quick restart, at most 10 s; a container that ran for
    10 s or more restarts after 100 ms again (Docker's backoff)."""
    if ran_for >= 10:
        return 0.1
    return float(min(0.1 * (2 ** min(restart_count, 10)), 10.0))


def _after_exit(engine: Services, c: Container, code: int, lock_fd: int) -> None:
    with engine.db.write() as conn:
        cur = store.get_by_id(conn, c.id)
        if cur is None:
            return
        restart = should_restart(cur.host_config.restart_policy, code, cur.restart_count,
                                 cur.manually_stopped)
        if restart:
            store.set_state(conn, c.id, status="restarting",
                            restart_count=cur.restart_count + 1)
    if not restart:
        if cur.host_config.auto_remove:
            from orlop.engine.containers.remove import remove

            with contextlib.suppress(OrlopError):
                remove(engine, engine.containers.resolve(c.id), c.id, force=True,
                       volumes=True, locked=True)
        return
    delay = restart_delay(cur.restart_count,
                          parse_rfc3339(now_rfc3339()) - parse_rfc3339(cur.started_at))
    deadline = time.monotonic() + delay
    while True:
        with engine.db.read() as conn:
            cur2 = store.get_by_id(conn, c.id)
        if cur2 is None:
            return
        if cur2.manually_stopped:
            with engine.db.write() as conn:
                store.set_state(conn, c.id, status="exited")
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    serve(engine, cur2, lock_fd, None)
