"""Volume figures: `volume create` and `volume ls` with 10,000 volumes present, and
`run --rm` with 0, 1 and 10 volumes (the cost of each added volume at start-up).

Targets (issue 3): `volume ls` of 10,000 volumes under 300 ms; each added volume costs
under 2 ms of container start.  Prints `name: value unit` lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busybox_tar, median_ms, orlop_exe, report, scratch_root, timed

N_VOLUMES = int(os.environ.get("BENCH_VOLUMES", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def populate(root: Path, n: int) -> float:
    """Create ``n`` volumes through the engine's own service (what `volume create` runs),
    in-process, so that setting up does not take n interpreter start-ups."""
    from orlop.config import EngineConfig
    from orlop.engine import Engine

    engine = Engine(EngineConfig.from_env(str(root)))
    t0 = time.perf_counter()
    for i in range(n):
        engine.volumes.create(f"vol{i:05d}")
    engine.close()
    return time.perf_counter() - t0


def main() -> None:
    exe = orlop_exe()
    with scratch_root() as base:
        root = base / "root"
        cli = [*exe, "--root", str(root)]
        subprocess.run([*cli, "import", str(busybox_tar()), "busybox"], check=True,
                       capture_output=True)
        # run --rm with 0, 1 and 10 named volumes (created once, so that the figure is the
        # start-up cost of mounting them, not of creating them).
        results = {}
        for k in (0, 1, 10):
            vols = [a for i in range(k) for a in ("-v", f"rv{i}:/v{i}")]
            argv = [*cli, "run", "--rm", *vols, "busybox", "true"]
            for _ in range(3):
                timed(argv)
            results[k] = median_ms([timed(argv)[0] for _ in range(RUNS)])
            report(f"run --rm with {k} volumes (median of {RUNS})", results[k], "ms")
        report("cost per added volume ((t10 - t0) / 10)", (results[10] - results[0]) / 10,
               "ms")

        secs = populate(root, N_VOLUMES)
        report(f"engine volume create x{N_VOLUMES} (in-process, per volume)",
               secs * 1000 / N_VOLUMES, "ms")
        ls = [timed([*cli, "volume", "ls"])[0] for _ in range(RUNS)]
        report(f"volume ls with {N_VOLUMES} volumes (median of {RUNS})", median_ms(ls), "ms")
        lsq = [timed([*cli, "volume", "ls", "-q"])[0] for _ in range(RUNS)]
        report(f"volume ls -q with {N_VOLUMES} volumes (median of {RUNS})", median_ms(lsq),
               "ms")
        create = [timed([*cli, "volume", "create", f"extra{i}"])[0] for i in range(RUNS)]
        report(f"volume create with {N_VOLUMES} present (median of {RUNS})",
               median_ms(create), "ms")
        for name in ("docker", "podman"):
            if shutil.which(name) and subprocess.run(
                    [name, "info"], capture_output=True, check=False).returncode == 0:
                print(f"{name}: installed; peer figures not measured by this script yet")


if __name__ == "__main__":
    main()
