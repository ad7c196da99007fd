#!/usr/bin/env python3
"""Cost of a container's network: `name: value unit` lines.

    run_rm_none_median:      `orlop run --rm --network none busybox true`
    run_rm_bridge_median:    `orlop run --rm busybox true` (the default bridge, with the
                             root's warm namespace pool: engine/net/pool.py)
    bridge_added:            their difference (the goal is <= 25 ms)
    run_rm_bridge_cold_median / bridge_cold_added: the same with the pool off
                             (ORLOP_NET_POOL=0: netavark sets up each namespace)
    bridge_added_paired_median: the median of (each bridge run - the none run just
                             before it), with and without the pool: less sensitive
                             to a load that drifts during the run

Runs alternate between the modes on one temporary root (none, bridge, none, cold
bridge, ...).  Before the timed runs the pool is given the moment it needs to fill once
(as a user's second `run` a second after the first finds it).  Where Podman is installed
the same pair is measured for it (`podman run --rm --network none|bridge`) and printed
beside Orlop's, as Podman also uses netavark; and for Docker (a private dockerd whose
default network is a bridge made for it, without firewall rules).  No traffic leaves the
machine.

    python3 bench/network.py [--runs 15]
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


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def pair(make: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    none: list[float] = []
    bridge: list[float] = []
    for argv in ([*make, "--network", "none", "busybox", "true"], [*make, "busybox", "true"]):
        timed(argv, env)  # warm: the bridge exists, caches are hot
    for _ in range(runs):
        none.append(timed([*make, "--network", "none", "busybox", "true"], env))
        bridge.append(timed([*make, "busybox", "true"], env))
    return statistics.median(none) * 1000, statistics.median(bridge) * 1000


def orlop_modes(orlop: list[str], root: Path, runs: int, env: dict[str, str]
                ) -> dict[str, float]:
    """none / bridge with the pool / bridge without it, interleaved."""
    cold_env = {**env, "ORLOP_NET_POOL": "0"}
    none_argv = [*orlop, "run", "--rm", "--network", "none", "busybox", "true"]
    bridge_argv = [*orlop, "run", "--rm", "busybox", "true"]
    timed(none_argv, env)
    timed(bridge_argv, env)  # starts the root's keeper
    pool = root.parent / "run" / "netpool"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(list(pool.glob("*.json"))) < 2:
        time.sleep(0.05)
    times: dict[str, list[float]] = {"none": [], "bridge": [], "cold": []}
    for _ in range(runs):
        times["none"].append(timed(none_argv, env))
        times["bridge"].append(timed(bridge_argv, env))
        times["none"].append(timed(none_argv, env))
        times["cold"].append(timed(bridge_argv, cold_env))
    out = {k: statistics.median(v) * 1000 for k, v in times.items()}
    # Each bridge run minus the none run just before it: robust to the load drifting
    # between rounds on a shared machine.
    nones = times["none"]
    out["paired"] = statistics.median(b - n for b, n in zip(times["bridge"], nones[0::2],
                                                            strict=True)) * 1000
    out["paired_cold"] = statistics.median(c - n for c, n in zip(times["cold"], nones[1::2],
                                                                 strict=True)) * 1000
    return out


def private_podman(base: Path) -> list[str] | None:
    """Podman with private roots and network config (as bench/compare.py runs it: its crun
    refuses this host's cgroup v1 'unified' mount, so each command runs in a private mount
    namespace without it), with Orlop's busybox imported; None if it cannot run."""
    if not shutil.which("podman"):
        return None
    podman = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              "umount -l /sys/fs/cgroup/unified 2>/dev/null; exec \"$@\"", "sh",
              "podman", "--root", str(base / "r"), "--runroot", str(base / "rr"),
              "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
              "--events-backend", "none", "--network-config-dir", str(base / "net")]
    res = subprocess.run([*podman, "import", str(REPO / ".cache" / "busybox.tar"), "busybox"],
                         capture_output=True, check=False)
    if res.returncode != 0:
        print(f"podman: not measured ({res.stderr.decode(errors='replace')[:200]})")
        return None
    return podman


def docker_pair(runs: int) -> tuple[float, float] | None:
    """Docker's none/bridge pair: a private dockerd (tests/dockerd_util.py) whose default
    network is a bridge made here for it, without firewall rules (--iptables=false: its
    bridge setup is measured without the NAT rules netavark writes, in Docker's favour)."""
    sys.path.insert(0, str(REPO / "tests"))
    from dockerd_util import start_dockerd

    docker = shutil.which("docker")
    if docker is None:
        return None
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True,
                            check=False).stdout
    octet = next((i for i in range(10, 250) if f"10.209.{i}." not in routes), None)
    if octet is None:
        return None
    br = f"orlbdk{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", br, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"10.209.{octet}.1/24", "dev", br], check=True)
        subprocess.run(["ip", "link", "set", br, "up"], check=True)
        d, why = start_dockerd(bridge=br)
        if d is None:
            print(f"dockerd: not measured ({why.splitlines()[0][:200]})")
            return None
        try:
            d.ok("import", str(REPO / ".cache" / "busybox.tar"), "busybox")
            return pair([docker, "run", "--pull", "never", "--rm"], runs, d.env())
        finally:
            d.stop()
    finally:
        subprocess.run(["ip", "link", "del", br], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    base = Path(tempfile.mkdtemp(prefix="orlop-bench-net-"))
    root = base / "root"
    try:
        orlop = [sys.executable, "-m", "orlop", "--root", str(root), "--run-root",
                 str(base / "run")]
        subprocess.run([*orlop, "import", str(REPO / ".cache" / "busybox.tar"),
                        "busybox:latest"], check=True, env=env, stdout=subprocess.DEVNULL)
        t = orlop_modes(orlop, root, args.runs, env)
        none, bridge = t["none"], t["bridge"]
        print(f"run_rm_none_median: {none:.1f} ms")
        print(f"run_rm_bridge_median: {bridge:.1f} ms")
        print(f"bridge_added: {bridge - none:.1f} ms")
        print(f"run_rm_bridge_cold_median: {t['cold']:.1f} ms")
        print(f"bridge_cold_added: {t['cold'] - none:.1f} ms")
        print(f"bridge_added_paired_median: {t['paired']:.1f} ms (pool), "
              f"{t['paired_cold']:.1f} ms (pool off)")
        print(f"load_average: {os.getloadavg()[0]:.2f}")
        dk = docker_pair(args.runs)
        if dk is not None:
            print(f"docker_run_rm_none_median: {dk[0]:.1f} ms")
            print(f"docker_run_rm_bridge_median: {dk[1]:.1f} ms")
            print(f"docker_bridge_added: {dk[1] - dk[0]:.1f} ms "
                  f"(orlop/docker {(bridge - none) / max(dk[1] - dk[0], 0.1):.2f})")
        podman = private_podman(base / "podman")
        if podman is not None:
            # crun's setrlimit of Podman's default nofile is refused in this sandbox
            # (bench/compare.py passes the same two flags).
            pn, pb = pair([*podman, "run", "--rm", "--ulimit", "nofile=1024:1024",
                           "--ulimit", "nproc=1024:1024"], args.runs, env)
            print(f"podman_run_rm_none_median: {pn:.1f} ms")
            print(f"podman_run_rm_bridge_median: {pb:.1f} ms")
            print(f"podman_bridge_added: {pb - pn:.1f} ms "
                  f"(orlop/podman {(bridge - none) / max(pb - pn, 0.1):.2f})")
            subprocess.run([*podman, "system", "reset", "-f"], capture_output=True,
                           check=False)
    finally:
        subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), "system", "prune",
                        "-f"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
