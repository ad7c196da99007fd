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
from pathlib import Path

from orlop.engine import store
from orlop.engine.models import LIVE_STATES, Container
from orlop.errors import ContainerStateError, InvalidParameterError, OrlopError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine.events import EventLog
    from orlop.engine.services import Services
    from orlop.engine.store import ContainerStore
    from orlop.images.store import ImageStore

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


def is_running(run_root: Path, cid: str) -> bool:
    from orlop.engine.containers.procio import is_locked

    return is_locked(run_root, cid)


def wait_unlocked(run_root: Path, cid: str, timeout: float | None) -> bool:
    """Wait until no monitor holds the container; False on timeout (None = forever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.002
    while is_running(run_root, cid):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def send_signal(containers: ContainerStore, events: EventLog, c: Container,
                signum: int) -> bool:
    """Signal PID 1 of a running container; False if it is not running (any more)."""
    cur = containers.get(c.id)
    if cur is None or cur.status not in ("running", "paused") or cur.pid <= 0:
        return False
    try:
        pidfd = os.pidfd_open(cur.pid)
    except ProcessLookupError:
        return False
    try:
        again = containers.get(c.id)
        if again is None or again.pid != cur.pid or again.status not in ("running", "paused"):
            return False
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signum)
    finally:
        os.close(pidfd)
    events.container(c, "kill", {"signal": str(signum)})
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


def mark_stopped(containers: ContainerStore, cid: str) -> None:
    """stop/kill: the restart policy must not bring it back (Docker's
    HasBeenManuallyStopped)."""
    containers.update(cid, manually_stopped=1)


def stop(svc: Services, c: Container, timeout: int | None, sig: str | None) -> None:
    """Docker's stop: the stop signal, then SIGKILL after ``timeout`` seconds (negative:
    wait for ever); returns once the monitor has recorded the exit."""
    run_root = svc.config.run_root
    if c.status not in LIVE_STATES and not is_running(run_root, c.id):
        return  # Docker: stopping a stopped container succeeds
    mark_stopped(svc.containers, c.id)
    signum = parse_signal(sig or c.config.stop_signal or image_stop_signal(svc.images, c)
                          or "SIGTERM")
    if timeout is None:
        timeout = c.config.stop_timeout if c.config.stop_timeout is not None \
            else DEFAULT_STOP_TIMEOUT
    sent = send_signal(svc.containers, svc.events, c, signum)
    if not (sent and timeout != 0 and
            wait_unlocked(run_root, c.id, None if timeout < 0 else timeout)):
        kill_and_wait(svc, c)
    svc.events.container(c, "stop")


def kill_and_wait(svc: Services, c: Container, timeout: float = 30.0) -> None:
    send_signal(svc.containers, svc.events, c, signal.SIGKILL)
    run_root = svc.config.run_root
    if not wait_unlocked(run_root, c.id, timeout):
        # A container init whose pid the store lost (a monitor between phases): kill
        # everything in its cgroup.
        from orlop.engine.containers.cgroups import Cgroup

        Cgroup(c.id).kill_all()
        if not wait_unlocked(run_root, c.id, timeout):
            raise ContainerStateError(f"container {c.id} did not stop")


def kill(svc: Services, c: Container, sig: str) -> None:
    signum = parse_signal(sig)
    cur = svc.containers.get(c.id)
    if cur is None or cur.status not in ("running", "paused") or \
            not is_running(svc.config.run_root, c.id):
        raise ContainerStateError(
            f"Cannot kill container: {c.name}: Container {c.id} is not running")
    if signum in (signal.SIGKILL, parse_signal(c.config.stop_signal or "SIGTERM")):
        mark_stopped(svc.containers, c.id)
    if not send_signal(svc.containers, svc.events, c, signum):
        raise ContainerStateError(
            f"Cannot kill container: {c.name}: Container {c.id} is not running")


def image_stop_signal(images: ImageStore, c: Container) -> str:
    try:
        return str(images.get(c.image_id).container_config.get("StopSignal") or "")
    except OrlopError:
        return ""


def wait(svc: Services, c: Container) -> int:
    """Block until the container is not running; its exit code.  A container with a
    restart policy keeps its monitor across restarts: its first exit ends the wait, as
    moby's SetRestarting wakes the waiters for a stop."""
    if restarts(c):
        pause = 0.005
        while is_running(svc.config.run_root, c.id):
            cur = svc.containers.get(c.id)
            if cur is None:
                break
            if cur.finished_at != c.finished_at and cur.status != "running":
                return cur.exit_code
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    wait_unlocked(svc.config.run_root, c.id, None)
    cur = svc.containers.get(c.id)
    if cur is not None:
        if cur.status in LIVE_STATES:  # a dead monitor: reconcile
            svc.reconcile(force=True)
            cur = svc.containers.get(c.id) or cur
        return cur.exit_code
    path = svc.config.run_root / "containers" / f"{c.id}.exit"
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return c.exit_code


def restarts(c: Container) -> bool:
    """Whether ``c`` has a restart policy (its monitor outlives one run)."""
    return (c.host_config.restart_policy.get("Name") or "no") != "no"


def exit_code_left(run_root: Path, cid: str) -> int | None:
    """The exit code the monitor of a --rm container left for `wait` (by full id);
    None if there is none (any more)."""
    exit_file = run_root / "containers" / f"{cid}.exit"
    if len(cid) == 64 and exit_file.exists():
        with contextlib.suppress(OSError, ValueError):
            return int(exit_file.read_text().strip() or 0)
    return None


def pause(svc: Services, c: Container, paused: bool) -> None:
    from orlop.engine.containers.cgroups import Cgroup

    cur = svc.containers.get(c.id) or c
    if cur.status not in ("running", "paused") or not is_running(svc.config.run_root, c.id):
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
    with svc.containers.write() as conn:
        now = store.get_by_id(conn, c.id)
        if now is None or now.status not in ("running", "paused"):
            raise ContainerStateError(f"Container {c.id} is not running")
        cg.freeze(paused)
        store.set_state(conn, c.id, status="paused" if paused else "running")
    svc.events.container(c, "pause" if paused else "unpause")


def rename(containers: ContainerStore, events: EventLog, c: Container, new: str) -> None:
    from orlop.engine.containers.names import validate_container_name

    new = new.removeprefix("/")
    validate_container_name(new)
    if new == c.name:
        raise InvalidParameterError(
            "Renaming a container with the same name as its current name")
    with containers.write() as conn:
        store.check_name_free(conn, new)
        if store.get_by_id(conn, c.id) is None:
            from orlop.errors import ContainerNotFoundError

            raise ContainerNotFoundError(c.name)
        store.set_state(conn, c.id, name=new)
    events.container(c.replace(name=new), "rename", {"oldName": "/" + c.name})


def top(containers: ContainerStore, run_root: Path, c: Container, ps_args: list[str]
        ) -> tuple[list[str], list[list[str]]]:
    """`ps` on the host limited to the container's processes (Docker's way)."""
    import subprocess

    from orlop.engine.containers.cgroups import Cgroup

    cur = containers.get(c.id) or c
    if cur.status not in ("running", "paused") or not is_running(run_root, c.id):
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
