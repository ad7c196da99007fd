"""``linux.seccomp`` -> a BPF program made by libseccomp, built before the fork, cached.

runc's libcontainer/seccomp InitSeccomp, step for step: the default action (ERRNO
with defaultErrnoRet, EPERM without), the architectures, then one rule per syscall
name.  A name libseccomp does not know is skipped (a profile lists syscalls newer
than some kernels); a rule whose action is the default action adds nothing.
Conditions on different arguments are ANDed in one rule; several conditions on the
same argument (``personality`` in Docker's profile) are ORed, one rule each, as runc.

libseccomp's BPF program is what gets loaded (kernel/libc.seccomp_set_filter, the
same seccomp(2) call seccomp_load() makes).  Generating it takes libseccomp ~10-20 ms
for Docker's profile on three architectures, and importing the binding ~8 ms, so the
program is cached by the sha256 of the section: one start per profile pays, the rest
read a few KB.  The cache lives under the engine's run root (root-only, tmpfs, gone
at reboot when the kernel or libseccomp may have changed).

Building happens in the caller, before any fork: a bad profile fails before any
namespace exists, and the init only makes the one seccomp(2) call.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from orlop.digest import sha256_hex
from orlop.records import FrozenRecord
from orlop.runtime.failure import InitStepError
from orlop.runtime.spec import Seccomp

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.kernel.seccomp import Filter

# OCI flags -> seccomp(2) SECCOMP_FILTER_FLAG_* bits.
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
         "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_CACHE_FORMAT = "1"  # bump when what is cached, or how it is made, changes


class Program(FrozenRecord):
    _fields = ("bpf", "flags")
    __slots__ = _fields
    bpf: bytes  # struct sock_filter[]
    flags: int  # SECCOMP_FILTER_FLAG_*

    def __init__(self, bpf: bytes, flags: int) -> None:
        self._set(bpf=bpf, flags=flags)


def compile_program(profile: Seccomp, cache_dir: Path | None = None) -> Program:
    """The profile's program, from the cache when it is there.

    Raises:
        InitStepError: a bad profile (unknown action, architecture, flag, operator).
    """
    flags = 0
    for name in profile.flags:
        if name not in FLAGS:
            raise InitStepError(f"seccomp: unknown flag {name!r}", errno.EINVAL)
        flags |= FLAGS[name]
    key = sha256_hex(json.dumps([_CACHE_FORMAT, os.uname().machine, profile.to_dict()],
                                sort_keys=True).encode())
    path = cache_dir / f"{key}.bpf" if cache_dir is not None else None
    if path is not None:
        try:
            return Program(path.read_bytes(), flags)
        except FileNotFoundError:
            pass
    try:
        bpf = build_filter(profile).export()
    except (ValueError, OSError) as err:
        raise InitStepError(f"seccomp: {err}", getattr(err, "errno", None) or errno.EINVAL
                            ) from err
    if path is not None:
        _store(path, bpf)
    return Program(bpf, flags)


def _store(path: Path, bpf: bytes) -> None:
    """Write-then-rename in a root-only directory: a reader sees all of it or nothing."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, bpf)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache: the next start builds it again


def build_filter(profile: Seccomp) -> Filter:
    """The libseccomp filter for the profile (imports the binding: ~8 ms)."""
    from orlop.kernel.seccomp import Filter, action, syscall_number

    default = action(profile.default_action, profile.default_errno_ret)
    filt = Filter(default)
    for arch in profile.architectures:
        filt.add_arch(arch)
    for rule in profile.syscalls:
        act = action(rule.action, rule.errno_ret)
        if act == default:
            continue
        conditions = [(a.index, a.op, a.value, a.value_two) for a in rule.args]
        indexes = [a.index for a in rule.args]
        if len(set(indexes)) != len(indexes):
            groups = [[c] for c in conditions]  # OR: one rule per condition
        else:
            groups = [conditions]
        for name in rule.names:
            nr = syscall_number(name)
            if nr is None:
                continue
            for group in groups:
                filt.add_rule(act, nr, group)
    return filt
