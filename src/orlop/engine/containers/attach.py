"""Attach to a container its detached monitor runs (engine/containers/monitor.py).

Nobody holds such a container's stdio: its monitor writes the output to the json-file
log and keeps a FIFO open as its stdin (``-i``).  Attaching is following that log from
the moment of the attach and writing to that FIFO.  One implementation for the local
CLI (``orlop attach``, ``orlop run -it`` with detach keys) and orlopd's attach route:
the CLI follows in its own thread of control and feeds the FIFO from a forked copier,
orlopd follows in a thread and feeds it from the event loop; what is followed, from
where, until when, and how the FIFO is opened is the same, and is here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orlop.config import EngineConfig
    from orlop.engine.containers.logs import Entry, LogCursor


class MonitorAttach:
    """One attach: the log position is taken when it is made, so nothing the container
    writes after that is missed, however late the follower starts reading.

    ``cursor``: a position taken earlier (``run -it`` takes it before the start, to see
    the container's first byte)."""

    def __init__(self, config: EngineConfig, cid: str, *,
                 cursor: LogCursor | None = None) -> None:
        from orlop.engine.containers.logs import LogCursor
        from orlop.engine.containers.monitor import log_path, stdin_fifo

        self.cid = cid
        self.run_root = config.run_root
        self.log_path = log_path(config, cid)
        self.fifo = stdin_fifo(config, cid)
        if cursor is None:
            cursor = LogCursor(self.log_path)
            cursor.open_end()
        self._cursor: LogCursor | None = cursor

    def running(self) -> bool:
        """Whether the container's monitor still holds it."""
        from orlop.engine.containers.procio import is_locked

        return is_locked(self.run_root, self.cid)

    def output(self, attached: Callable[[], bool] = lambda: True) -> Iterator[Entry]:
        """The entries written since the attach, until the container stops or
        ``attached()`` is False (asked before each read, so the last lines the monitor
        wrote before it let go are read).  Once only: the cursor is closed at the end."""
        from orlop.engine.containers.logs import follow

        cursor, self._cursor = self._cursor, None
        if cursor is None:
            raise ValueError("the output of an attach is read once")
        return follow(self.log_path, lambda: attached() and self.running(), cursor=cursor)

    def open_input(self) -> int:
        """The write end of the container's stdin FIFO (its monitor keeps the read end
        open, so this does not block while the container runs)."""
        return os.open(self.fifo, os.O_WRONLY | os.O_CLOEXEC)

    def close(self) -> None:
        """Let go of the log position if the output was never read."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
