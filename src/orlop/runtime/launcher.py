"""launch(): start a container from a bundle, in-process, and hand back its host pid.

Process model (runc's nsexec, in Python):

    caller ── fork ──> C1: setns(paths), unshare(namespaces) ── fork ──> C2
                       C1 writes C2's pid to the caller, _exits     C2 = PID 1 of the new
                                                                    pid namespace: init.py
    The caller is PR_SET_CHILD_SUBREAPER, so C2 is reparented to it when C1 exits:
    the caller reaps C1 and can waitpid() the container itself.

C1 exists because unshare(CLONE_NEWPID) only moves the *children* of the caller into
the new namespace.  Both forks come from single-threaded processes (os.fork, never
threads), and everything C2 needs is imported before the first fork.

C2 reports failures as JSON lines on a close-on-exec pipe; the caller reads it until
EOF, which comes either from a successful execve or from C2's death.  An "exec"
message written just before execve tells the two apart.
"""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from orlop.errors import RuntimeFailedError
from orlop.kernel import libc, process
from orlop.kernel.fdio import read_all_and_close
from orlop.kernel.flags import CloneFlag
from orlop.records import FrozenRecord
from orlop.runtime.failure import InitStepError, report, step_error
from orlop.runtime.init import MSG_CREATED, MSG_EXEC, InitContext, container_init, exit_code_for
from orlop.runtime.procsetup import compile_seccomp
from orlop.runtime.spec import Spec

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, NoReturn

NAMESPACE_FLAGS: dict[str, CloneFlag] = {
    "pid": CloneFlag.NEWPID, "network": CloneFlag.NEWNET, "mount": CloneFlag.NEWNS,
    "ipc": CloneFlag.NEWIPC, "uts": CloneFlag.NEWUTS, "user": CloneFlag.NEWUSER,
    "cgroup": CloneFlag.NEWCGROUP, "time": CloneFlag.NEWTIME,
}


class Launched(FrozenRecord):
    _fields = ("pid",)
    __slots__ = _fields
    pid: int  # host pid of the container's PID 1

    def __init__(self, pid: int) -> None:
        self._set(pid=pid)


