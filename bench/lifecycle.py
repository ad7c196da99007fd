#!/usr/bin/env python3
"""Container lifecycle timings: `name: value unit` lines.

    run_d_stop_rm_median: `run -d busybox sleep 60` + `stop -t 0` + `rm`, end to end
    exec_true_median:     `exec CONTAINER true` against a running container
    monitor_idle_rss:     resident memory of an idle detached monitor

Each figure is the median of N runs (--runs, default 15) of the installed `orlop`
console script against a temporary root with busybox imported.  Docker's and Podman's
figures are printed beside ours (as a ratio) only where they are installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli() -> list[str]:
    exe = shutil.which("orlop")
    return [exe] if exe else [sys.executable, "-m", "orlop"]


def _timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_engine(name: str, base: list[str], runs: int, image: str) -> dict[str, float]:
    out: dict[str, float] = {}
    cycle = []
    for i in range(runs):
        cname = f"bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        subprocess.run([*base, "run", "-d", "--name", cname, image, "sleep", "60"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*base, "stop", "-t", "0", cname], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([*base, "rm", cname], check=True, stdout=subprocess.DEVNULL)
        cycle.append(time.perf_counter() - t0)
    out["run_d_stop_rm_median"] = _median_ms(cycle)
    cname = f"bench-exec-{os.getpid()}"
    cid = subprocess.run([*base, "run", "-d", "--name", cname, image, "sleep", "600"],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        _timed([*base, "exec", cname, "true"])  # warm caches
        out["exec_true_median"] = _median_ms(
            [_timed([*base, "exec", cname, "true"]) for _ in range(runs)])
        if name == "orlop":
            time.sleep(0.5)
            rss = _monitor_rss(cid)
            if rss:
                out["monitor_idle_rss"] = rss
    finally:
        subprocess.run([*base, "rm", "-f", cname], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return out


def _monitor_rss(cid: str) -> float:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            if b"watch.py" in cmd and cid.encode() in cmd:
                for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


UNITS = {"run_d_stop_rm_median": "ms", "exec_true_median": "ms", "monitor_idle_rss": "MB"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    tar = REPO / ".cache" / "busybox.tar"
    if not tar.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "build-busybox.sh"), str(tar)],
                       check=True)
    root = Path(tempfile.mkdtemp(prefix="orlop-bench-", dir="/tmp"))
    try:
        base = [*_cli(), "--root", str(root / "root")]
        subprocess.run([*base, "import", str(tar), "busybox:latest"], check=True,
                       stdout=subprocess.DEVNULL)
        ours = bench_engine("orlop", base, args.runs, "busybox")
        others: dict[str, dict[str, float]] = {}
        for tool in ("docker", "podman"):
            exe = shutil.which(tool)
            if exe and subprocess.run([exe, "image", "inspect", "busybox"], check=False,
                                      capture_output=True).returncode == 0:
                others[tool] = bench_engine(tool, [exe], args.runs, "busybox")
        for key, value in ours.items():
            line = f"{key}: {value:.1f} {UNITS[key]}"
            for tool, figures in others.items():
                if figures.get(key):
                    line += f" ({tool}: {figures[key]:.1f} {UNITS[key]}, " \
                            f"ratio {value / figures[key]:.2f})"
            print(line)
    finally:
        subprocess.run(["umount", "-R", "-l", str(root)], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
