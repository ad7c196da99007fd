"""prctl(2) helpers for process lifetime and privilege: subreaper, pdeathsig, NNP, dumpable;
whether a process still runs (for leftovers named by their creator's pid)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from orlop.kernel import libc
from orlop.kernel.consts import (
    PR_GET_NO_NEW_PRIVS,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_KEEPCAPS,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
)


def set_child_subreaper(on: bool = True) -> None:
    """Orphaned descendants are reparented to us, so the runtime can waitpid() a grandchild."""
    libc.prctl(PR_SET_CHILD_SUBREAPER, int(on))


def set_pdeathsig(signum: int) -> None:
    """Deliver ``signum`` to us when the parent *thread* exits (0 clears it).

    The kernel clears this on a change of euid/egid/fsuid/fsgid and on exec of a
    set-id or file-capability binary, so set it again after switching identity.
    """
    libc.prctl(PR_SET_PDEATHSIG, signum)


def set_no_new_privs() -> None:
    """execve() can no longer grant privileges (set-id bits, file capabilities)."""
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    return libc.prctl(PR_GET_NO_NEW_PRIVS) == 1


def set_dumpable(on: bool) -> None:
    """A non-dumpable process's /proc/<pid> is owned by root and not ptrace-able.

    The container init keeps it off until execve (which resets it), so nothing in the
    container can open /proc/1/exe - the host interpreter - meanwhile: the class of
    CVE-2019-5736 (runc binary overwritten through /proc/self/exe).
    """
    libc.prctl(PR_SET_DUMPABLE, int(on))


def set_keepcaps(on: bool) -> None:
    """Keep the permitted set across setuid() from 0 to non-0 (effective is still cleared)."""
    libc.prctl(PR_SET_KEEPCAPS, int(on))


def process_alive_since(pid: int, mtime: float) -> bool:
    """True if ``pid`` runs and started no later than ``mtime`` (a file's mtime): the
    process that wrote a ``<name>-<pid>-...`` entry still runs, not a newer process that
    happens to reuse the pid of a dead one (the leftover is then someone's work in
    progress and must be left alone)."""
    if pid == os.getpid():
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
    except (FileNotFoundError, ProcessLookupError, StopIteration, IndexError, ValueError):
        return False
    started = btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= mtime + 1


def abandoned_entries(directory: Path, pattern: re.Pattern[str], pid_group: int) -> list[Path]:
    """The entries of ``directory`` whose name matches ``pattern`` and whose maker, the pid
    in the match's group ``pid_group``, is gone (:func:`process_alive_since` against
    the entry's mtime); none when the directory does not exist."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        path = directory / name
        try:
            mtime = os.lstat(path).st_mtime
        except FileNotFoundError:
            continue
        if not process_alive_since(int(m.group(pid_group)), mtime):
            out.append(path)
    return out
