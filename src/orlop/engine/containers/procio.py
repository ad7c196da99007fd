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
import time
from collections.abc import Iterator
from pathlib import Path

from orlop.errors import ContainerStateError
from orlop.tuples import NamedTuple

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
              signal.SIGUSR2)


class Stdio(NamedTuple):
    """The three descriptors a process gets (a named tuple: no ``dataclasses`` import,
    ~5 ms, for the reconciliation of every command that finds a live container)."""

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
    return lock_held(run_root / "containers" / f"{container_id}.lock")


def lock_held(path: str | os.PathLike[str]) -> bool:
    """True while some process holds the lock file ``path``: a monitor its container's,
    a namespace keeper its pool's, each for its whole life (flock(2) locks go with the
    process, so a lock nobody holds is an owner that died, kill -9 included).  False
    when the file is missing or nobody holds it.  The probe's own lock (exclusive, not
    waited for) is dropped at once; two probes at the same moment may see each other as
    the owner, which only puts a repair off to the next command."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
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


class RemoteTerminal:
    """The terminal a process's output goes to when it is not this process's own.

    orlopd's helper process (server/monitor.py) relays an exec's or an attached
    container's pty over pipes to a client whose terminal is elsewhere: the client gives
    its size through the API (``ConsoleSize``, ``POST .../resize``).  ``fd`` stands for
    that terminal (the helper's stdout, a pipe): :func:`winsize_of` and
    :func:`copy_winsize` answer its ``rows``/``cols`` instead of asking the kernel, so the
    pty gets the client's size before the process starts; each later size arrives as one
    ``"ROWS COLS\n"`` line on ``control``, which :func:`wait_process` applies to the
    master (TIOCSWINSZ: the kernel sends SIGWINCH to the pty's foreground group)."""

    __slots__ = ("cols", "control", "fd", "rows")

    def __init__(self, fd: int, rows: int = 0, cols: int = 0, control: int = -1) -> None:
        self.fd = fd
        self.rows = rows
        self.cols = cols
        self.control = control

    def __repr__(self) -> str:
        return (f"RemoteTerminal(fd={self.fd}, rows={self.rows}, cols={self.cols}, "
                f"control={self.control})")

    def winsize(self) -> bytes | None:
        if not self.rows and not self.cols:
            return None
        import struct

        return struct.pack("HHHH", self.rows, self.cols, 0, 0)


_remote: RemoteTerminal | None = None


def use_remote_terminal(term: RemoteTerminal | None) -> None:
    """Declare (for this process: the helper makes one engine call) that ``term.fd``
    stands for a remote terminal."""
    global _remote
    _remote = term


def winsize_of(fd: int) -> bytes | None:
    """The terminal size of ``fd`` (struct winsize), None if it is not a terminal."""
    if _remote is not None and fd == _remote.fd:
        return _remote.winsize()
    import termios  # here: a command without a terminal never needs it (issue 17)

    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def copy_winsize(src: int, dst: int) -> None:
    ws = winsize_of(src)
    if ws is not None:
        import termios

        with contextlib.suppress(OSError):
            fcntl.ioctl(dst, termios.TIOCSWINSZ, ws)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """Set the window size of the pty ``fd`` (either side); the kernel signals SIGWINCH
    to its foreground process group when the size changed."""
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def parse_size_lines(buf: bytes) -> tuple[tuple[int, int] | None, bytes]:
    """The last complete ``"ROWS COLS"`` line of ``buf`` (None if none) and the
    unfinished rest; malformed lines are skipped."""
    *lines, rest = buf.split(b"\n")
    last = None
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            rows, cols = int(parts[0]), int(parts[1])
            if rows <= 0xFFFF and cols <= 0xFFFF:
                last = (rows, cols)
    return last, rest if len(rest) < 64 else b""


def wait_process(pid: int, master: int, stdio: Stdio, interactive: bool,
                 detach_keys: bytes = b"") -> int:
    """Wait for the container's PID 1, forwarding signals (Docker's --sig-proxy) and
    relaying the pty when there is one.

    Raises:
        Detached: ``detach_keys`` were typed (the process runs on, not waited for).
    """
    handlers = {}
    for s in _FORWARDED:
        handlers[s] = signal.signal(s, lambda signum, _f: _kill(pid, signum))
    if master >= 0:
        handlers[signal.SIGWINCH] = signal.signal(
            signal.SIGWINCH, lambda _s, _f: copy_winsize(stdio.stdout, master))
    try:
        if master >= 0:
            _relay(master, stdio, interactive, detach_keys)
        _, status = os.waitpid(pid, 0)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
        128 + os.WTERMSIG(status)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _relay(master: int, stdio: Stdio, interactive: bool, detach_keys: bytes = b"") -> None:
    import select

    from orlop.detachkeys import Detached, EscapeScanner

    scanner = EscapeScanner(detach_keys) if detach_keys and interactive else None

    raw_saved = None
    if interactive and os.isatty(stdio.stdin):
        import termios
        import tty as ttymod

        raw_saved = termios.tcgetattr(stdio.stdin)
        ttymod.setraw(stdio.stdin)
    control = _remote.control if _remote is not None else -1
    pending = b""
    try:
        fds = [master] + ([stdio.stdin] if interactive else []) + \
            ([control] if control >= 0 else [])
        while True:
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            # A resize first: orlopd writes it before it answers the resize request, and
            # a client's next input (`stty size`) must find the new size.
            if control >= 0 and control in ready:
                try:
                    data = os.read(control, 4096)
                except BlockingIOError:
                    data = None
                if data == b"":
                    fds.remove(control)
                    control = -1
                elif data:
                    size, pending = parse_size_lines(pending + data)
                    if size is not None and _remote is not None:
                        _remote.rows, _remote.cols = size
                        with contextlib.suppress(OSError):
                            set_winsize(master, *size)
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
                if scanner is not None:
                    data = scanner.feed(data)
                if data:
                    os.write(master, data)
                if scanner is not None and scanner.detached:
                    raise Detached
    finally:
        if raw_saved is not None:
            termios.tcsetattr(stdio.stdin, termios.TCSADRAIN, raw_saved)
