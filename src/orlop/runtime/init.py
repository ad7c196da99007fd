"""The container init: what PID 1 of the new namespaces does between fork and execve.

One linear sequence, top to bottom, with runc's step names (youki's
container_init_process, runc's standard_init_linux.go):

    wait for C1 to exit, then PR_SET_PDEATHSIG   (die with the caller, if asked)
    stdio or console                               (dup2 / setsid + TIOCSCTTY)
    loopback up                                    (new network namespace only)
    prepare_rootfs                                 (rootfs.py: / rprivate, overlay, mounts, /dev)
    pivot_root                                     (pivot.py)
    finalize_rootfs                                (finalize.py: ro tmpfs, ro paths, masks, ro /)
    sethostname, rlimits
    close fds >= 3 but the error pipe and exec fifo; chdir(cwd) + getcwd() check
    bounding set, setgroups/setresgid/setresuid, capset, ambient, no_new_privs
    look args[0] up in the container's PATH
    (create) tell the caller "created", wait on exec.fifo
    execve

Any failure is written to the error pipe as one JSON line and the init _exits; the
caller turns it into RuntimeFailedError.  After pivot_root nothing may be imported:
the host's Python library is no longer reachable, and whatever the image has at that
path must never be loaded into a process that is still root with every capability
(R7; moby CVE-2019-14271 was exactly an NSS library loaded from the container).
Every module this file needs is imported at the top, before the fork.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import select
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from orlop.kernel import caps, libc, process
from orlop.kernel.flags import TIOCSCTTY
from orlop.kernel.net import interface_up
from orlop.kernel.safepath import mkdir_all_in_root
from orlop.runtime.failure import InitStepError, encode, report, step_error
from orlop.runtime.finalize import finalize_rootfs
from orlop.runtime.pivot import pivot_root
from orlop.runtime.rootfs import prepare_rootfs
from orlop.runtime.spec import DEFAULT_PATH, Spec

# Messages the init writes to the caller besides errors.
MSG_CREATED = {"status": "created"}
MSG_EXEC = {"status": "exec"}


@dataclass
class InitContext:
    """Everything the init needs, inherited across the forks (no serialisation)."""

    spec: Spec
    bundle: Path
    error_fd: int               # CLOEXEC write end: EOF at the caller means execve happened
    stdio: tuple[int, int, int]
    console: int | None
    new_netns: bool
    exec_fifo_fd: int | None    # read end of exec.fifo (O_NONBLOCK), for create/start
    c1_pidfd: int | None        # pidfd of C1 (our parent until it exits)
    caller_pidfd: int | None    # pidfd of the launching process, when dying with it


@contextmanager
def step(name: str) -> Iterator[None]:
    """Prefix any failure inside the block with the step's name."""
    try:
        yield
    except (OSError, InitStepError, ValueError) as err:
        raise step_error(name, err) from err


def container_init(ctx: InitContext) -> NoReturn:
    """Run the init sequence and execve the container process; never returns."""
    code = 125
    try:
        _init(ctx)
    except InitStepError as err:
        report(ctx.error_fd, err)
        if err.exec_failure:
            code = exit_code_for(err.errno)
    except BaseException as err:  # a bug: still report it, never unwind into the caller
        report(ctx.error_fd, step_error("init", err))
    os._exit(code)


def exit_code_for(err_no: int) -> int:
    """Docker's codes: 127 command not found, 126 not executable (moby start.go)."""
    if err_no in (errno.ENOENT, errno.ENOTDIR):
        return 127
    if err_no in (errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOEXEC):
        return 126
    return 125


