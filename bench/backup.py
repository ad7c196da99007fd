#!/usr/bin/env python3
"""Volume backup throughput: `volume export` / `volume import` / `volume clone` against
GNU tar and `cp -a` on the same data, in the same run.

    python3 bench/backup.py [--size-mib 1024] [--files 10000] [--runs 3]

Prints `name: value unit` lines (the best of --runs; page cache warm for everyone).
Targets (issue 5): export >= 90% of GNU tar c, import >= 80% of GNU tar x, clone at
least as fast as cp -a.  Needs root (as Orlop does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def orlop(root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), *args], check=True,
                   stdout=subprocess.DEVNULL)


def best(runs: int, prepare: Callable[[], None], action: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        prepare()
        os.sync()
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return min(times)


Step = tuple[Callable[[], None], Callable[[], None]]


def paired(runs: int, ref: Step, ours: Step) -> tuple[float, float]:
    """Best times of the reference and of Orlop, run alternately, so that both see the
    same machine (a shared disk makes back-to-back series differ by 2x and more)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(best(1, *ref))
        b.append(best(1, *ours))
    return min(a), min(b)


def fill(data: Path, size: int, files: int) -> None:
    per = size // files
    block = os.urandom(1 << 20)
    for i in range(files):
        d = data / f"d{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir()
        with open(d / f"f{i:05d}", "wb") as f:
            left, off = per, (i * 4099) % len(block)
            while left:
                chunk = block[off:off + left] or block[:left]
                f.write(chunk)
                left -= len(chunk)
                off = 0


@dataclass(frozen=True)
class Dataset:
    """A volume filled for a bench, in a scratch directory removed afterwards."""

    args: argparse.Namespace  # --size-mib, --files, --runs
    work: Path  # the scratch directory
    root: Path  # Orlop's --root, inside it
    data: Path  # the volume's data directory
    mib: float  # its size


@contextmanager
def dataset(volume: str) -> Iterator[Dataset]:
    """The command line's dataset (shared with bench/snapshots.py): the new volume
    ``volume`` filled with --size-mib MiB in --files files and synced, so that no run
    pays for writeback."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="orlop-bench-", dir="/var/tmp"))
    try:
        root = work / "root"
        orlop(root, "volume", "create", volume)
        data = root / "volumes" / volume / "_data"
        fill(data, size, args.files)
        os.sync()
        mib = size / (1 << 20)
        print(f"dataset: {mib:.0f} MiB in {args.files} files")
        yield Dataset(args, work, root, data, mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    with dataset("benchsrc") as ds:
        args, work, root, data, mib = ds.args, ds.work, ds.root, ds.data, ds.mib
        out_o, out_t = work / "orlop.tar", work / "gnu.tar"

        def rm(*paths: Path) -> Callable[[], None]:
            def f() -> None:
                for p in paths:
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.exists():
                        p.unlink()
            return f

        t_tar_c, t_exp = paired(
            args.runs,
            (rm(out_t), lambda: sh("tar", "cf", str(out_t), "-C", str(data), ".")),
            (rm(out_o), lambda: orlop(root, "volume", "export", "benchsrc", "-o", str(out_o))))
        dest = work / "gnu-x"

        def mk() -> None:
            rm(dest)()
            dest.mkdir()

        def drop(name: str) -> Callable[[], None]:
            def f() -> None:
                subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), "volume",
                                "rm", "-f", name], check=False, capture_output=True)
            return f

        t_tar_x, t_imp = paired(
            args.runs,
            (mk, lambda: sh("tar", "xf", str(out_t), "-C", str(dest))),
            (drop("benchnew"), lambda: orlop(root, "volume", "import", "benchnew",
                                             str(out_o))))
        cpdest = work / "cp-a"
        t_cp, t_clone = paired(
            args.runs,
            (rm(cpdest), lambda: sh("cp", "-a", str(data), str(cpdest))),
            (drop("benchclone"), lambda: orlop(root, "volume", "clone", "benchsrc",
                                               "benchclone")))

        def line(name: str, secs: float, ref: float | None = None,
                 ref_name: str = "") -> None:
            text = f"{name}: {mib / secs:.0f} MiB/s ({secs:.2f} s)"
            if ref is not None:
                text += f", {ref / secs * 100:.0f}% of {ref_name}"
            print(text)
        line("gnu_tar_create", t_tar_c)
        line("volume_export", t_exp, t_tar_c, "GNU tar c")
        line("gnu_tar_extract", t_tar_x)
        line("volume_import", t_imp, t_tar_x, "GNU tar x")
        line("cp_a", t_cp)
        line("volume_clone", t_clone, t_cp, "cp -a")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
