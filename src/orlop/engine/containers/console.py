"""The size of a container's terminal when its client is not the process holding it.

Locally the foreground CLI holds the pty master and copies its own terminal's size to it
(engine/containers/procio.py, on start and on SIGWINCH).  Through orlopd the client is elsewhere:
Docker's API carries the size as ``HostConfig.ConsoleSize`` on create (the size from the
first instruction on) and as ``POST /containers/{id}/resize`` afterwards.  The first is
recorded in the container's directory for the start to read (:func:`requested_size`);
the second sets the size on the container's terminal itself (:func:`resize`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import struct
from typing import TYPE_CHECKING

from orlop.errors import ContainerStateError

if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.models import Container
    from orlop.engine.store import ContainerStore

_FILE = "console-size"
# Linux's UNIX98 pty slave majors (Documentation/admin-guide/devices.txt: 136-143).
_PTS_MAJORS = range(136, 144)


def winsize(height: int, width: int) -> bytes:
    """``struct winsize`` (rows, cols, xpixel, ypixel) for TIOCSWINSZ."""
    return struct.pack("HHHH", height, width, 0, 0)


def request_size(config: EngineConfig, cid: str, height: int, width: int) -> None:
    """Record the size a not yet started container's terminal starts with.  It lives in
    the container's directory, so it goes when the container does."""
    path = config.containers_dir / cid / _FILE
    tmp = path.with_name(_FILE + ".tmp")
    tmp.write_text(f"{int(height)} {int(width)}\n")
    os.replace(tmp, path)


def requested_size(config: EngineConfig, cid: str) -> bytes | None:
    """The recorded start size of ``cid``'s terminal (a struct winsize), or None."""
    try:
        text = (config.containers_dir / cid / _FILE).read_text()
        height, width = (int(v) for v in text.split())
    except (OSError, ValueError):
        return None
    return winsize(height, width) if height > 0 and width > 0 else None


def resize(containers: ContainerStore, config: EngineConfig, c: Container, height: int,
           width: int) -> None:
    """Set the size of running container ``c``'s terminal (its processes get SIGWINCH).

    The terminal is PID 1's standard input, a pty slave in the container's own devpts:
    it is reached through ``/proc/PID/fd/0``.  That descriptor is the container's to
    choose, so it is opened only when it is a pty slave (checked before and, against a
    swap in between, after the open), never blocking and never becoming our controlling
    terminal; and the pid is held by a pidfd so that a pid reused after the container
    exited is never touched.

    Raises:
        ContainerStateError: the container is not running.
    """
    if height <= 0 or width <= 0 or not c.config.tty:
        return
    from orlop.engine.containers.procio import is_locked

    cur = containers.resolve(c.id)
    if cur.status not in ("running", "paused") or cur.pid <= 0 or \
            not is_locked(config.run_root, c.id):
        raise ContainerStateError(f"Container {c.id} is not running")
    try:
        pidfd = os.pidfd_open(cur.pid)
    except ProcessLookupError:
        raise ContainerStateError(f"Container {c.id} is not running") from None
    try:
        again = containers.resolve(c.id)
        if again.pid != cur.pid:
            raise ContainerStateError(f"Container {c.id} is not running")
        _set_size(f"/proc/{cur.pid}/fd/0", pidfd, winsize(height, width))
    finally:
        os.close(pidfd)


def _is_pts(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in _PTS_MAJORS


def _set_size(path: str, pidfd: int, size: bytes) -> None:
    import fcntl
    import termios

    try:
        if not _is_pts(os.stat(path)):
            return
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return  # PID 1 has no terminal (any more): nothing to resize
    try:
        if not _is_pts(os.fstat(fd)):
            return
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, 0)  # still the container's PID 1
            with contextlib.suppress(OSError):
                fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    finally:
        os.close(fd)
