#!/usr/bin/env python3
"""Registry pull and push: Orlop vs `skopeo copy` and a private dockerd, same loopback
registry (Debian's docker-registry, started here), same image, one run; then volume
push/pull vs `volume export` + a plain blob upload.  Prints `name: value unit` lines,
with the ratio to Orlop where there is a peer (`x` > 1: Orlop is faster).

    PYTHONPATH=src python3 bench/pull.py [--layer-mib 50] [--runs 3]
                                         [--volume-mib 1024] [--volume-files 10000]

The image: busybox plus four layers of --layer-mib MiB each (half random, half zeros, so
gzip has something to do): ~200 MB in 5 layers.  It is pushed twice: by Orlop
(uncompressed OCI layers, what `save` writes) and, from that, by skopeo as gzip (what
Docker pushes).  Measured (best of --runs, page cache warm):

* orlop pull (download + verify + extract + register) of each variant into an empty root;
* skopeo copy docker://... dir:  (download + verify only: no extraction, so it is a floor
  for the network part, not a like-for-like pull);
* orlop push vs skopeo copy oci-archive: -> docker:// of the same image (uncompressed).

* dockerd (Debian's docker.io 20.10, started privately on temporary roots by
  tests/dockerd_util.py; no bridge, no iptables): `docker pull` of both variants (download
  + extract, as Orlop) and `docker push` of the same image (`docker load`ed from Orlop's
  `save`) to a new repository: dockerd gzips on push, Orlop does not;
* volume push / pull of --volume-mib MiB in --volume-files files (half random, half
  zeros) vs `volume export` to a file + one plain monolithic blob upload (POST + PUT with
  http.client), and a plain blob download + `volume import`.

Needs root.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dockerd_util import start_dockerd

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


def line(name: str, value: float, unit: str, peers: dict[str, float] | None = None,
         lower_better: bool = True) -> None:
    """One `name: value unit` line; each peer's figure beside it with Orlop's ratio."""
    text = f"{name}: {value:.2f} {unit}"
    for peer, v in (peers or {}).items():
        ratio = v / value if lower_better else value / v
        text += f"  ({peer} {v:.2f} {unit}; orlop {ratio:.2f}x)"
    print(text, flush=True)


def plain_upload(host: str, repo: str, path: Path) -> str:
    """The simplest upload a registry takes: POST, then one PUT of the whole file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    c = http.client.HTTPConnection(host, timeout=600)
    c.request("POST", f"/v2/{repo}/blobs/uploads/")
    r = c.getresponse()
    r.read()
    assert r.status == 202, r.status
    loc = r.getheader("Location") or ""
    loc = loc.split(host, 1)[-1]
    sep = "&" if "?" in loc else "?"
    with open(path, "rb") as f:
        c.request("PUT", f"{loc}{sep}digest={digest}", body=f,
                  headers={"Content-Length": str(path.stat().st_size),
                           "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        r.read()
    assert r.status == 201, r.status
    c.close()
    return digest


def plain_download(host: str, repo: str, digest: str, out: Path) -> None:
    c = http.client.HTTPConnection(host, timeout=600)
    c.request("GET", f"/v2/{repo}/blobs/{digest}")
    r = c.getresponse()
    assert r.status == 200, r.status
    h = hashlib.sha256()
    with open(out, "wb") as f:
        while chunk := r.read(1 << 20):
            h.update(chunk)
            f.write(chunk)
    c.close()
    assert "sha256:" + h.hexdigest() == digest


def fill_volume(mountpoint: Path, total_mib: int, files: int) -> None:
    """``files`` files, ``total_mib`` MiB in all, half random and half zeros each, in
    100 directories."""
    per = max(1, total_mib * (1 << 20) // files)
    rnd = os.urandom(per // 2)
    zeros = bytes(per - len(rnd))
    for i in range(files):
        d = mountpoint / f"d{i % 100:02d}"
        d.mkdir(exist_ok=True)
        # Each file differs (its index up front) so nothing dedups or compresses away.
        (d / f"f{i:05d}").write_bytes(i.to_bytes(8, "big") + rnd[8:] + zeros)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer-mib", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--volume-mib", type=int, default=1024)
    ap.add_argument("--volume-files", type=int, default=10000)
    ap.add_argument("--no-dockerd", action="store_true", help="skip the dockerd rows")
    args = ap.parse_args()
    if shutil.which("docker-registry") is None:
        raise SystemExit("bench: docker-registry is not installed (scripts/setup.sh)")
    work = Path(tempfile.mkdtemp(prefix="orlop-bench-pull-", dir="/tmp"))
    env = {**os.environ, "DOCKER_CONFIG": str(work / "cfg"),
           "ORLOP_REGISTRY_CONFIG": str(work / "none.json"),
           "ORLOP_CERTS_D": str(work / "certs.d")}
    proc, host = start_registry(work)
    dockerd = None
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
        print(f"image_layers: 5 layers ({args.layer_mib} MiB x4 + busybox)")
        print(f"registry_bytes: {size / 1e6:.0f} MB (raw + gzip copies)")

        if not args.no_dockerd:
            dockerd, why = start_dockerd(insecure=(host,))
            if dockerd is None:
                print(f"dockerd: not measured ({why.splitlines()[0] if why else '?'})")

        dest = work / "dest"

        def fresh_root() -> None:
            subprocess.run(["sh", "-c", f"grep -o ' {dest}[^ ]*' /proc/self/mountinfo | "
                            "sort -r | xargs -r -n1 umount -l"], check=False)
            shutil.rmtree(dest, ignore_errors=True)

        def fresh_dir() -> None:
            shutil.rmtree(dest, ignore_errors=True)

        for label, ref in (("uncompressed", raw), ("gzip", gz)):
            ours = best(args.runs, fresh_root, lambda ref=ref: o(dest, "pull", "-q", ref))
            peers = {}
            peers["skopeo-to-dir(no extraction)"] = best(
                args.runs, fresh_dir, lambda ref=ref: run(
                    "skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                    f"dir:{dest}"))
            if dockerd is not None:
                # Both variants removed first: dockerd would skip layers it holds
                # under the other variant's diff_ids ("Already exists").
                peers["dockerd"] = best(
                    args.runs, lambda d=dockerd: d.docker("rmi", "-f", raw, gz) and None,
                    lambda ref=ref, d=dockerd: d.ok("pull", "-q", ref) and None)
            line(f"pull_{label}", ours, "s", peers)

        archive = work / "image.tar"
        with open(archive, "wb") as f:
            subprocess.run([*ORLOP, "--root", str(src), "save", base], stdout=f, check=True,
                           env=env)
        # Every push goes to a registry started for it: nothing there to skip (HEAD) or
        # to mount from, so each run uploads every byte.  Tags are made before the clock.
        extra: list[subprocess.Popen[bytes]] = []
        target = [host]

        def fresh_registry() -> None:
            if extra:
                extra[-1].terminate()
                extra[-1].wait()
            (work / f"reg{len(extra)}").mkdir()
            p, h = start_registry(work / f"reg{len(extra)}")
            extra.append(p)
            target[0] = h

        try:
            ours = best(args.runs, lambda: (fresh_registry(), o(
                src, "tag", base, f"{target[0]}/p/o:1")) and None,
                lambda: o(src, "push", "-q", f"{target[0]}/p/o:1") and None)
            peers = {"skopeo(oci-archive,uncompressed)": best(
                args.runs, fresh_registry, lambda: run(
                    "skopeo", "copy", "-q", "--dest-tls-verify=false",
                    "--dest-compress=false", f"oci-archive:{archive}",
                    f"docker://{target[0]}/p/s:1") and None)}
            if dockerd is not None:
                d = dockerd
                d.ok("load", "-i", str(archive))
                peers["dockerd(gzip)"] = best(
                    args.runs, lambda: (fresh_registry(), d.ok(
                        "tag", base, f"{target[0]}/p/d:1")) and None,
                    lambda: d.ok("push", f"{target[0]}/p/d:1") and None)
            line("push_new_registry", ours, "s", peers)

            # Volumes: push/pull vs export + one plain upload, download + import.
            o(src, "volume", "create", "vbench")
            mp = Path(o(src, "volume", "inspect", "-f", "{{.Mountpoint}}", "vbench").strip())
            fill_volume(mp, args.volume_mib, args.volume_files)
            mib = args.volume_mib
            print(f"volume: {mib} MiB in {args.volume_files} files")
            ours = best(args.runs, fresh_registry, lambda: o(
                src, "volume", "push", "-q", "vbench", f"{target[0]}/vol/vbench:1") and None)
            exp = work / "vbench.tar"
            plain = best(args.runs, lambda: (fresh_registry(), exp.unlink(missing_ok=True))
                         and None, lambda: (
                o(src, "volume", "export", "-o", str(exp), "vbench"),
                plain_upload(target[0], "vol/plain", exp)) and None)
            line("volume_push", mib / ours, "MiB/s", {"export+plain-upload": mib / plain},
                 lower_better=False)
            # The pulls read from the last registry: it holds the plain blob; add Orlop's.
            vhost = target[0]
            vref = f"{vhost}/vol/vbench:1"
            o(src, "volume", "push", "-q", "vbench", vref)
            digest = plain_upload(vhost, "vol/plain", exp)

            def drop_copy() -> None:
                subprocess.run([*ORLOP, "--root", str(src), "volume", "rm", "-f", "vcopy"],
                               capture_output=True, env=env, check=False)
                exp.unlink(missing_ok=True)

            ours = best(args.runs, drop_copy, lambda: o(src, "volume", "pull", "-q",
                                                         vref, "vcopy") and None)
            plain = best(args.runs, drop_copy, lambda: (
                plain_download(vhost, "vol/plain", digest, exp),
                o(src, "volume", "import", "-i", str(exp), "vcopy")) and None)
            line("volume_pull", mib / ours, "MiB/s", {"plain-download+import": mib / plain},
                 lower_better=False)
        finally:
            for p in extra:
                p.terminate()
                p.wait()
    finally:
        if dockerd is not None:
            dockerd.stop()
        proc.terminate()
        proc.wait()
        subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mountinfo | "
                        "sort -r | xargs -r -n1 umount -l"], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
