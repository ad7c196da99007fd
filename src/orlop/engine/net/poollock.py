"""Whether a root's namespace keeper (engine/net/pool.py) is alive, without importing it.

Every command's reconcile looks at ``RUNROOT/netpool`` once a keeper has run there; the
keeper module brings ``secrets``, ``socket`` and ``threading`` (~7 ms of an ``exec``), and
all but a repair after a killed keeper need only this lock test.
"""

from __future__ import annotations

import fcntl
import os

LOCK_NAME = "keeper.lock"


def keeper_alive(pool_dir: str) -> bool:
    """True while a keeper holds its lock (exclusively, for its whole life); False when
    there is no lock file or nobody holds it (a dead keeper: the sweep repairs)."""
    try:
        fd = os.open(os.path.join(pool_dir, LOCK_NAME), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock taken when nobody held it
    return False
