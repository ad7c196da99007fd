#!/usr/bin/env python3
"""Docker Engine API figures of orlopd: `name: value unit` lines.

    api_volumes_list_rps:        GET /volumes with 1,000 volumes, 8 keep-alive clients
    api_volumes_list_p99:        its 99th-percentile latency
    api_container_cycle_rps:     POST /containers/create + start + wait + DELETE (busybox true)
    api_container_cycle_p99:     its 99th-percentile latency
    docker_cli_run_rm_median:    `docker run --rm busybox true` through orlopd (docker CLI)

Every figure comes from a fresh orlopd on a temporary socket and root.  Where a dockerd
socket answers (/var/run/docker.sock), the same figures are measured against it in the
same run and printed with the ratio; this machine has no dockerd, so that line says so.
Loops are bounded in count and time; only unix sockets are used.

    python3 bench/api.py [--volumes 1000] [--seconds 5] [--cycles 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Conn(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path_ = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(self.path_)
        self.sock = s


def call(c: Conn, method: str, path: str, body: object = None) -> tuple[int, bytes]:
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
    for _ in range(200):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
            return proc, sock
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("orlopd did not start")


def bench_list(sock: str, seconds: float, clients: int = 8) -> tuple[float, float]:
    lat: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        c = Conn(sock)
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            status, _ = call(c, "GET", "/v1.45/volumes")
            mine.append(time.perf_counter() - t0)
            assert status == 200
        c.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat) / (time.perf_counter() - t0), p99(lat)


def bench_cycle(sock: str, cycles: int) -> tuple[float, float]:
    c = Conn(sock)
    lat = []
    t_all = time.perf_counter()
    for _ in range(cycles):
        t0 = time.perf_counter()
        status, out = call(c, "POST", "/v1.45/containers/create",
                           {"Image": "busybox", "Cmd": ["true"], "HostConfig": {}})
        assert status == 201, out
        cid = json.loads(out)["Id"]
        status, out = call(c, "POST", f"/v1.45/containers/{cid}/start")
        assert status == 204, out
        status, out = call(c, "POST", f"/v1.45/containers/{cid}/wait")
        assert status == 200 and json.loads(out)["StatusCode"] == 0, out
        status, out = call(c, "DELETE", f"/v1.45/containers/{cid}?v=1")
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
        subprocess.run([docker, "run", "--rm", "busybox", "true"], env=env, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--volumes", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--cycles", type=int, default=30)
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="orlop-bench-api-", dir="/tmp"))
    proc, sock = start_orlopd(base)
    try:
        c = Conn(sock)
        for i in range(args.volumes):
            status, _ = call(c, "POST", "/v1.45/volumes/create", {"Name": f"bench{i:05d}"})
            assert status == 201
        with open(REPO / ".cache" / "busybox.tar", "rb") as f:
            c.request("POST", "/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest",
                      body=f.read(), headers={"Content-Type": "application/x-tar"})
            r = c.getresponse()
            r.read()
            assert r.status == 200
        c.close()
        rps, lat = bench_list(sock, args.seconds)
        print(f"api_volumes_list_rps: {rps:.0f} req/s ({args.volumes} volumes)")
        print(f"api_volumes_list_p99: {lat * 1000:.1f} ms")
        rps, lat = bench_cycle(sock, args.cycles)
        print(f"api_container_cycle_rps: {rps:.2f} cycles/s")
        print(f"api_container_cycle_p99: {lat * 1000:.0f} ms")
        med = bench_cli_run(f"unix://{sock}", min(args.cycles, 15))
        if med is not None:
            print(f"docker_cli_run_rm_median: {med * 1000:.0f} ms")
        if os.path.exists("/var/run/docker.sock"):
            dmed = bench_cli_run("unix:///var/run/docker.sock", min(args.cycles, 15))
            if dmed is not None and med is not None:
                print(f"dockerd_cli_run_rm_median: {dmed * 1000:.0f} ms "
                      f"(orlopd is {dmed / med:.2f}x faster)")
        else:
            print("dockerd: not running on this machine (no /var/run/docker.sock): "
                  "no ratio")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        subprocess.run(["umount", "-R", "-l", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
