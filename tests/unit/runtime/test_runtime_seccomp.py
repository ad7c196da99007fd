"""runtime/seccomp: OCI section -> libseccomp program, cached; loaded in a forked child
(with no_new_privs: no privilege needed) to check what the kernel then does."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from orlop.kernel import libc, process
from orlop.runtime.failure import InitStepError
from orlop.runtime.seccomp import compile_program
from orlop.runtime.spec import Seccomp


def _errno_in_child(section: dict[str, object], mode: int = 0o755) -> int:
    """Load the program in a child, mkdir under a missing directory with ``mode``, return
    its errno: ENOENT means the filter let the call through to the kernel."""
    program = compile_program(Seccomp.from_dict(section))
    pid = os.fork()
    if pid == 0:
        code = 100
        try:
            process.set_no_new_privs()
            libc.seccomp_set_filter(program.bpf, program.flags)
            os.mkdir("/nonexistent-dir/x", mode)
            code = 0
        except OSError as err:
            code = err.errno or 99
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_errno_rule_and_default_errno_ret() -> None:
    deny_mkdir = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat", "no_such_syscall_name"], "action": "SCMP_ACT_ERRNO",
         "errnoRet": errno.EROFS}]}
    assert _errno_in_child(deny_mkdir) == errno.EROFS
    allow_nothing_but = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["exit_group", "exit", "prctl", "seccomp", "sched_getaffinity", "write",
                   "rt_sigaction", "rt_sigprocmask", "munmap", "brk", "mmap"],
         "action": "SCMP_ACT_ALLOW"}]}
    assert _errno_in_child(allow_nothing_but) == errno.EPERM  # runc's default


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="os.mkdir is mkdir(2) on x86_64")
def test_same_argument_conditions_are_ored() -> None:
    """Docker's personality rules: several values of argument 0, any one allowed."""
    section = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"},
                  {"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]}]}
    assert _errno_in_child(section, 0o755) == errno.ENOENT  # neither value: let through
    assert _errno_in_child(section, 0o700) == errno.EACCES
    assert _errno_in_child(section, 0o777) == errno.EACCES


def test_cache_is_keyed_by_profile(tmp_path: Path) -> None:
    a = Seccomp.from_dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    b = Seccomp.from_dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]})
    pa = compile_program(a, tmp_path)
    assert compile_program(a, tmp_path) == pa
    pb = compile_program(b, tmp_path)
    assert pb.bpf != pa.bpf
    assert len(list(tmp_path.glob("*.bpf"))) == 2
    assert compile_program(a) == pa  # the cached program is libseccomp's, byte for byte


def test_bad_profiles_name_the_value() -> None:
    for section, text in (
        ({"defaultAction": "SCMP_ACT_BOGUS"}, "unknown seccomp action"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]},
         "unknown seccomp architecture"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
         "unknown flag"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, "SCMP_ACT_NOTIFY"),
    ):
        with pytest.raises(InitStepError, match=text):
            compile_program(Seccomp.from_dict(section))
    with pytest.raises(ValueError, match="comparison operator"):
        Seccomp.from_dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NOPE"}]}]})
