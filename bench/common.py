"""Shared helpers for the bench scripts: the real CLI, a scratch root, medians, peers."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def orlop_exe() -> list[str]:
    """The installed console script (what a user types), else ``python -m orlop``.

    The console script is looked up next to the interpreter, not through PATH, so that a
    pyenv shim (a bash script that costs ~50 ms per call) does not distort the figures.
    """
    exe = Path(sys.executable).parent / "orlop"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "orlop"]


@contextmanager
def scratch_root(prefix: str = "orlop-bench-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield d
    finally:
        subprocess.run(["sh", "-c", f"grep -o ' {d}[^ ]*' /proc/self/mountinfo | sort -r | "
                        "xargs -r -n1 umount -l"], check=False, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def busybox_tar() -> Path:
    out = REPO / ".cache" / "busybox.tar"
    if not out.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "build-busybox.sh"), str(out)],
                       check=True, capture_output=True)
    return out


def timed(argv: Sequence[str], **kw: object) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, measured with wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.1f} {unit}", flush=True)


def repeat(n: int, fn: Callable[[], float], warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(n)]


class UnixConn(http.client.HTTPConnection):
    """HTTP over a unix socket (orlopd's, or a dockerd's)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path_ = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(self.path_)
        self.sock = s


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a daemon, SIGKILL it if it has not gone within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_socket(proc: subprocess.Popen[bytes], sock: str, log: Path | None = None) -> None:
    """Until ``proc`` (an orlopd) accepts connections on the unix socket ``sock``, 10 s at
    most (then it is killed); with ``log``, a daemon that exits first ends the bench with
    its log."""
    for _ in range(200):
        if log is not None and proc.poll() is not None:
            raise SystemExit("orlopd exited: " + log.read_text())
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("orlopd did not start")


def run_threads(worker: Callable[[], None], n: int) -> float:
    """``worker`` in ``n`` threads at once; the seconds until the last one ended."""
    threads = [threading.Thread(target=worker) for _ in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0
