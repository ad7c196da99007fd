"""stop, kill, wait, pause, rename, top: acting on a running container from any process.

Who runs a container is told by its lock (runner.container_lock): held by its monitor
(the foreground CLI or a detached monitor) for exactly as long as the container lives.
A signal is sent through a pidfd opened *before* checking, in the store, that the
container still has that pid: the monitor clears the pid in the store before it reaps
the process, so the pid cannot have been reused by then (no signal to a stranger).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from orlop.engine import store
from orlop.engine.models import LIVE_STATES, Container
from orlop.errors import ContainerStateError, InvalidParameterError, OrlopError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine

DEFAULT_STOP_TIMEOUT = 10


def parse_signal(text: str) -> int:
    """"9", "KILL", "SIGKILL", "sigkill"; Docker's text for anything else."""
    raw = text.strip()
    if raw.isdigit():
        num = int(raw)
        if 0 < num < signal.NSIG:
            return num
    else:
        name = raw.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name.startswith(("SIGRTMIN+", "SIGRTMAX-")):
            base = signal.SIGRTMIN if name.startswith("SIGRTMIN") else signal.SIGRTMAX
            off = name[9:]
            if off.isdigit():
                num = base + int(off) if base == signal.SIGRTMIN else base - int(off)
                if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                    return int(num)
        else:
            with contextlib.suppress(KeyError):
                return int(signal.Signals[name])
    raise InvalidParameterError(f"Invalid signal: {text}")


def is_running(engine: Engine, cid: str) -> bool:
    from orlop.engine.containers.procio import is_locked

    return is_locked(engine.config.run_root, cid)


