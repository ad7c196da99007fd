"""Keeps the kernel's cgroup migration lock warm while a command works toward joining a
cgroup (issue 17: ``exec``).

Why: moving a process into a cgroup takes the kernel's ``cgroup_threadgroup_rwsem`` for
writing, and the first writer after a quiet spell waits for an RCU grace period
(``rcu_sync_enter``), while a writer that comes within a grace period of the previous one
does not.  Measured here (cgroup v1, 2 vCPUs): a first migration 8 to 18 ms, the ones
that follow 0.07 ms.  ``exec`` joins the container's cgroups ~40 ms after it starts, so
it paid the whole grace period, a quarter of its time, idle.

:func:`start` starts a thread that moves this process into the cgroup it is already in
(writing ``0`` to its own ``cgroup.procs``: a migration that changes nothing) every few
milliseconds: its first write waits out the grace period while the command imports and
plans, and the later ones keep the lock warm until :func:`stop` (called once the join
is done) or :data:`LIMIT_S` at most.  Nothing else is changed: the process stays where it
was, in every hierarchy.  Where no ``cgroup.procs`` of its own can be opened (a cgroup
namespace with a read-only ``/sys/fs/cgroup``, no cgroupfs), nothing is started.  Uses
``_thread``, not ``threading`` (~1 ms of imports), and only built-in modules.
"""

import _thread
import os
import time

INTERVAL_S = 0.004
LIMIT_S = 2.0
CGROUP_ROOT = "/sys/fs/cgroup"

_stop = [False]


def own_procs_candidates(proc_cgroup: str, root: str = CGROUP_ROOT) -> list[str]:
    """The ``cgroup.procs`` files this process's cgroups may have, from the text of
    ``/proc/self/cgroup``: each v1 hierarchy mounted as ``<root>/<controllers>``, the v2
    one as ``<root>/unified`` (hybrid) or ``<root>`` (unified only)."""
    out: list[str] = []
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        controllers, path = parts[1], parts[2].rstrip("/")
        if ".." in path.split("/"):
            continue
        if controllers.startswith("name="):
            continue
        if controllers:
            out.append(f"{root}/{controllers}{path}/cgroup.procs")
        else:
            out.append(f"{root}/unified{path}/cgroup.procs")
            out.append(f"{root}{path}/cgroup.procs")
    return out


def start() -> bool:
    """Start keeping the lock warm; True when the thread was started."""
    _stop[0] = False
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False
    for path in own_procs_candidates(text):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            _thread.start_new_thread(_keep_warm, (fd, time.monotonic() + LIMIT_S))
        except RuntimeError:
            os.close(fd)
            return False
        return True
    return False


def stop() -> None:
    """The join is done (or will not happen): the thread ends at its next wake-up."""
    _stop[0] = True


def _keep_warm(fd: int, deadline: float) -> None:
    try:
        while not _stop[0] and time.monotonic() < deadline:
            os.write(fd, b"0")  # this process, into the cgroup it is in
            time.sleep(INTERVAL_S)
    except BaseException:  # a warmer only: the join itself reports its errors
        pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
