#!/usr/bin/env python3
"""Registry pull and push: Orlop vs `skopeo copy` (and dockerd when one is reachable),
same loopback registry (Debian's docker-registry, started here), same image, one run.

    PYTHONPATH=src python3 bench/pull.py [--layer-mib 50] [--runs 3]

The image: busybox plus four layers of --layer-mib MiB each (half random, half zeros, so
gzip has something to do): ~200 MB in 5 layers.  It is pushed twice: by Orlop
(uncompressed OCI layers, what `save` writes) and, from that, by skopeo as gzip (what
Docker pushes).  Measured (best of --runs, page cache warm):

* orlop pull (download + verify + extract + register) of each variant into an empty root;
* skopeo copy docker://... dir:  (download + verify only: no extraction, so it is a floor
  for the network part, not a like-for-like pull);
* orlop push vs skopeo copy oci-archive: -> docker:// of the same image (uncompressed).

dockerd (`docker pull`) is measured when `docker info` answers (DOCKER_HOST), else
reported as not available.  Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORLOP = [sys.executable, "-m", "orlop"]  # this checkout (PYTHONPATH), not an installed one


def run(*cmd: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(list(cmd), capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed: {res.stderr}")
    return res.stdout


def best(runs: int, prepare: Callable[[], None], action: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        prepare()
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return min(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_registry(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = work / "config.yml"
    cfg.write_text(json.dumps({
        "version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer-mib", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("docker-registry") is None:
        raise SystemExit("bench: docker-registry is not installed (scripts/setup.sh)")
    work = Path(tempfile.mkdtemp(prefix="orlop-bench-pull-", dir="/tmp"))
    env = {**os.environ, "DOCKER_CONFIG": str(work / "cfg"),
           "ORLOP_REGISTRY_CONFIG": str(work / "none.json"),
           "ORLOP_CERTS_D": str(work / "certs.d")}
    proc, host = start_registry(work)
    try:
        src = work / "src"

        def o(root: Path, *a: str) -> str:
            return run(*ORLOP, "--root", str(root), *a, env=env)

        o(src, "import", str(REPO / ".cache" / "busybox.tar"), "busybox")
        half = args.layer_mib // 2
        base = "busybox"
        for i in range(4):
            o(src, "run", "--name", f"l{i}", base, "sh", "-c",
              f"dd if=/dev/urandom of=/r{i} bs=1M count={half} 2>/dev/null; "
              f"dd if=/dev/zero of=/z{i} bs=1M count={args.layer_mib - half} 2>/dev/null")
            base = f"bench:l{i}"
            o(src, "commit", f"l{i}", base)
        raw = f"{host}/bench/raw:1"
        gz = f"{host}/bench/gz:1"
        o(src, "tag", base, raw)
        o(src, "push", raw)
        run("skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
            "--dest-compress", f"docker://{raw}", f"docker://{gz}")
        size = sum(f.stat().st_size for f in (work / "storage").rglob("data"))
        print(f"image: 5 layers, registry holds {size / 1e6:.0f} MB (raw + gzip copies)")

        dest = work / "dest"

        def fresh_root() -> None:
            subprocess.run(["sh", "-c", f"grep -o ' {dest}[^ ]*' /proc/self/mountinfo | "
                            "sort -r | xargs -r -n1 umount -l"], check=False)
            shutil.rmtree(dest, ignore_errors=True)

        def fresh_dir() -> None:
            shutil.rmtree(dest, ignore_errors=True)

        results: list[tuple[str, float]] = []
        for label, ref in (("uncompressed", raw), ("gzip", gz)):
            t = best(args.runs, fresh_root, lambda ref=ref: o(dest, "pull", "-q", ref))
            results.append((f"orlop pull ({label})", t))
            t = best(args.runs, fresh_dir, lambda ref=ref: run(
                "skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                f"dir:{dest}"))
            results.append((f"skopeo copy to dir: ({label}, no extraction)", t))
        docker_ok = shutil.which("docker") is not None and subprocess.run(
            ["docker", "info"], capture_output=True, check=False).returncode == 0
        if docker_ok:
            for label, ref in (("uncompressed", raw), ("gzip", gz)):
                t = best(args.runs, lambda ref=ref: subprocess.run(
                    ["docker", "rmi", "-f", ref], capture_output=True, check=False),
                    lambda ref=ref: run("docker", "pull", "-q", ref))
                results.append((f"docker pull ({label})", t))
        else:
            print("docker pull: not measured (no dockerd reachable)")

        archive = work / "image.tar"
        with open(archive, "wb") as f:
            subprocess.run([*ORLOP, "--root", str(src), "save", base], stdout=f, check=True,
                           env=env)
        n = [0]

        def new_repo() -> None:
            n[0] += 1

        t = best(args.runs, new_repo, lambda: (o(src, "tag", base, f"{host}/p/o{n[0]}:1"),
                                                o(src, "push", "-q", f"{host}/p/o{n[0]}:1")))
        results.append(("orlop push (new repository)", t))
        t = best(args.runs, new_repo, lambda: run(
            "skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-compress=false",
            f"oci-archive:{archive}", f"docker://{host}/p/s{n[0]}:1"))
        results.append(("skopeo copy oci-archive: -> registry (new repository)", t))
        width = max(len(name) for name, _ in results)
        for name, t in results:
            print(f"{name:<{width}}  {t:6.2f} s")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mountinfo | "
                        "sort -r | xargs -r -n1 umount -l"], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
