#!/usr/bin/env python3
"""`orlop build` against dockerd's classic builder: `name: value unit` lines.

    build_cold:     a 10-step, two-stage Dockerfile (RUN, COPY of 1,000 files, COPY --from,
                    ENV, LABEL, CMD) built with --no-cache (busybox already loaded)
    build_cached:   the same build again, every step a cache hit (`---> Using cache`)

Orlop builds in-process (`orlop --root R build`, a fresh temporary root).  Where dockerd is
installed, a private one is started (tests/dockerd_util.py: temporary socket and roots,
no bridge, no iptables), busybox is imported into it from the same tar, and the same
context is built with `DOCKER_BUILDKIT=0 docker build`; each figure is printed beside
Orlop's with the ratio (Orlop / dockerd: below 1 is faster).  Both builders run their RUN
steps with --network none (the private dockerd has no bridge).  Nothing leaves the
machine.

    python3 bench/build.py [--runs 3] [--files 1000] [--peer none]
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
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busybox_tar, orlop_exe  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from dockerd_util import Dockerd, start_dockerd  # noqa: E402

DOCKERFILE = """\
FROM busybox AS build
RUN mkdir -p /out && echo built > /out/a
COPY files/ /files/
RUN ls /files | wc -l > /out/count
ENV STAGE=one
FROM busybox
COPY --from=build /out /out
COPY --from=build /files /files
LABEL bench=build
CMD ["cat", "/out/count"]
"""


def make_context(base: Path, files: int) -> Path:
    ctx = base / "ctx"
    (ctx / "files").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for i in range(files):
        (ctx / "files" / f"f{i:04d}.txt").write_text(f"file {i}\n" * 8)
    return ctx


def clock(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def check(res: subprocess.CompletedProcess[str], what: str) -> None:
    if res.returncode != 0:
        raise SystemExit(f"{what} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")


def measure_orlop(base: Path, ctx: Path, runs: int) -> tuple[list[float], list[float]]:
    root = base / "root"
    exe = [*orlop_exe(), "--root", str(root)]
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    check(subprocess.run([*exe, "import", str(busybox_tar()), "busybox:latest"],
                         capture_output=True, text=True, env=env, check=False), "orlop import")
    argv = [*exe, "build", "--network", "none", "-t", "bench:1", str(ctx)]

    def run(*extra: str) -> None:
        check(subprocess.run([*argv[:-1], *extra, argv[-1]], capture_output=True, text=True,
                             env=env, check=False), "orlop build")

    cold = [clock(lambda: run("--no-cache")) for _ in range(runs)]
    cached = [clock(run) for _ in range(runs)]
    return cold, cached


def measure_dockerd(d: Dockerd, ctx: Path, runs: int) -> tuple[list[float], list[float]]:
    with open(busybox_tar(), "rb") as f:
        d.ok("import", "-", "busybox:latest", input=f.read())
    env = {**d.env(), "DOCKER_BUILDKIT": "0"}
    docker = shutil.which("docker") or "docker"
    argv = [docker, "build", "--network", "none", "-t", "bench:1", str(ctx)]

    def run(*extra: str) -> None:
        check(subprocess.run([*argv[:-1], *extra, argv[-1]], capture_output=True, text=True,
                             env=env, timeout=600, check=False), "docker build")

    cold = [clock(lambda: run("--no-cache")) for _ in range(runs)]
    cached = [clock(run) for _ in range(runs)]
    return cold, cached


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--peer", default="", help="'none': do not start a private dockerd")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="orlop-bench-build-", dir="/tmp"))
    dockerd: Dockerd | None = None
    try:
        ctx = make_context(base, args.files)
        ours = measure_orlop(base, ctx, args.runs)
        peer: tuple[list[float], list[float]] | None = None
        if args.peer != "none":
            dockerd, why = start_dockerd()
            if dockerd is None:
                print(f"dockerd: not measured ({why.splitlines()[0]}): no ratio")
            else:
                peer = measure_dockerd(dockerd, ctx, args.runs)
        for i, name in enumerate(("build_cold", "build_cached")):
            value = statistics.median(ours[i])
            line = f"{name}: {value:.3f} s"
            if peer is not None:
                other = statistics.median(peer[i])
                line += f"  (dockerd classic {other:.3f} s; orlop {value / other:.2f}x)"
            print(line)
    finally:
        if dockerd is not None:
            dockerd.stop()
        subprocess.run(["sh", "-c", f"grep -o ' {base}[^ ]*' /proc/self/mountinfo | sort -r | "
                        "xargs -r -n1 umount -l"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