def launch(bundle: Path, spec: Spec, *, stdin: int, stdout: int, stderr: int,
           console: int | None = None, console_socket: int | None = None,
           console_size: bytes | None = None, wait_for_start: bool = False,
           exec_fifo: Path | None = None, die_with_parent: bool = True,
           seccomp_cache: Path | None = None,
           cgroup_procs: Sequence[Path] = ()) -> Launched:
    """Create the container's namespaces and rootfs and start (or park) its process.

    Args:
        bundle: the bundle directory; a relative root.path or bind source is under it.
        spec: the parsed config.json.
        stdin, stdout, stderr: fds dup2'd to the container's 0, 1, 2.
        console: a pty slave; if given, it becomes the controlling terminal and 0/1/2.
        console_socket: a unix socket: the init allocates a terminal in the container's
            own devpts, sends its master here (SCM_RIGHTS; read it with
            orlop.kernel.pty.recv_fd) and makes the slave its controlling terminal and
            0/1/2, so the process sees /dev/pts/0 as with Docker.
        console_size: the terminal's struct winsize, set before the process starts.
        wait_for_start: park the init before execve until ``exec_fifo`` is opened for
            writing (``orlop-runtime start``); launch() returns once it is parked.
        exec_fifo: a FIFO made by the caller, required with wait_for_start.
        die_with_parent: SIGKILL the container when the calling thread dies (a killed
            foreground CLI takes its container along); off for detached containers.
        seccomp_cache: a root-only directory where compiled seccomp programs are kept
            (runtime/seccomp.py); None compiles the profile every time.
        cgroup_procs: the ``cgroup.procs`` files of the container's cgroups (made by
            the caller): the intermediate child joins them before it creates the
            namespaces, so a new cgroup namespace is rooted at the container's cgroup.

    Returns:
        Launched with the container's host pid; the caller is its (sub)reaper and
        must os.waitpid() it.

    Raises:
        RuntimeFailedError: exit_code 127 (command not found), 126 (not executable)
            or 125 (any other failure; the message names the step).
    """
    if wait_for_start and exec_fifo is None:
        raise ValueError("wait_for_start needs exec_fifo")
    if spec.linux.namespace("mount") is None:
        raise RuntimeFailedError("the built-in runtime needs a mount namespace", 125)
    unshare_flags = CloneFlag(0)
    joins: list[tuple[str, CloneFlag]] = []
    for ns in spec.linux.namespaces:
        flag = NAMESPACE_FLAGS[ns.type]
        if ns.path:
            joins.append((ns.path, flag))
        else:
            unshare_flags |= flag
    netns = spec.linux.namespace("network")
    new_netns = netns is not None and not netns.path
    seccomp = compile_seccomp(spec, seccomp_cache)

    process.set_child_subreaper(True)
    caller = os.getpid()
    pid_r, pid_w = os.pipe()
    err_r, err_w = os.pipe()
    fifo_fd = caller_pidfd = None
    try:
        if exec_fifo is not None and wait_for_start:
            fifo_fd = os.open(exec_fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        if die_with_parent:
            caller_pidfd = os.pidfd_open(caller)
        ctx = InitContext(spec=spec, bundle=Path(bundle).absolute(), error_fd=err_w,
                          stdio=(stdin, stdout, stderr), console=console,
                          console_socket=console_socket, console_size=console_size,
                          new_netns=new_netns,
                          exec_fifo_fd=fifo_fd, c1_pidfd=None, caller_pidfd=caller_pidfd,
                          seccomp=seccomp)
        c1 = os.fork()
        if c1 == 0:
            _c1(ctx, caller, pid_r, pid_w, err_r, joins, unshare_flags, cgroup_procs)
    finally:
        for fd in (pid_w, err_w, fifo_fd, caller_pidfd):
            if fd is not None:
                os.close(fd)
    raw_pid = read_all_and_close(pid_r)
    os.waitpid(c1, 0)
    c2 = int(raw_pid) if raw_pid.strip() else 0
    try:
        messages = _read_messages(err_r, stop_at_created=wait_for_start)
    finally:
        os.close(err_r)
    failure = next((m for m in messages if "message" in m), None)
    ok = any(m == MSG_CREATED for m in messages) if wait_for_start else any(
        m == MSG_EXEC for m in messages)
    if failure is None and ok and c2:
        return Launched(pid=c2)
    if c2:
        _reap(c2)
    if failure is None:
        raise RuntimeFailedError("container init exited before starting the process", 125)
    err_no = int(failure.get("errno") or 0)
    code = exit_code_for(err_no) if failure.get("exec") else 125
    raise RuntimeFailedError(str(failure["message"]), code)


def _c1(ctx: InitContext, caller: int, pid_r: int, pid_w: int, err_r: int,
        joins: list[tuple[str, CloneFlag]], unshare_flags: CloneFlag,
        cgroup_procs: Sequence[Path] = ()) -> NoReturn:
    """The intermediate child: enter/create namespaces, fork PID 1, report it, exit."""
    code = 1
    try:
        os.close(pid_r)
        os.close(err_r)
        # Handlers the caller installed (a CLI's SIGINT, pytest's) must not run here.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                    signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        if ctx.caller_pidfd is not None:
            process.set_pdeathsig(signal.SIGKILL)
            if os.getppid() != caller:
                os._exit(1)  # the caller died before the prctl
        step = "cgroup"
        try:
            for procs in cgroup_procs:
                fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, b"0")  # this process
                finally:
                    os.close(fd)
            step = "setns"
            for path, flag in joins:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    libc.setns(fd, int(flag))
                finally:
                    os.close(fd)
            step = "unshare"
            libc.unshare(int(unshare_flags))
            step = "fork"
            if ctx.caller_pidfd is not None:
                ctx.c1_pidfd = os.pidfd_open(os.getpid())
            c2 = os.fork()
        except OSError as err:
            report(ctx.error_fd, step_error(step, err))
            os._exit(1)
        if c2 == 0:
            os.close(pid_w)
            container_init(ctx)
        os.write(pid_w, str(c2).encode())
        code = 0
    except BaseException as err:
        report(ctx.error_fd, step_error("init", err))
    os._exit(code)


def _read_messages(fd: int, stop_at_created: bool) -> list[dict[str, Any]]:
    """JSON lines from the init until EOF (or until "created", for a parked init)."""
    buf = b""
    out: list[dict[str, Any]] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                msg = {"message": line.decode(errors="replace"), "errno": errno.EIO}
            out.append(msg)
            # An error is the init's last word: read on to EOF, by then it has exited.
            if stop_at_created and msg == MSG_CREATED:
                return out
    return out


def _reap(pid: int) -> None:
    """Collect a failed init (it _exits right after reporting; kill it if it lingers)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return


__all__ = ["InitStepError", "Launched", "launch"]
