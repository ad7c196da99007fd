"""Plugin-backed volume overhead (issue 16): `run --rm -v VOL:/d busybox true` with a
local volume vs a volume of a Docker volume plugin (`rclone serve docker`, its data on
`rclone serve webdav` over a local directory, all on 127.0.0.1).  The difference is the
plugin's share of a start: discovery, `/Plugin.Activate`, `VolumeDriver.Mount` (rclone
makes a FUSE mount) and `Unmount` at exit.  Prints `name: value unit` lines.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busybox_tar, median_ms, orlop_exe, report, scratch_root, stop_process, timed

RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def _wait(path: Path | None, port: int | None, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {proc.args} exited")
        try:
            if path is not None:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(path))
            else:
                socket.create_connection(("127.0.0.1", port or 0), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: {proc.args} did not come up")


def main() -> None:
    rclone = shutil.which("rclone")
    if rclone is None:
        raise SystemExit("bench: rclone is not installed (apt-get install rclone fuse3)")
    exe = orlop_exe()
    with scratch_root() as base:
        remote, plugins = base / "remote", base / "plugins"
        for d in (remote / "pv", plugins, base / "mnt", base / "cache"):
            d.mkdir(parents=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = base / "rclone.conf"
        conf.write_text(f"[dav]\ntype = webdav\nurl = http://127.0.0.1:{port}/\n"
                        "vendor = other\n")
        webdav = subprocess.Popen([rclone, "serve", "webdav", "--addr", f"127.0.0.1:{port}",
                                   str(remote), "--config", str(conf)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plugin = subprocess.Popen(
            [rclone, "serve", "docker", "--socket-addr", str(plugins / "rclone.sock"),
             "--base-dir", str(base / "mnt"), "--cache-dir", str(base / "cache"),
             "--config", str(conf), "--no-spec"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(None, port, webdav)
            _wait(plugins / "rclone.sock", None, plugin)
            env = {**os.environ, "ORLOP_PLUGIN_DIRS": str(plugins)}
            cli = [*exe, "--root", str(base / "root")]
            subprocess.run([*cli, "import", str(busybox_tar()), "busybox"], check=True,
                           capture_output=True, env=env)
            subprocess.run([*cli, "volume", "create", "lv"], check=True, capture_output=True,
                           env=env)
            subprocess.run([*cli, "volume", "create", "-d", "rclone", "-o", "remote=dav:pv",
                            "pv"], check=True, capture_output=True, env=env)
            argvs = {vol: [*cli, "run", "--rm", "--network", "none", "-v", f"{vol}:/d",
                           "busybox", "true"] for vol in ("lv", "pv")}
            samples: dict[str, list[float]] = {"lv": [], "pv": []}
            for i in range(RUNS + 3):  # alternated, so that load on the host hits both
                for vol, argv in argvs.items():
                    took = timed(argv, env=env)[0]
                    if i >= 3:
                        samples[vol].append(took)
            results = {vol: median_ms(s) for vol, s in samples.items()}
            report(f"run --rm -v local volume (median of {RUNS})", results["lv"], "ms")
            report(f"run --rm -v rclone plugin volume (median of {RUNS})", results["pv"],
                   "ms")
            report("plugin volume overhead per start", results["pv"] - results["lv"], "ms")
        finally:
            stop_process(plugin)
            stop_process(webdav)


if __name__ == "__main__":
    main()