def _init(ctx: InitContext) -> None:
    spec = ctx.spec
    # /proc/1/exe is the host's Python until execve: keep it (and our memory) out of
    # reach of anything in the container (CVE-2019-5736 class); execve resets this.
    process.set_dumpable(False)
    os.umask(0)  # device nodes and mount points get exactly the modes we ask for

    # --- lifetime: die with the caller --------------------------------------------
    if ctx.caller_pidfd is not None:
        with step("pdeathsig"):
            _die_with_caller(ctx)

    # --- stdio --------------------------------------------------------------------
    with step("stdio"):
        if ctx.console is not None:
            os.setsid()
            fcntl.ioctl(ctx.console, TIOCSCTTY, 0)
            _install_stdio((ctx.console, ctx.console, ctx.console))
        else:
            _install_stdio(ctx.stdio)

    # --- network: a new network namespace starts with lo down -----------------------
    if ctx.new_netns:
        with step("network"):
            interface_up("lo")

    # --- rootfs ---------------------------------------------------------------------
    with step("prepare_rootfs"):
        rootfs = prepare_rootfs(spec, ctx.bundle, ctx.console)
    with step("pivot_root"):
        root_fd = pivot_root(rootfs.root_fd)
    with step("finalize_rootfs"):
        finalize_rootfs(root_fd, spec, rootfs.deferred_ro)

    # --- the rest of the environment --------------------------------------------------
    if spec.hostname and spec.linux.namespace("uts") is not None:
        with step("sethostname"):
            socket.sethostname(spec.hostname)
    with step("rlimits"):
        for rl in spec.process.rlimits or []:
            resource.setrlimit(getattr(resource, rl.type), (rl.soft, rl.hard))

    # Close every fd the init does not need before chdir: an fd to a host directory
    # left open would let cwd "/proc/self/fd/N" walk out of the rootfs
    # (CVE-2024-21626, runc "Leaky Vessels").
    with step("close fds"):
        keep = [fd for fd in (ctx.error_fd, ctx.exec_fifo_fd, ctx.caller_pidfd) if fd is not None]
        os.close(root_fd)
        close_fds_from(3, keep)
    with step("cwd"):
        cwd = spec.process.cwd or "/"
        root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.close(mkdir_all_in_root(root, cwd))  # runc creates a missing cwd too
        finally:
            os.close(root)
        os.chdir(cwd)
        os.getcwd()  # raises if cwd is not reachable from our root (runc verifyCwd)

    # --- identity and privileges --------------------------------------------------
    with step("capabilities"):
        finalize_namespace(spec)

    # --- the command: found before "created", so create fails for a missing command --
    argv = spec.process.args
    if not argv:
        raise InitStepError("args must not be empty", errno.EINVAL)
    path = lookup_path(argv[0], _path_env(spec.process.env))

    if ctx.exec_fifo_fd is not None:
        with step("exec fifo"):
            _write(ctx.error_fd, encode(MSG_CREATED))
            wait_exec_fifo(ctx.exec_fifo_fd)
    if ctx.caller_pidfd is not None:
        with step("pdeathsig"):
            # The uid/gid change cleared it: set it again, then make sure the caller
            # did not die in the meantime.
            process.set_pdeathsig(signal.SIGKILL)
            _exit_if_dead(ctx.caller_pidfd)
            os.close(ctx.caller_pidfd)

    # Python ignores SIGPIPE and SIGXFSZ, and SIG_IGN survives execve: restore them.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    os.umask(0o022)
    _write(ctx.error_fd, encode(MSG_EXEC))
    try:
        os.execve(path, argv, _env_dict(spec.process.env))
    except OSError as err:
        raise InitStepError(f'exec: "{argv[0]}": {os.strerror(err.errno or errno.EIO).lower()}',
                            err.errno or errno.EIO, exec_failure=True) from err


def _die_with_caller(ctx: InitContext) -> None:
    """PR_SET_PDEATHSIG only once C1 is gone: C1's own exit would otherwise kill us.

    The signal is tied to the parent at the time; C1 exits right after reporting our
    pid and the subreaper (the caller) adopts us.  Then: set it, and check the caller
    is still alive, closing the race where it died before the prctl.
    """
    if ctx.c1_pidfd is not None:
        poller = select.poll()
        poller.register(ctx.c1_pidfd, select.POLLIN)
        while not poller.poll():
            pass
        os.close(ctx.c1_pidfd)
    process.set_pdeathsig(signal.SIGKILL)
    if ctx.caller_pidfd is not None:
        _exit_if_dead(ctx.caller_pidfd)


def _exit_if_dead(pidfd: int) -> None:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if poller.poll(0):
        os._exit(137)


