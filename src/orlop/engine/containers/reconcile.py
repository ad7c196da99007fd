"""What the first command after a kill repairs: containers whose monitor or creator died.

Cheap when nothing is wrong: one query for live containers, one non-blocking flock each,
and one listdir of the operation markers (state/inflight.py).  For a container whose
monitor died: kill what is left of it (by its cgroup, never by a pid that may have been
reused), mark it exited, and remove it if it was --rm.  A container whose creator died
is removed with the anonymous volumes it was making.  Whenever something died (a
monitor, a creator, or any process in the middle of an operation), the full repair
(engine/repair.py) follows.
"""

from __future__ import annotations

import contextlib
import os

from orlop.engine import store
from orlop.errors import OrlopError
from orlop.state import inflight

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from orlop.engine.services import Services


def reconcile(svc: Services) -> None:
    config = svc.config
    rows = svc.containers.live()
    if not rows and not inflight.dead_markers(config.root) and not os.path.isdir(
            config.run_root / "netns") and not os.path.isdir(config.run_root / "netpool"):
        return  # nothing live, nothing interrupted: the common case costs one query
    from orlop.engine.containers.procio import is_locked

    live = [cid for cid, status in rows if status != "creating"]
    half = [cid for cid, status in rows if status == "creating"
            and not is_locked(config.run_root, cid)]
    if half:
        # Only then (with shutil, zlib, bz2, lzma: ~3 ms): an `exec` into a running
        # container passes here every time.
        from orlop.engine.containers.remove import remove_half_created

        for cid in half:
            remove_half_created(config, svc.containers, svc.volumes, cid)
    dead = [cid for cid in live if not is_locked(config.run_root, cid)]
    removed = []
    for cid in dead:
        from orlop.engine.containers.cgroups import Cgroup
        from orlop.engine.timefmt import now_rfc3339

        cg = Cgroup(cid)
        oom = cg.oom_killed() if cg.exists() else False
        if cg.exists():
            cg.kill_all()
            cg.destroy()
        with svc.containers.write() as conn:
            c = store.get_by_id(conn, cid)
            if c is None or not c.alive or is_locked(config.run_root, cid):
                continue
            store.set_state(conn, cid, status="exited", pid=0, exit_code=137,
                            finished_at=now_rfc3339(), oom_killed=int(oom),
                            error="the container's monitor process died")
        svc.events.died(c, 137, c.started_at)
        if c.host_config.auto_remove:
            removed.append(cid)
    if dead or half or inflight.dead_markers(config.root):
        repair(svc)
    if os.path.isdir(config.run_root / "netns"):
        from orlop.engine.net.sweep import sweep

        sweep(config, lambda cid: not is_locked(config.run_root, cid))
    if os.path.isdir(config.run_root / "netpool"):  # a keeper has run here
        _sweep_dead_keeper(svc)
    if removed:
        from orlop.engine.containers.remove import remove
    for cid in removed:
        with contextlib.suppress(OrlopError):
            c = svc.containers.resolve(cid)
            remove(svc, c, cid, force=True, volumes=True, locked=False)


def _sweep_dead_keeper(svc: Services) -> None:
    """Repair after a namespace keeper killed without its exit; a live one (the usual
    case) is told by its lock alone, without importing the keeper's module."""
    from orlop.engine.net.poollock import keeper_alive

    if not keeper_alive(str(svc.config.run_root / "netpool")):
        from orlop.engine.net.pool import sweep as sweep_pool

        sweep_pool(svc.config, svc.networks)


def repair(svc: Services) -> None:
    """The full reconciliation, after a kill (engine/repair.py): what each step of
    an interrupted operation can leave -- volume staging and trash directories,
    half-imported volumes, rows without directories, references held by containers
    that are gone or not running, driver mounts nobody uses, subpath pins, host
    mounts of containers that are gone, container directories without a record, run
    files and old ``.exit`` files, staging directories under ``tmp/``."""
    from orlop.engine.repair import repair as full_repair

    with inflight.operation(svc.config.root):  # a kill in here: the next one repairs
        full_repair(svc.config, svc.containers, svc.volumes, svc.images)
