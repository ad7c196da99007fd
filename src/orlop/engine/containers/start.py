"""``start``: in the foreground (this process runs the container and waits for it) or
under a monitor process of its own (engine/containers/monitor.py)."""

from __future__ import annotations

import contextlib

from orlop.engine import store
from orlop.errors import ContainerStateError, OrlopError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine.containers.procio import Stdio
    from orlop.engine.models import Container
    from orlop.engine.services import Services


def start_attached(svc: Services, c: Container, stdio: Stdio, *, interactive: bool) -> int:
    """Start a created or exited container in the foreground and wait for it; its exit
    code.  A --rm container is removed once it ends."""
    from orlop.engine.containers.runner import run_foreground

    if c.alive:
        raise ContainerStateError(f"container {c.id} is already running")
    reset_for_start(svc, c)
    svc.events.container(c, "attach")
    try:
        return run_foreground(svc, c, stdio, interactive=interactive)
    finally:
        if c.host_config.auto_remove:
            from orlop.engine.containers.remove import remove

            with contextlib.suppress(OrlopError):
                remove(svc, svc.get_container(c.id), c.id, force=True, volumes=True,
                       locked=False)


def start_detached(svc: Services, c: Container) -> Container:
    """Start ``c`` under its own monitor process and return at once.  Starting a
    running container does nothing (Docker's behaviour)."""
    from orlop.engine.containers.monitor import start_detached as fork_monitor

    if c.alive:
        return c
    reset_for_start(svc, c)
    fork_monitor(svc, c)
    return c


def reset_for_start(svc: Services, c: Container) -> None:
    """A start by hand clears stop/kill's mark and the restart count (Docker)."""
    if c.manually_stopped or c.restart_count:
        with svc.containers.write() as conn:
            store.set_state(conn, c.id, manually_stopped=0, restart_count=0)