def _install_stdio(fds: tuple[int, int, int]) -> None:
    """dup2 the caller's fds to 0, 1, 2 (via copies >= 3, so any order of fds is safe)."""
    copies = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in fds]
    for target, fd in enumerate(copies):
        os.dup2(fd, target, inheritable=True)
    for fd in copies:
        os.close(fd)


def close_fds_from(first: int, keep: list[int]) -> None:
    """Close every fd >= first except those in ``keep`` (close_range between them)."""
    start = first
    for fd in sorted(k for k in keep if k >= first):
        if fd > start:
            libc.close_range(start, fd - 1)
        start = fd + 1
    libc.close_range(start)


def finalize_namespace(spec: Spec) -> None:
    """Capabilities and identity, in the only order that works (runc finalizeNamespace).

    The bounding set is dropped while we are still root with CAP_SETPCAP; KEEPCAPS
    keeps the permitted set across setuid(non-zero); then capset sets exactly the
    spec's sets, ambient last (it needs permitted and inheritable).
    """
    proc = spec.process
    pcaps = proc.capabilities
    last = caps.last_cap()
    if pcaps is not None:
        caps.drop_bounding_set(_mask(pcaps.bounding, last), last)
    process.set_keepcaps(True)
    user = proc.user
    os.setgroups(list(user.additional_gids))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    process.set_keepcaps(False)
    if pcaps is not None:
        caps.set_capabilities(_mask(pcaps.effective, last), _mask(pcaps.permitted, last),
                              _mask(pcaps.inheritable, last))
        caps.set_ambient(_mask(pcaps.ambient, last), last)
    if proc.no_new_privileges:
        process.set_no_new_privs()


def _mask(names: list[str], last: int) -> int:
    """Capabilities newer than the running kernel are skipped, as runc does."""
    return caps.cap_mask(names) & ((1 << (last + 1)) - 1)


def wait_exec_fifo(fd: int) -> None:
    """Block until ``start`` opens exec.fifo for writing (and writes or closes it).

    The read end was opened O_NONBLOCK before the fork; a FIFO that never had a writer
    does not report POLLHUP, so poll() sleeps until `start`.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while not poller.poll():
        pass
    os.close(fd)


def _write(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except OSError:
        pass  # the caller stopped listening (create returned); nothing to tell


def _path_env(env: list[str]) -> str:
    value = None
    for item in env:
        if item.startswith("PATH="):
            value = item[5:]
    return DEFAULT_PATH if value is None else value


def _env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def _is_executable(path: str, stat_fn: Callable[[str], os.stat_result]) -> int:
    """0 when ``path`` is an executable regular file, else an errno (Go findExecutable)."""
    try:
        st = stat_fn(path)
    except OSError as err:
        return err.errno or errno.ENOENT
    if stat.S_ISDIR(st.st_mode):
        return errno.EISDIR
    if not st.st_mode & 0o111:
        return errno.EACCES
    return 0


def lookup_path(name: str, path_env: str = DEFAULT_PATH,
                stat_fn: Callable[[str], os.stat_result] = os.stat) -> str:
    """Find ``name`` like Go's exec.LookPath (so like runc and Docker), in the container.

    A name with a "/" is used as is; otherwise each PATH entry is tried in order ("" is
    "."), and a non-executable match is skipped.  Runs after pivot_root, so it sees
    the container's files.

    Raises:
        InitStepError: with exec_failure set, errno ENOENT ("executable file not found
            in $PATH", exit 127) or EACCES/EISDIR (exit 126).
    """
    if "/" in name:
        code = _is_executable(name, stat_fn)
        if code == 0:
            return name
        if code == errno.ENOENT:
            raise InitStepError(f'exec: "{name}": stat {name}: no such file or directory',
                                code, exec_failure=True)
        reason = "is a directory" if code == errno.EISDIR else "permission denied"
        raise InitStepError(f'exec: "{name}": {reason}', code, exec_failure=True)
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_executable(candidate, stat_fn) == 0:
            return candidate
    raise InitStepError(f'exec: "{name}": executable file not found in $PATH', errno.ENOENT,
                        exec_failure=True)
