"""The small pieces every process that runs or enters a container shares: its stdio,
its lock (who holds it is the container's monitor), waiting for a process while
forwarding signals and relaying a pty.

Apart from runner.py so that `orlop exec` imports none of the bundle, cgroup and
copy-up machinery (an exec's cost is mostly imports).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import termios
import time
import tty as ttymod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orlop.errors import ContainerStateError

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
              signal.SIGUSR2)


@dataclass(frozen=True)
class Stdio:
    stdin: int
    stdout: int
    stderr: int


@contextlib.contextmanager
def container_lock(run_root: Path, container_id: str) -> Iterator[int]:
    """Exclusive while the container runs; refused if another process holds it."""
    d = run_root / "containers"
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / f"{container_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        # Other commands probe the lock (is_locked) for an instant: retry briefly
        # before calling the container running.
        for attempt in range(50):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 49:
                    raise ContainerStateError(
                        f"container {container_id} is already running") from None
                time.sleep(0.01)
        yield fd
    finally:
        os.close(fd)


def is_locked(run_root: Path, container_id: str) -> bool:
    """Whether a live monitor holds the container's lock."""
    path = run_root / "containers" / f"{container_id}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def console_pair() -> tuple[int, int]:
    """(ours, theirs): a unix socket pair over which the container's init sends the
    master of the terminal it allocates in its own devpts (runc's console socket)."""
    import socket

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return a.detach(), b.detach()


def winsize_of(fd: int) -> bytes | None:
    """The terminal size of ``fd`` (struct winsize), None if it is not a terminal."""
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def copy_winsize(src: int, dst: int) -> None:
    with contextlib.suppress(OSError):
        ws = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, ws)


def wait_process(pid: int, master: int, stdio: Stdio, interactive: bool) -> int:
    """Wait for the container's PID 1, forwarding signals (Docker's --sig-proxy) and
    relaying the pty when there is one."""
    handlers = {}
    for s in _FORWARDED:
        handlers[s] = signal.signal(s, lambda signum, _f: _kill(pid, signum))
    if master >= 0:
        handlers[signal.SIGWINCH] = signal.signal(
            signal.SIGWINCH, lambda _s, _f: copy_winsize(stdio.stdout, master))
    try:
        if master >= 0:
            _relay(master, stdio, interactive)
        _, status = os.waitpid(pid, 0)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
        128 + os.WTERMSIG(status)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _relay(master: int, stdio: Stdio, interactive: bool) -> None:
    import select

    raw_saved = None
    if interactive and os.isatty(stdio.stdin):
        raw_saved = termios.tcgetattr(stdio.stdin)
        ttymod.setraw(stdio.stdin)
    try:
        fds = [master] + ([stdio.stdin] if interactive else [])
        while True:
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as err:
                    if err.errno == errno.EIO:  # the container side closed
                        return
                    raise
                if not data:
                    return
                os.write(stdio.stdout, data)
            if interactive and stdio.stdin in ready:
                data = os.read(stdio.stdin, 65536)
                if not data:
                    fds.remove(stdio.stdin)
                    os.write(master, b"\x04")  # EOF on a terminal is ^D
                    continue
                os.write(master, data)
    finally:
        if raw_saved is not None:
            termios.tcsetattr(stdio.stdin, termios.TCSADRAIN, raw_saved)
