"""The container init: what PID 1 of the new namespaces does between fork and execve.

One linear sequence, top to bottom, with runc's step names (youki's
container_init_process, runc's standard_init_linux.go):

    wait for C1 to exit, then PR_SET_PDEATHSIG   (die with the caller, if asked)
    stdio or console                               (dup2 / setsid + TIOCSCTTY)
    loopback up                                    (new network namespace only)
    prepare_rootfs                                 (rootfs.py: / rprivate, overlay, mounts, /dev)
    pivot_root                                     (pivot.py)
    sysctl                                         (sysctl.py: the container's /proc/sys)
    finalize_rootfs                                (finalize.py: ro tmpfs, ro paths, masks, ro /)
    sethostname, rlimits
    close fds >= 3 but the error pipe and exec fifo; chdir(cwd) + getcwd() check
    seccomp filter (without no_new_privs: needs CAP_SYS_ADMIN, so first)
    bounding set, setgroups/setresgid/setresuid, capset, ambient, no_new_privs
    seccomp filter (with no_new_privs: last)
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

import _socket  # socket's C part: sethostname, without socket.py's imports
import errno
import fcntl
import os
import resource
import select
import signal
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orlop.kernel import process
from orlop.kernel.flags import TIOCSCTTY
from orlop.kernel.net import interface_up
from orlop.kernel.safepath import mkdir_all_in_root
from orlop.records import Record
from orlop.runtime.failure import InitStepError, encode, report, step_error
from orlop.runtime.finalize import finalize_rootfs
from orlop.runtime.pivot import pivot_root
from orlop.runtime.procsetup import (
    MSG_CREATED,
    MSG_EXEC,
    close_fds_from,
    env_dict,
    exit_code_for,
    finalize_namespace,
    lookup_path,
    path_env,
)
from orlop.runtime.rootfs import prepare_rootfs
from orlop.runtime.spec import Spec
from orlop.runtime.sysctl import write_sysctls

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import NoReturn

    from orlop.runtime.seccomp import Program

_path_env = path_env  # the name tests/unit/runtime know it by

# Re-exported: the launcher and older callers import these from here.
__all__ = ["MSG_CREATED", "MSG_EXEC", "InitContext", "close_fds_from", "container_init",
           "exit_code_for", "finalize_namespace", "lookup_path", "path_env", "step",
           "wait_exec_fifo"]

class InitContext(Record):
    """Everything the init needs, inherited across the forks (no serialisation)."""

    _fields = ("spec", "bundle", "error_fd", "stdio", "console", "console_socket",
               "console_size", "new_netns", "exec_fifo_fd", "c1_pidfd", "caller_pidfd",
               "seccomp")
    __slots__ = _fields
    spec: Spec
    bundle: Path
    error_fd: int  # CLOEXEC write end: EOF at the caller means execve happened
    stdio: tuple[int, int, int]
    console: int | None
    console_socket: int | None  # allocate the terminal in the container's devpts
    console_size: bytes | None  # struct winsize for it (TIOCSWINSZ)
    new_netns: bool
    exec_fifo_fd: int | None  # read end of exec.fifo (O_NONBLOCK), for create/start
    c1_pidfd: int | None  # pidfd of C1 (our parent until it exits)
    caller_pidfd: int | None  # pidfd of the launching process, when dying with it
    seccomp: Program | None  # made by the caller before the fork (runtime/seccomp.py)

    def __init__(self, spec: Spec, bundle: Path, error_fd: int, stdio: tuple[int, int, int],
                 console: int | None, console_socket: int | None,
                 console_size: bytes | None, new_netns: bool, exec_fifo_fd: int | None,
                 c1_pidfd: int | None, caller_pidfd: int | None,
                 seccomp: Program | None = None) -> None:
        self.spec = spec
        self.bundle = bundle
        self.error_fd = error_fd
        self.stdio = stdio
        self.console = console
        self.console_socket = console_socket
        self.console_size = console_size
        self.new_netns = new_netns
        self.exec_fifo_fd = exec_fifo_fd
        self.c1_pidfd = c1_pidfd
        self.caller_pidfd = caller_pidfd
        self.seccomp = seccomp


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
            _install_stdio(ctx.stdio)  # a console_socket's terminal replaces them below

    # --- network: a new network namespace starts with lo down -----------------------
    if ctx.new_netns:
        with step("network"):
            interface_up("lo")

    # --- rootfs ---------------------------------------------------------------------
    with step("prepare_rootfs"):
        rootfs = prepare_rootfs(spec, ctx.bundle, ctx.console, ctx.console_socket)
    if rootfs.console is not None:
        with step("console"):
            # The terminal of the container's devpts: /dev/pts/N inside, as Docker's.
            if ctx.console_size:
                fcntl.ioctl(rootfs.console, termios.TIOCSWINSZ, ctx.console_size)
            # Its process's user owns it (runc too), or a non-root process could not
            # read its own stdin (devpts: mode 0620, group tty).
            os.fchown(rootfs.console, spec.process.user.uid, -1)
            os.setsid()
            fcntl.ioctl(rootfs.console, TIOCSCTTY, 0)
            _install_stdio((rootfs.console, rootfs.console, rootfs.console))
            os.close(rootfs.console)
    with step("pivot_root"):
        root_fd = pivot_root(rootfs.root_fd)
    if spec.linux.sysctl:
        with step("sysctl"):  # before finalize_rootfs makes /proc/sys read-only
            write_sysctls(root_fd, spec.linux.sysctl)
    with step("finalize_rootfs"):
        finalize_rootfs(root_fd, spec, rootfs.deferred_ro)

    # --- the rest of the environment --------------------------------------------------
    if spec.hostname and spec.linux.namespace("uts") is not None:
        with step("sethostname"):
            _socket.sethostname(spec.hostname)
    with step("rlimits"):
        for rl in spec.process.rlimits or []:
            # OCI's uint64 "unlimited" (2**64 - 1) is Python's RLIM_INFINITY.
            resource.setrlimit(getattr(resource, rl.type),
                               (rl.soft if rl.soft < 1 << 63 else resource.RLIM_INFINITY,
                                rl.hard if rl.hard < 1 << 63 else resource.RLIM_INFINITY))

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
        finalize_namespace(spec, ctx.seccomp)

    # --- the command: found before "created", so create fails for a missing command --
    argv = spec.process.args
    if not argv:
        raise InitStepError("args must not be empty", errno.EINVAL)
    path = lookup_path(argv[0], path_env(spec.process.env))

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

    os.umask(0o022)
    # Before SIGPIPE is restored: a parked init's launcher stopped reading at "created"
    # and may have closed its end (EPIPE is ignored then, not fatal).
    _write(ctx.error_fd, encode(MSG_EXEC))
    # Python ignores SIGPIPE and SIGXFSZ, and SIG_IGN survives execve: restore them.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execve(path, argv, env_dict(spec.process.env))
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
