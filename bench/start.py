"""Container start-up: `orlop run --rm busybox true`, and the same bundle under `crun run`.

Prints `name: value unit` lines.  Targets (issue 2): the built-in path under 100 ms median
on a 2-core machine, within 4x of `crun run`, CLI peak RSS under 40 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busybox_tar, median_ms, orlop_exe, report, scratch_root, timed

RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def bench_orlop(root: Path) -> float:
    exe = orlop_exe()
    subprocess.run([*exe, "--root", str(root), "import", str(busybox_tar()), "busybox"],
                   check=True, capture_output=True)
    argv = [*exe, "--root", str(root), "run", "--rm", "busybox", "true"]
    for _ in range(3):
        timed(argv)
    samples, rss = [], []
    for _ in range(RUNS):
        t, m = timed(argv)
        samples.append(t)
        rss.append(m)
    ms = median_ms(samples)
    report(f"orlop run --rm busybox true (median of {RUNS})", ms, "ms")
    report("orlop CLI peak RSS (max of runs)", max(rss) / 1024, "MB")
    return ms


def _crun_bundle(base: Path) -> Path:
    """The same busybox rootfs and a config.json of the shape Orlop writes."""
    from orlop.engine.containers.bundle import build_spec
    from orlop.engine.containers.users import ResolvedUser

    bundle = base / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    with tarfile.open(busybox_tar()) as tf:
        tf.extractall(rootfs, filter="fully_trusted")  # our own tarball
    spec = build_spec(args=["true"], env=["PATH=/bin"], cwd="/",
                      user=ResolvedUser(0, 0, (), "/root"), hostname="bench", terminal=False,
                      rootfs=rootfs, readonly_rootfs=False, network="none", lower_dirs=[],
                      upper_dir=rootfs, work_dir=rootfs, extra_mounts=[])
    spec.pop("annotations")
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def bench_crun(base: Path) -> float | None:
    crun = shutil.which("crun")
    if not crun:
        print("crun run: not installed, skipped")
        return None
    bundle = _crun_bundle(base)
    state = base / "crun-state"
    # crun 1.8 refuses hybrid cgroup hosts whose v2 hierarchy has controllers: time it in a
    # private mount namespace without that mount, as Orlop runs it.
    script = (
        "umount -l /sys/fs/cgroup/unified 2>/dev/null; "
        f"for i in $(seq {RUNS + 3}); do s=$(date +%s%N); "
        f"{crun} --cgroup-manager=disabled --root {state} run --bundle {bundle} b$i "
        ">/dev/null || exit 1; e=$(date +%s%N); echo $((e - s)); done")
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        print(f"crun run: failed: {res.stderr.strip()}")
        return None
    samples = [int(x) / 1e9 for x in res.stdout.split()][3:]
    ms = median_ms(samples)
    report(f"crun run (same bundle, median of {RUNS})", ms, "ms")
    return ms


def main() -> None:
    with scratch_root() as base:
        t0 = time.perf_counter()
        ours = bench_orlop(base / "root")
        peer = bench_crun(base)
        if peer:
            report("ratio orlop/crun", ours / peer, "x")
        for name in ("docker", "podman"):
            if shutil.which(name) and subprocess.run(
                    [name, "info"], capture_output=True, check=False).returncode == 0:
                print(f"{name}: installed, but no busybox image can be pulled here: skipped")
        report("bench wall time", time.perf_counter() - t0, "s")


if __name__ == "__main__":
    main()
