"""Whether a root's namespace keeper (engine/net/pool.py) is alive, without importing it.

Every command's reconcile looks at ``RUNROOT/netpool`` once a keeper has run there; the
keeper module brings ``secrets``, ``socket`` and ``threading`` (~7 ms of an ``exec``), and
all but a repair after a killed keeper need only this lock test (the one the monitors'
locks get, which reconcile has imported).
"""

from __future__ import annotations

import os

from orlop.engine.containers.procio import lock_held

LOCK_NAME = "keeper.lock"


def keeper_alive(pool_dir: str) -> bool:
    """True while a keeper holds its lock (for its whole life); False when there is no
    lock file or nobody holds it (a dead keeper: the sweep repairs)."""
    return lock_held(os.path.join(pool_dir, LOCK_NAME))
