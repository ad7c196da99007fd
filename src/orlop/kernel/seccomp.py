"""A seccomp filter built and loaded by libseccomp (through ``pyseccomp``, ctypes).

libseccomp turns rules into BPF for every architecture the filter covers, handles the
multiplexed syscalls (socketcall, ipc on x86) and the syscall-number differences of
x86/x32/x86_64; a hand-written BPF program would have to redo all of that.  Names are
libseccomp's (``SCMP_ACT_ERRNO``, ``SCMP_ARCH_X86_64``, ``SCMP_CMP_MASKED_EQ``), the
ones the OCI spec uses.

Importing this module loads libseccomp.so.2 (Debian's ``libseccomp2``): import it
before any fork that must not import (the container init after pivot_root).
"""

from __future__ import annotations

import errno
import os

import pyseccomp

_ARCHES: dict[str, int] = {
    "SCMP_ARCH_NATIVE": pyseccomp.Arch.NATIVE, "SCMP_ARCH_X86": pyseccomp.Arch.X86,
    "SCMP_ARCH_X86_64": pyseccomp.Arch.X86_64, "SCMP_ARCH_X32": pyseccomp.Arch.X32,
    "SCMP_ARCH_ARM": pyseccomp.Arch.ARM, "SCMP_ARCH_AARCH64": pyseccomp.Arch.AARCH64,
    "SCMP_ARCH_MIPS": pyseccomp.Arch.MIPS, "SCMP_ARCH_MIPS64": pyseccomp.Arch.MIPS64,
    "SCMP_ARCH_MIPS64N32": pyseccomp.Arch.MIPS64N32, "SCMP_ARCH_MIPSEL": pyseccomp.Arch.MIPSEL,
    "SCMP_ARCH_MIPSEL64": pyseccomp.Arch.MIPSEL64,
    "SCMP_ARCH_MIPSEL64N32": pyseccomp.Arch.MIPSEL64N32,
    "SCMP_ARCH_PPC": pyseccomp.Arch.PPC, "SCMP_ARCH_PPC64": pyseccomp.Arch.PPC64,
    "SCMP_ARCH_PPC64LE": pyseccomp.Arch.PPC64LE, "SCMP_ARCH_S390": pyseccomp.Arch.S390,
    "SCMP_ARCH_S390X": pyseccomp.Arch.S390X, "SCMP_ARCH_PARISC": pyseccomp.Arch.PARISC,
    "SCMP_ARCH_PARISC64": pyseccomp.Arch.PARISC64, "SCMP_ARCH_RISCV64": pyseccomp.Arch.RISCV64,
}
_OPS: dict[str, int] = {
    "SCMP_CMP_NE": pyseccomp.NE, "SCMP_CMP_LT": pyseccomp.LT, "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ, "SCMP_CMP_GE": pyseccomp.GE, "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}


def action(name: str, errno_ret: int | None) -> int:
    """An OCI action name -> libseccomp's action value.

    ERRNO without errnoRet is EPERM, as runc; TRACE without it is EPERM too (the
    tracer sees that value as the event message, runc's choice).
    """
    ret = errno.EPERM if errno_ret is None else errno_ret
    actions = {
        "SCMP_ACT_KILL": pyseccomp.KILL, "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS, "SCMP_ACT_TRAP": pyseccomp.TRAP,
        "SCMP_ACT_ALLOW": pyseccomp.ALLOW, "SCMP_ACT_LOG": pyseccomp.LOG,
        "SCMP_ACT_ERRNO": pyseccomp.ERRNO(ret), "SCMP_ACT_TRACE": pyseccomp.TRACE(ret),
    }
    if name == "SCMP_ACT_NOTIFY":
        raise ValueError("seccomp action SCMP_ACT_NOTIFY needs a listener, which Orlop's "
                         "runtime does not provide")
    try:
        return int(actions[name])
    except KeyError:
        raise ValueError(f"unknown seccomp action {name!r}") from None


def syscall_number(name: str) -> int | None:
    """The native number of a syscall, or None when libseccomp does not know the name
    (a newer syscall: the rule is skipped, as runc and crun skip it)."""
    nr = int(pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name))
    return nr if nr >= 0 else None


class Filter:
    """A filter being built; ``export()`` gives libseccomp's BPF program for it, which
    kernel/libc.seccomp_set_filter installs (the same program seccomp_load() would)."""

    def __init__(self, default_action: int) -> None:
        self._filter = pyseccomp.SyscallFilter(default_action)
        # no_new_privs is the spec's decision (process.noNewPrivileges), not
        # libseccomp's: without this, seccomp_load() would set it on its own.
        self._filter.set_attr(pyseccomp.Attr.CTL_NNP, 0)

    def add_arch(self, name: str) -> None:
        try:
            arch = _ARCHES[name]
        except KeyError:
            raise ValueError(f"unknown seccomp architecture {name!r}") from None
        try:
            self._filter.add_arch(arch)
        except OSError as err:
            if err.errno != errno.EEXIST:  # the native one is there from the start
                raise

    def add_rule(self, act: int, nr: int, conditions: list[tuple[int, str, int, int]]) -> None:
        """``conditions``: (argument index, SCMP_CMP_* name, value, value two), ANDed."""
        args = []
        for index, op, value, value_two in conditions:
            try:
                args.append(pyseccomp.Arg(index, _OPS[op], value, value_two))
            except KeyError:
                raise ValueError(f"unknown seccomp operator {op!r}") from None
        self._filter.add_rule(act, nr, *args)

    def export(self) -> bytes:
        """The BPF program (struct sock_filter[]) libseccomp generates for the filter."""
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            with os.fdopen(os.dup(fd), "wb") as f:
                self._filter.export_bpf(f)
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
