"""The full reconciliation, run by the next command after a kill (engine/containers/reconcile.py).

Every multi-step operation orders its steps so that a SIGKILL between any two leaves the
database consistent and the disk holding at most *leftovers* (design.md, "State on
disk"): things are recorded before they are made (a container's 'creating' row and the
names of its anonymous volumes), made under a temporary name and renamed into place
(volumes, layers, an imported volume's content), or marked before their data goes (a
volume's row deleted together with the rename of its directory to the trash).  What a
kill can leave, and what repairs it here:

* staging/trash directories under ``volumes/`` and ``tmp/``, a half-imported volume
  (it is a staging directory until its last step): deleted;
* a volume row without its directory, or a directory without its row: the volume
  service's reconcile (dropped, recreated or adopted);
* references (``volume_mounts``) of containers that are gone or whose lock nobody holds
  (a `run` killed while it started the container), and driver mounts (tmpfs, ext4, bind
  volumes) that nobody references any more: released, unmounted;
* subpath pins (``<run root>/pins/<pid>-...``) of dead processes: unmounted, removed;
* host mounts below a container's directory whose container nobody runs: unmounted;
* container directories without a record (an `rm` killed after its delete), run files
  of containers that are gone, ``.exit`` files older than ``exitfile.EXIT_FILE_TTL_S``.

It is cheap enough to run after every kill (a few listdirs, one read of the mount table,
one query per table) but not on every command: the reconciliation runs it only when a
dead monitor, a dead creator or a dead operation marker (state/inflight.py) says so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.engine.containers.exitfile import sweep_exit_files
from orlop.engine.containers.procio import is_locked
from orlop.engine.containers.runner import pins_dir
from orlop.errors import OrlopError
from orlop.kernel import fs
from orlop.kernel.flags import MNT_DETACH
from orlop.kernel.mountinfo import mount_points_under
from orlop.kernel.process import process_alive_since
from orlop.state import inflight
from orlop.volumes.fsutil import remove_path

if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.store import ContainerStore
    from orlop.images.store import ImageStore
    from orlop.volumes.service import VolumeService

_RUN_SUFFIXES = (".lock", ".stdin", ".fifo", ".exit")


def repair(cfg: EngineConfig, containers: ContainerStore, volumes: VolumeService,
           images: ImageStore) -> None:
    """Repair everything a killed process can leave (the module docstring).

    A step that fails does not fail the command that ran it (the user asked for
    something else): the other steps still run, and the dead markers stay, so the next
    command tries again."""
    with inflight.repairing(cfg.root):
        markers = inflight.dead_markers(cfg.root)
        done = [
            _step(lambda: release_dead_pins(pins_dir(cfg.run_root))),
            _step(lambda: not volumes.reconcile(_holders(cfg, containers)).errors),
            _step(lambda: unmount_dead_containers(cfg)),
            _step(lambda: sweep_container_dirs(cfg, containers)),
            _step(lambda: sweep_run_files(cfg, containers)),
            _step(images.reconcile),
        ]
        if all(done):
            inflight.clear(cfg.root, markers)


def _step(fn: Callable[[], object]) -> bool:
    """Run one repair step; False if it failed (a ``False`` result counts as failed)."""
    try:
        return fn() is not False
    except (OSError, OrlopError):
        return False


def _holders(cfg: EngineConfig, containers: ContainerStore) -> set[str]:
    """The containers whose volume references are real: a live process (monitor, or
    the CLI starting it) holds the container's lock.  Every other reference belongs to
    a process that died (or a container that is gone) and is released."""
    return {ref for ref in containers.volume_mount_refs() if is_locked(cfg.run_root, ref)}


def release_dead_pins(pins: Path) -> None:
    """Subpath pins (runner._with_source) whose process is gone: unmount, remove."""
    names = _listdir(pins)
    for name in names:
        pid = name.split("-", 1)[0]
        path = pins / name
        try:
            mtime = os.lstat(path).st_mtime
        except FileNotFoundError:
            continue
        if pid.isdigit() and process_alive_since(int(pid), mtime):
            continue
        _unmount(str(path))
        with contextlib.suppress(OSError):
            if path.is_dir():
                os.rmdir(path)
            else:
                os.unlink(path)  # the pin of a file subpath


def unmount_dead_containers(cfg: EngineConfig) -> None:
    """Host mounts below ``containers/<id>/`` of a container no live process holds.

    Orlop mounts a container's overlay inside the runtime's (or a helper's) private
    mount namespace, so normally there are none; this catches one made by an older
    version or an external tool, which would keep the container's directory busy."""
    base = str(cfg.containers_dir)
    for mp in mount_points_under(base):
        cid = mp[len(base) + 1:].split("/", 1)[0]
        if cid and not is_locked(cfg.run_root, cid):
            _unmount(mp)


def sweep_container_dirs(cfg: EngineConfig, containers: ContainerStore) -> None:
    """Directories of containers with no record: an `rm` killed after its delete.

    A directory is made only after its record is committed (create_container), and
    this lists the directories before it reads the records, so a directory without a
    record is never a create in progress."""
    d = cfg.containers_dir
    names = _listdir(d)
    if not names:
        return
    known = containers.ids()
    for name in names:
        if name not in known and len(name) == 64:
            with contextlib.suppress(OSError):  # a mount still there stops it (EBUSY)
                remove_path(d / name)


def sweep_run_files(cfg: EngineConfig, containers: ContainerStore) -> None:
    """Lock, stdin and fifo files of containers that are gone, and old ``.exit`` files.

    Listed before the records are read: a container created meanwhile has a record by
    the time it makes its files (its lock is taken after the 'creating' row commits)."""
    d = cfg.run_root / "containers"
    names = _listdir(d)
    if not names:
        return
    known = containers.ids()
    sweep_exit_files(d, names)
    for name in names:
        cid, dot, suffix = name.partition(".")
        if not dot or len(cid) != 64 or suffix == "exit" or "." + suffix not in _RUN_SUFFIXES:
            continue
        path = d / name
        if cid in known or (suffix == "lock" and is_locked(cfg.run_root, cid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _listdir(d: Path) -> list[str]:
    """The names in ``d``; none when it does not exist (yet): nothing there to sweep."""
    try:
        return os.listdir(d)
    except FileNotFoundError:
        return []


def _unmount(path: str) -> None:
    """Detach ``path``; not mounted (any more) is fine, and a failure leaves it for the
    next repair rather than failing the command that found it."""
    with contextlib.suppress(OSError):
        fs.umount2(path, MNT_DETACH)
