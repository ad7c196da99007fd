#!/usr/bin/env python3
"""Volume snapshots and incremental exports against their plain alternatives, same run:

* ``volume snapshot create`` of 1 GiB in 10,000 files vs ``cp -a`` vs ``volume clone``;
* ``volume snapshot restore`` of it vs restoring by hand (``rm -rf`` the content, ``cp -a``
  the saved copy back);
* ``volume export --since SNAP`` after 1% of the files changed vs a full ``volume export``
  (time and archive size).

    python3 bench/snapshots.py [--size-mib 1024] [--files 10000] [--runs 3]

Prints ``name: value unit`` lines side by side with ratios, and which copy method the
filesystem gave (``reflink`` on btrfs/XFS, ``copy`` elsewhere, e.g. ext4), since the
snapshot figures depend on it entirely.  Needs root (as Orlop does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from backup import best, dataset, sh  # bench/backup.py: same data, same timing rules


def orlop(root: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), *args],
                          check=True, capture_output=True, text=True).stdout


def quiet(root: Path, *args: str, check: bool = False) -> Callable[[], None]:
    def f() -> None:
        subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), *args],
                       check=check, capture_output=True)
    return f


def rm_path(p: Path) -> Callable[[], None]:
    def f() -> None:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    return f


def main() -> int:
    with dataset("bs") as ds:
        args, work, root, data, mib = ds.args, ds.work, ds.root, ds.data, ds.mib
        cpdest = work / "cp-a"
        # Three-way, alternating, so that all see the same machine.
        t_cp: list[float] = []
        t_clone: list[float] = []
        t_snap: list[float] = []
        for _ in range(args.runs):
            t_cp.append(best(1, rm_path(cpdest),
                             lambda: sh("cp", "-a", str(data), str(cpdest))))
            t_clone.append(best(1, quiet(root, "volume", "rm", "-f", "bc"),
                                quiet(root, "volume", "clone", "bs", "bc")))
            t_snap.append(best(1, quiet(root, "volume", "snapshot", "rm", "bs", "s1"),
                               quiet(root, "volume", "snapshot", "create", "bs", "s1",
                                     check=True)))
        method = json.loads(orlop(root, "volume", "snapshot", "ls", "--format", "json",
                                  "bs").splitlines()[0])["Method"]
        print(f"snapshot method on this filesystem: {method}")

        def line(name: str, secs: float, refs: list[tuple[str, float]]) -> None:
            text = f"{name}: {secs:.2f} s ({mib / secs:.0f} MiB/s)"
            for ref_name, ref in refs:
                text += f", {ref / secs:.2f}x the speed of {ref_name}"
            print(text)

        cp, clone, snap = min(t_cp), min(t_clone), min(t_snap)
        line("cp_a", cp, [])
        line("volume_clone", clone, [("cp -a", cp)])
        line("snapshot_create", snap, [("cp -a", cp), ("volume clone", clone)])

        # Restoring by hand replaces the content: delete it, copy the saved one back.  The
        # deletion is part of the price (on a filesystem mounted with discard, most of it).
        back = work / "cp-back"

        def fresh_back() -> None:
            rm_path(back)()
            sh("cp", "-a", str(data), str(back))

        t_cpb: list[float] = []
        t_rest: list[float] = []
        for _ in range(args.runs):
            t_cpb.append(best(1, fresh_back, lambda: (
                sh("rm", "-rf", str(back)), sh("cp", "-a", str(cpdest), str(back))) and None))
            t_rest.append(best(1, lambda: None, quiet(root, "volume", "snapshot", "restore",
                                                      "bs", "s1", check=True)))
        line("rm_rf_and_cp_a_back", min(t_cpb), [])
        line("snapshot_restore", min(t_rest), [("rm -rf + cp -a", min(t_cpb))])

        # 1% of the files rewritten since snapshot "s1".
        changed = max(1, args.files // 100)
        files = sorted(p for p in data.rglob("f*") if p.is_file())
        step = max(1, len(files) // changed)
        for p in files[::step][:changed]:
            p.write_bytes(os.urandom(p.stat().st_size))
        os.sync()
        full, inc = work / "full.tar", work / "inc.tar"
        t_full: list[float] = []
        t_inc: list[float] = []
        for _ in range(args.runs):
            t_full.append(best(1, rm_path(full), quiet(
                root, "volume", "export", "-o", str(full), "bs", check=True)))
            t_inc.append(best(1, rm_path(inc), quiet(
                root, "volume", "export", "--since", "s1", "-o", str(inc), "bs", check=True)))
        f_size, i_size = full.stat().st_size, inc.stat().st_size
        print(f"changed: {changed} files ({changed * 100 / args.files:.0f}%)")
        print(f"export_full: {min(t_full):.2f} s, {f_size / (1 << 20):.1f} MiB")
        print(f"export_since: {min(t_inc):.2f} s, {i_size / (1 << 20):.1f} MiB, "
              f"{min(t_full) / min(t_inc):.1f}x faster, {f_size / i_size:.0f}x smaller "
              "than the full export")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
