"""Markers of operations in progress: how a command tells, for the price of one listdir,
whether an earlier process was killed in the middle of a multi-step operation.

Each step of Orlop's multi-step operations is crash-safe on its own (intent recorded in
the database before anything is made on disk, things made under a temporary name and
renamed into place, removals marked before the data goes), so a kill can leave
*leftovers* (a staging directory, a trash directory, a mount, a reference) but no
inconsistent state.  Finding those leftovers means scanning several directories and the
mount table, too slow for every command.  So a process about to run such an operation
holds a marker, ``<root>/.inflight/<pid>-<random>``, flocked while the operation runs and
unlinked when it ends; nested operations of one process share one marker.  A marker whose
flock is free (the kernel drops it however the process died) and whose pid is not running
any more means a kill: the next command runs the full reconciliation
(``Engine.reconcile``) and then removes the marker.  The markers are not fsynced: a
machine crash may lose one, but it also empties the run root, which makes the engine
reconcile anyway (dead monitors).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from _thread import allocate_lock  # threading.Lock itself, without threading (~0.8 ms)
from collections.abc import Iterator
from pathlib import Path

DIR_NAME = ".inflight"
REPAIR_LOCK = ".repair"  # serialises the full reconciliation between processes

_held: dict[str, tuple[int, Path, int]] = {}  # root -> (fd, marker path, nesting depth)
_mutex = allocate_lock()  # orlopd's threads share _held


@contextlib.contextmanager
def operation(root: Path) -> Iterator[None]:
    """Hold this process's marker for ``root`` while the block runs."""
    key = str(root)
    with _mutex:
        held = _held.get(key)
        if held is not None:
            _held[key] = (held[0], held[1], held[2] + 1)
        else:
            d = root / DIR_NAME
            os.makedirs(d, mode=0o700, exist_ok=True)
            # os.urandom, not secrets: that imports hmac and hashlib (2 ms at start-up)
            path = d / f"{os.getpid()}-{os.urandom(6).hex()}"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            _held[key] = (fd, path, 1)
    try:
        yield
    finally:
        with _mutex:
            fd, path, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, path, depth - 1)
            else:
                del _held[key]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                os.close(fd)


def forget_after_fork() -> None:
    """In a forked child that outlives its parent's operation (a monitor): the marker
    belongs to the parent, which unlinks it."""
    with _mutex:
        for fd, _path, _depth in _held.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        _held.clear()


def dead_markers(root: Path) -> list[str]:
    """Markers left by processes killed in the middle of an operation."""
    d = root / DIR_NAME
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    dead = []
    for name in names:
        if name.startswith("."):
            continue
        try:
            fd = os.open(d / name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # its operation just ended
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in progress
            # Free, but its creator may be between open() and flock(): alive means live.
            # (Imported here: kernel.process loads ctypes, 3 ms that every command would
            # pay for a check that runs only when a marker is free.)
            from orlop.kernel.process import process_alive_since

            pid = name.split("-", 1)[0]
            if pid.isdigit() and process_alive_since(int(pid), os.fstat(fd).st_mtime):
                continue
            dead.append(name)
        finally:
            os.close(fd)
    return dead


def clear(root: Path, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(root / DIR_NAME / name)


def fault(point: str) -> None:
    """``ORLOP_FAULT=<point>``: die here as SIGKILL would (the crash-safety tests name
    the steps of the operations they kill)."""
    if os.environ.get("ORLOP_FAULT") == point:
        os._exit(137)


@contextlib.contextmanager
def repairing(root: Path) -> Iterator[None]:
    """One full reconciliation at a time (blocking): two would race each other."""
    d = root / DIR_NAME
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd = os.open(d / REPAIR_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
