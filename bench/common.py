"""Shared helpers for the bench scripts: the real CLI, a scratch root, medians, peers."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL,  # noqa: S603
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
