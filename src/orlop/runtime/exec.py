"""exec_in(): run a new process inside a running container (runc exec, in Python).

Process model:

    caller ── fork ──> E1: dumpable 0, joins the container's cgroups (host paths),
                       setns(pidfd, mnt|pid|uts|ipc|net) in one call ── fork ──> E2
                       E1 writes E2's pid to the caller and _exits      E2: in the pid
                                                                        namespace too
    E2: stdio (or the pty), chdir, bounding set, groups/gid/uid, capabilities,
        no_new_privs, execve of a path looked up *before* joining.

The caller passes a pidfd of the container's PID 1, opened and checked against the
store by the engine, so the namespaces joined are that container's even if its pid was
reused since (setns on a pidfd; Linux >= 5.8).

CVE-2019-5736 (runc overwritten through /proc/self/exe) is the reason for three rules:
E1 and E2 are non-dumpable from before the join until execve, so nothing in the
container (no CAP_SYS_PTRACE) can open /proc/<E2>/exe, our interpreter; after setns
nothing is imported and no file is read: every function E2 calls is bound beforehand
(imports at the top of this module) and it only makes syscalls until execve; and the
command is looked up in the container's root from outside (openat2 RESOLVE_IN_ROOT on
/proc/<pid>/root), not by running PATH lookups inside.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
from pathlib import Path

from orlop.errors import RuntimeFailedError
from orlop.kernel import cgwarm, libc, process
from orlop.kernel.fdio import read_all_and_close
from orlop.kernel.flags import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, TIOCSCTTY, CloneFlag
from orlop.records import FrozenRecord
from orlop.runtime.failure import InitStepError, encode, report, step_error
from orlop.runtime.procsetup import (
    MSG_EXEC,
    close_fds_from,
    compile_seccomp,
    exit_code_for,
    finalize_namespace,
    lookup_path,
    path_env,
)
from orlop.runtime.spec import Spec

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import NoReturn

    from orlop.runtime.seccomp import Program

EXEC_NAMESPACES: dict[str, CloneFlag] = {
    "mount": CloneFlag.NEWNS, "pid": CloneFlag.NEWPID, "uts": CloneFlag.NEWUTS,
    "ipc": CloneFlag.NEWIPC, "network": CloneFlag.NEWNET, "cgroup": CloneFlag.NEWCGROUP,
}


class ExecRequest(FrozenRecord):
    _fields = ("spec", "pidfd", "pid", "cgroup_procs", "detach", "seccomp_cache")
    __slots__ = _fields
    spec: Spec  # the container's spec with process replaced by the exec's
    pidfd: int  # of the container's PID 1
    pid: int  # the same, for /proc/<pid>/root
    cgroup_procs: tuple[str, ...]  # cgroup.procs files to join
    detach: bool  # no one waits: E2 is not the caller's child
    seccomp_cache: Path | None  # where compiled seccomp programs are kept

    def __init__(self, spec: Spec, pidfd: int, pid: int, cgroup_procs: tuple[str, ...] = (),
                 detach: bool = False, seccomp_cache: Path | None = None) -> None:
        self._set(spec=spec, pidfd=pidfd, pid=pid, cgroup_procs=cgroup_procs, detach=detach,
                  seccomp_cache=seccomp_cache)


def resolve_in_container(pid: int, name: str, path_env: str) -> str:
    """Go's LookPath, in the container's root, from the host (no code of ours runs there).

    Raises:
        RuntimeFailedError: exit code 127 (not found) or 126 (not executable).
    """
    root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def stat_in_root(path: str) -> os.stat_result:
        fd = libc.openat2(root, path, os.O_PATH | os.O_CLOEXEC,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    try:
        return lookup_path(name, path_env, stat_in_root)
    except InitStepError as err:
        raise RuntimeFailedError(err.message, exit_code_for(err.errno)) from None
    finally:
        os.close(root)


def exec_in(req: ExecRequest, *, stdin: int, stdout: int, stderr: int,
            console: int | None = None) -> int:
    """Start the process; returns its host pid (the caller's child unless detached).

    Raises:
        RuntimeFailedError: 127/126 when the command cannot be executed, 125 otherwise.
    """
    proc = req.spec.process
    if not proc.args:
        raise RuntimeFailedError("no command specified", 125)
    exe = resolve_in_container(req.pid, proc.args[0], path_env(proc.env))
    flags = CloneFlag(0)
    for ns in req.spec.linux.namespaces:
        # A namespace the container joined by path is its namespace all the same: the
        # exec joins it through /proc/PID/ns too (bridge networks are joined so).
        if ns.type in EXEC_NAMESPACES:
            flags |= EXEC_NAMESPACES[ns.type]
    env = {k: v for k, _, v in (e.partition("=") for e in proc.env) if k}
    # The container's filter applies to every process in it (runc setns_init_linux.go).
    seccomp = compile_seccomp(req.spec, req.seccomp_cache)
    if not req.detach:
        process.set_child_subreaper(True)
    pid_r, pid_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        e1 = os.fork()
        if e1 == 0:
            os.close(pid_r)
            os.close(err_r)
            _e1(req, flags, exe, env, (stdin, stdout, stderr), console, pid_w, err_w, seccomp)
    finally:
        os.close(pid_w)
        os.close(err_w)
    raw = read_all_and_close(pid_r)
    os.waitpid(e1, 0)
    cgwarm.stop()  # the cgroups are joined (or failed to be): no more warming
    messages = [json.loads(line) for line in read_all_and_close(err_r).splitlines() if line]
    e2 = int(raw) if raw.strip() else 0
    failure = next((m for m in messages if "message" in m), None)
    if failure is None and e2 and MSG_EXEC in messages:
        return e2
    if e2 and not req.detach:
        try:
            os.waitpid(e2, 0)
        except ChildProcessError:
            pass
    if failure is None:
        raise RuntimeFailedError("the exec'd process died before starting", 125)
    code = exit_code_for(int(failure.get("errno") or 0)) if failure.get("exec") else 125
    raise RuntimeFailedError(str(failure["message"]), code)


def _e1(req: ExecRequest, flags: CloneFlag, exe: str, env: dict[str, str],
        stdio: tuple[int, int, int], console: int | None, pid_w: int,
        err_w: int, seccomp: Program | None) -> NoReturn:
    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                    signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
            signal.signal(sig, signal.SIG_DFL)
        process.set_dumpable(False)
        step = "cgroup"
        try:
            for path in req.cgroup_procs:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, b"0")  # "0" is the writing process itself
                finally:
                    os.close(fd)
            step = "setns"
            libc.setns(req.pidfd, int(flags))
            step = "fork"
            e2 = os.fork()
        except OSError as err:
            report(err_w, step_error(step, err))
            os._exit(1)
        if e2 == 0:
            os.close(pid_w)
            _e2(req, exe, env, stdio, console, err_w, seccomp)
        os.write(pid_w, str(e2).encode())
        code = 0
    except BaseException as err:
        report(err_w, step_error("exec", err))
    os._exit(code)


def _e2(req: ExecRequest, exe: str, env: dict[str, str], stdio: tuple[int, int, int],
        console: int | None, err_w: int, seccomp: Program | None) -> NoReturn:
    """Inside every namespace of the container: only syscalls from here to execve."""
    code = 125
    proc = req.spec.process
    try:
        try:
            if console is not None:
                os.setsid()
                fcntl.ioctl(console, TIOCSCTTY, 0)
                stdio = (console, console, console)
            copies = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in stdio]
            for target, fd in enumerate(copies):
                os.dup2(fd, target, inheritable=True)
            close_fds_from(3, [err_w])  # no host fd may reach the container (CVE-2024-21626)
        except (OSError, InitStepError, ValueError) as err:
            raise step_error("exec setup", err) from err
        cwd = proc.cwd or "/"
        try:
            os.chdir(cwd)
        except OSError as err:  # runc's words (what dockerd shows for `exec -w /nodir`)
            raise InitStepError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                                f"{os.strerror(err.errno or errno.EIO).lower()}",
                                err.errno or errno.EIO) from err
        try:
            finalize_namespace(req.spec, seccomp)
        except (OSError, InitStepError, ValueError) as err:
            raise step_error("exec setup", err) from err
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        os.write(err_w, encode(MSG_EXEC))
        try:
            os.execve(exe, proc.args, env)
        except OSError as err:
            raise InitStepError(
                f'exec: "{proc.args[0]}": {os.strerror(err.errno or errno.EIO).lower()}',
                err.errno or errno.EIO, exec_failure=True) from err
    except InitStepError as err:
        report(err_w, err)
        if err.exec_failure:
            code = exit_code_for(err.errno)
    except BaseException as err:
        report(err_w, step_error("exec", err))
    os._exit(code)


