#!/usr/bin/env python3
"""Docker Engine API figures of orlopd: `name: value unit` lines.

    api_volumes_list_rps:        GET /volumes with 1,000 volumes, 8 keep-alive clients
    api_volumes_list_p99:        its 99th-percentile latency
    api_container_cycle_rps:     POST /containers/create + start + wait + DELETE (busybox true)
    api_container_cycle_p99:     its 99th-percentile latency
    docker_cli_run_rm_median:    `docker run --rm busybox true` through orlopd (docker CLI)

Every figure comes from a fresh orlopd on a temporary socket and root.  Where dockerd is
installed (Debian's docker.io: `apt-get install docker.io`), a private dockerd is started
(tests/dockerd_util.py: temporary socket, data-root and exec-root, no iptables, no bridge,
its own containerd namespace), busybox is imported into it from the same tar, and the same
figures are measured against it in the same run, each printed beside orlopd's with the
ratio.  `--peer unix:///path` uses an already running dockerd instead.  Loops are bounded
in count and time; only unix sockets are used; containers run with --network none.

    python3 bench/api.py [--volumes 1000] [--seconds 5] [--cycles 30] [--peer HOST|none]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import UnixConn, run_threads, stop_process, wait_for_socket  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from dockerd_util import Dockerd, start_dockerd  # noqa: E402


def call(c: UnixConn, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data,
              headers={"Content-Type": "application/json"} if data else {})
    r = c.getresponse()
    return r.status, r.read()


def p99(samples: list[float]) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def start_orlopd(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = str(base / "orlopd.sock")
    proc = subprocess.Popen([sys.executable, "-m", "orlop.server.main", "-H", f"unix://{sock}",
                             "--root", str(base / "root"), "--log-level", "warning"])
    wait_for_socket(proc, sock)
    return proc, sock


def bench_list(sock: str, seconds: float, clients: int = 8) -> tuple[float, float]:
    lat: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        c = UnixConn(sock)
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            status, _ = call(c, "GET", "/v1.41/volumes")
            mine.append(time.perf_counter() - t0)
            assert status == 200
        c.close()
        with lock:
            lat.extend(mine)

    elapsed = run_threads(worker, clients)
    return len(lat) / elapsed, p99(lat)


def bench_cycle(sock: str, cycles: int) -> tuple[float, float]:
    c = UnixConn(sock)
    lat = []
    t_all = time.perf_counter()
    for _ in range(cycles):
        t0 = time.perf_counter()
        status, out = call(c, "POST", "/v1.41/containers/create",
                           {"Image": "busybox", "Cmd": ["true"],
                            "HostConfig": {"NetworkMode": "none"}})
        assert status == 201, out
        cid = json.loads(out)["Id"]
        status, out = call(c, "POST", f"/v1.41/containers/{cid}/start")
        assert status == 204, out
        status, out = call(c, "POST", f"/v1.41/containers/{cid}/wait")
        assert status == 200 and json.loads(out)["StatusCode"] == 0, out
        status, out = call(c, "DELETE", f"/v1.41/containers/{cid}?v=1")
        assert status == 204, out
        lat.append(time.perf_counter() - t0)
    c.close()
    return cycles / (time.perf_counter() - t_all), p99(lat)


def bench_cli_run(host: str, runs: int) -> float | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    env = {**os.environ, "DOCKER_HOST": host}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([docker, "run", "--pull", "never", "--rm", "--network", "none",
                        "busybox", "true"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def prepare(sock: str, volumes: int) -> None:
    """``volumes`` volumes and busybox:latest (imported from the project's tar)."""
    c = UnixConn(sock)
    for i in range(volumes):
        status, _ = call(c, "POST", "/v1.41/volumes/create", {"Name": f"bench{i:05d}"})
        assert status == 201, status
    with open(REPO / ".cache" / "busybox.tar", "rb") as f:
        c.request("POST", "/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest",
                  body=f.read(), headers={"Content-Type": "application/x-tar"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
    c.close()


def measure(sock: str, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    out["list_rps"], out["list_p99"] = bench_list(sock, args.seconds)
    out["cycle_rps"], out["cycle_p99"] = bench_cycle(sock, args.cycles)
    med = bench_cli_run(f"unix://{sock}", min(args.cycles, 15))
    if med is not None:
        out["cli_run"] = med
    return out


def report(ours: dict[str, float], peer: dict[str, float] | None, volumes: int) -> None:
    def line(name: str, key: str, scale: float, unit: str, higher_better: bool) -> None:
        if key not in ours:
            return
        text = f"{name}: {ours[key] * scale:.1f} {unit}"
        if peer and key in peer:
            ratio = (ours[key] / peer[key]) if higher_better else (peer[key] / ours[key])
            text += f"  (dockerd {peer[key] * scale:.1f} {unit}; orlopd {ratio:.2f}x)"
        print(text)

    line(f"api_volumes_list_rps ({volumes} volumes)", "list_rps", 1, "req/s", True)
    line("api_volumes_list_p99", "list_p99", 1000, "ms", False)
    line("api_container_cycle_rps", "cycle_rps", 1, "cycles/s", True)
    line("api_container_cycle_p99", "cycle_p99", 1000, "ms", False)
    line("docker_cli_run_rm_median", "cli_run", 1000, "ms", False)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--volumes", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--cycles", type=int, default=30)
    p.add_argument("--peer", default="",
                   help="dockerd to compare with: unix:///path, 'none', or empty to start a "
                        "private one when dockerd is installed")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="orlop-bench-api-", dir="/tmp"))
    procs: list[subprocess.Popen[bytes]] = []
    dockerd: Dockerd | None = None
    try:
        proc, sock = start_orlopd(base)
        procs.append(proc)
        prepare(sock, args.volumes)
        ours = measure(sock, args)
        peer: dict[str, float] | None = None
        peer_sock = ""
        if args.peer.startswith("unix://"):
            peer_sock = args.peer[len("unix://"):]
        elif args.peer != "none":
            dockerd, why = start_dockerd()
            if dockerd is not None:
                peer_sock = dockerd.sock
            else:
                print(f"dockerd: not measured ({why.splitlines()[0]}): no ratio")
        if peer_sock:
            prepare(peer_sock, args.volumes)
            peer = measure(peer_sock, args)
        report(ours, peer, args.volumes)
    finally:
        if dockerd is not None:
            dockerd.stop()
        for proc in reversed(procs):
            stop_process(proc)
        subprocess.run(["umount", "-R", "-l", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