def wait_unlocked(engine: Engine, cid: str, timeout: float | None) -> bool:
    """Wait until no monitor holds the container; False on timeout (None = forever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.002
    while is_running(engine, cid):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def _current(engine: Engine, cid: str) -> Container | None:
    with engine.db.read() as conn:
        return store.get_by_id(conn, cid)


def send_signal(engine: Engine, c: Container, signum: int) -> bool:
    """Signal PID 1 of a running container; False if it is not running (any more)."""
    cur = _current(engine, c.id)
    if cur is None or cur.status not in ("running", "paused") or cur.pid <= 0:
        return False
    try:
        pidfd = os.pidfd_open(cur.pid)
    except ProcessLookupError:
        return False
    try:
        again = _current(engine, c.id)
        if again is None or again.pid != cur.pid or again.status not in ("running", "paused"):
            return False
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signum)
    finally:
        os.close(pidfd)
    engine.events.container(c, "kill", {"signal": str(signum)})
    if signum == signal.SIGKILL or cur.status == "paused":
        _thaw_for_signal(c, signum)
    return True


def _thaw_for_signal(c: Container, signum: int) -> None:
    """A frozen (v1 freezer) process cannot handle or die of a signal: thaw it."""
    from orlop.engine.containers.cgroups import Cgroup

    cg = Cgroup(c.id)
    if cg.frozen():
        with contextlib.suppress(OrlopError, OSError):
            cg.freeze(False)


def _mark_stopped(engine: Engine, cid: str) -> None:
    """stop/kill: the restart policy must not bring it back (Docker's
    HasBeenManuallyStopped)."""
    with engine.db.write() as conn:
        if store.get_by_id(conn, cid) is not None:
            store.set_state(conn, cid, manually_stopped=1)


def stop(engine: Engine, c: Container, timeout: int | None, sig: str | None) -> None:
    """Docker's stop: the stop signal, then SIGKILL after ``timeout`` seconds (negative:
    wait for ever); returns once the monitor has recorded the exit."""
    if c.status not in LIVE_STATES and not is_running(engine, c.id):
        return  # Docker: stopping a stopped container succeeds
    _mark_stopped(engine, c.id)
    signum = parse_signal(sig or c.config.stop_signal or image_stop_signal(engine, c)
                          or "SIGTERM")
    if timeout is None:
        timeout = c.config.stop_timeout if c.config.stop_timeout is not None \
            else DEFAULT_STOP_TIMEOUT
    sent = send_signal(engine, c, signum)
    if not (sent and timeout != 0 and
            wait_unlocked(engine, c.id, None if timeout < 0 else timeout)):
        kill_and_wait(engine, c)
    engine.events.container(c, "stop")


def kill_and_wait(engine: Engine, c: Container, timeout: float = 30.0) -> None:
    send_signal(engine, c, signal.SIGKILL)
    if not wait_unlocked(engine, c.id, timeout):
        # A container init whose pid the store lost (a monitor between phases): kill
        # everything in its cgroup.
        from orlop.engine.containers.cgroups import Cgroup

        Cgroup(c.id).kill_all()
        if not wait_unlocked(engine, c.id, timeout):
            raise ContainerStateError(f"container {c.id} did not stop")


def kill(engine: Engine, c: Container, sig: str) -> None:
    signum = parse_signal(sig)
    cur = _current(engine, c.id)
    if cur is None or cur.status not in ("running", "paused") or \
            not is_running(engine, c.id):
        raise ContainerStateError(
            f"Cannot kill container: {c.name}: Container {c.id} is not running")
    if signum in (signal.SIGKILL, parse_signal(c.config.stop_signal or "SIGTERM")):
        _mark_stopped(engine, c.id)
    if not send_signal(engine, c, signum):
        raise ContainerStateError(
            f"Cannot kill container: {c.name}: Container {c.id} is not running")


def image_stop_signal(engine: Engine, c: Container) -> str:
    try:
        return str(engine.images.get(c.image_id).container_config.get("StopSignal") or "")
    except OrlopError:
        return ""


def wait(engine: Engine, c: Container) -> int:
    """Block until the container is not running; its exit code."""
    wait_unlocked(engine, c.id, None)
    cur = _current(engine, c.id)
    if cur is not None:
        if cur.status in LIVE_STATES:  # a dead monitor: reconcile
            engine.reconcile(force=True)
            cur = _current(engine, c.id) or cur
        return cur.exit_code
    path = engine.config.run_root / "containers" / f"{c.id}.exit"
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return c.exit_code


def pause(engine: Engine, c: Container, paused: bool) -> None:
    from orlop.engine.containers.cgroups import Cgroup

    cur = _current(engine, c.id) or c
    if cur.status not in ("running", "paused") or not is_running(engine, c.id):
        raise ContainerStateError(f"Container {c.id} is not running")
    if paused and cur.status == "paused":
        raise ContainerStateError(f"Container {c.id} is already paused")
    if not paused and cur.status != "paused":
        raise ContainerStateError(f"Container {c.id} is not paused")
    cg = Cgroup(c.id)
    if not cg.exists():
        raise ContainerStateError(
            f"Container {c.id} has no cgroup to freeze (started in the foreground "
            "without limits, or by a runtime other than Orlop's)")
    with engine.db.write() as conn:
        now = store.get_by_id(conn, c.id)
        if now is None or now.status not in ("running", "paused"):
            raise ContainerStateError(f"Container {c.id} is not running")
        cg.freeze(paused)
        store.set_state(conn, c.id, status="paused" if paused else "running")
    engine.events.container(c, "pause" if paused else "unpause")


def rename(engine: Engine, c: Container, new: str) -> None:
    from orlop.engine.engine import validate_container_name
    from orlop.errors import NameConflictError

    new = new.removeprefix("/")
    validate_container_name(new)
    if new == c.name:
        raise InvalidParameterError(
            "Renaming a container with the same name as its current name")
    with engine.db.write() as conn:
        owner = conn.execute("SELECT id FROM containers WHERE name = ?", (new,)).fetchone()
        if owner is not None:
            raise NameConflictError(new, owner["id"])
        if store.get_by_id(conn, c.id) is None:
            from orlop.errors import ContainerNotFoundError

            raise ContainerNotFoundError(c.name)
        store.set_state(conn, c.id, name=new)
    engine.events.container(replace(c, name=new), "rename", {"oldName": "/" + c.name})


def top(engine: Engine, c: Container, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """`ps` on the host limited to the container's processes (Docker's way)."""
    import subprocess

    from orlop.engine.containers.cgroups import Cgroup

    cur = _current(engine, c.id) or c
    if cur.status not in ("running", "paused") or not is_running(engine, c.id):
        raise ContainerStateError(f"Container {c.id} is not running")
    pids = Cgroup(c.id).pids()
    if not pids and cur.pid > 0:
        pids = [cur.pid, *_descendants(cur.pid)]
    args = ps_args or ["-ef"]
    # Not cut to $COLUMNS of whoever runs the engine (orlopd's environment, a CLI's).
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    res = subprocess.run(["ps", *args], capture_output=True, text=True, check=False,
                         env=env)
    if res.returncode != 0:
        raise InvalidParameterError(f"Error running ps: {res.stderr.strip()}")
    lines = res.stdout.splitlines()
    if not lines:
        return [], []
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidParameterError("Couldn't find PID field in ps output")
    col = header.index("PID")
    wanted = set(pids)
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(header) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            rows.append(fields)
    return header, rows


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
