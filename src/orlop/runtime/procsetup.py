"""What the container init (init.py) and exec (exec.py) both do to a process just
before execve: close inherited fds, take the container's identity and capabilities,
find the command in PATH, map an execve failure to Docker's exit code.

Kept apart from init.py so that `orlop exec` does not import the rootfs machinery
(prepare_rootfs, pivot_root, finalize_rootfs) it never uses: importing is most of an
exec's cost.  Only the standard library's os/errno/stat and kernel/ wrappers here.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from orlop.errors import RuntimeFailedError
from orlop.kernel import caps, libc, process
from orlop.runtime.failure import InitStepError
from orlop.runtime.spec import DEFAULT_PATH, Spec

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.runtime.seccomp import Program

# Messages the init and exec children write to the caller besides errors.
MSG_CREATED = {"status": "created"}
MSG_EXEC = {"status": "exec"}


def exit_code_for(err_no: int) -> int:
    """Docker's codes: 127 command not found, 126 not executable (moby start.go)."""
    if err_no in (errno.ENOENT, errno.ENOTDIR):
        return 127
    if err_no in (errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOEXEC):
        return 126
    return 125


def close_fds_from(first: int, keep: list[int]) -> None:
    """Close every fd >= first except those in ``keep`` (close_range between them)."""
    start = first
    for fd in sorted(k for k in keep if k >= first):
        if fd > start:
            libc.close_range(start, fd - 1)
        start = fd + 1
    libc.close_range(start)


def compile_seccomp(spec: Spec, cache_dir: Path | None = None) -> Program | None:
    """The spec's seccomp program, made by the caller before any fork: a bad profile
    fails before a namespace exists, and libseccomp is imported (on a cache miss) while
    imports are still safe (never after pivot_root)."""
    if spec.linux.seccomp is None:
        return None
    from orlop.runtime.seccomp import compile_program

    try:
        return compile_program(spec.linux.seccomp, cache_dir)
    except InitStepError as err:
        raise RuntimeFailedError(err.message, 125) from err


def finalize_namespace(spec: Spec, seccomp: Program | None = None) -> None:
    """Capabilities, identity and the seccomp filter, in the only order that works
    (runc finalizeNamespace and standard_init_linux.go).

    The bounding set is dropped while we are still root with CAP_SETPCAP; KEEPCAPS
    keeps the permitted set across setuid(non-zero); then capset sets exactly the
    spec's sets, ambient last (it needs permitted and inheritable).

    Without no_new_privs the kernel lets only a CAP_SYS_ADMIN process load a seccomp
    filter, so the filter goes in first, while we are still fully privileged (the
    syscalls that follow - setgroups, setres[ug]id, capset, prctl - are ones every
    profile that can run a container allows).  With no_new_privs it goes in last, as
    close to execve as possible, so the profile need not allow our own set-up.
    """
    proc = spec.process
    if seccomp is not None and not proc.no_new_privileges:
        _load(seccomp)
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
        if seccomp is not None:
            _load(seccomp)


def _load(seccomp: Program) -> None:
    try:
        libc.seccomp_set_filter(seccomp.bpf, seccomp.flags)
    except OSError as err:
        raise InitStepError(f"seccomp: loading the filter: {os.strerror(err.errno or 0)}",
                            err.errno or 0) from err


def _mask(names: list[str], last: int) -> int:
    """Capabilities newer than the running kernel are skipped, as runc does."""
    return caps.cap_mask(names) & ((1 << (last + 1)) - 1)


def path_env(env: list[str]) -> str:
    """The process's PATH (the last PATH= wins), Docker's default without one."""
    value = None
    for item in env:
        if item.startswith("PATH="):
            value = item[5:]
    return DEFAULT_PATH if value is None else value


def env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def is_executable(path: str, stat_fn: Callable[[str], os.stat_result]) -> int:
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
    """Find ``name`` like Go's exec.LookPath (so like runc and Docker).

    A name with a "/" is used as is; otherwise each PATH entry is tried in order ("" is
    "."), and a non-executable match is skipped.  ``stat_fn`` decides where files are
    looked at: the init calls it after pivot_root (os.stat sees the container's files),
    exec with a stat that resolves inside the container's root from the host.

    Raises:
        InitStepError: with exec_failure set, errno ENOENT ("executable file not found
            in $PATH", exit 127) or EACCES/EISDIR (exit 126).
    """
    if "/" in name:
        code = is_executable(name, stat_fn)
        if code == 0:
            return name
        if code in (errno.ENOENT, errno.ENOTDIR):
            raise InitStepError(f'exec: "{name}": stat {name}: no such file or directory',
                                code, exec_failure=True)
        reason = "is a directory" if code == errno.EISDIR else "permission denied"
        raise InitStepError(f'exec: "{name}": {reason}', code, exec_failure=True)
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", name)
        if is_executable(candidate, stat_fn) == 0:
            return candidate
    raise InitStepError(f'exec: "{name}": executable file not found in $PATH', errno.ENOENT,
                        exec_failure=True)
