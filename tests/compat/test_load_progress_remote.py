"""``load``'s per-layer progress through orlopd (issue 15): dockerd's ``Loading layer``
JSON messages (``status``, ``progressDetail``, ``id``) unless ``quiet``, rendered on a
terminal by Orlop's ``-H`` client and by the real docker CLI, absent when piped."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from orlop.client import APIClient

from .conftest import Server


def _on_pty(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    """``argv`` with stdout and stderr a pty (stdin /dev/null); all it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            start_new_session=True, env=env, cwd=cwd)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), bytes(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_load_through_orlopd_reports_layers_unless_quiet(bbd: Server) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    orlop = [sys.executable, "-m", "orlop", "-H", bbd.host]
    archive = bbd.dir / "bb.tar"
    subprocess.run([*orlop, "save", "-o", str(archive), "busybox:latest"], env=env,
                   check=True, timeout=60)

    def rmi() -> None:
        subprocess.run([*orlop, "rmi", "busybox:latest"], env=env, check=True, timeout=60,
                       capture_output=True)

    api = APIClient(bbd.host)
    rmi()
    seen: list[tuple[str, int, int]] = []
    with open(archive, "rb") as f:
        lines = api.load_images(f, quiet=False, progress=lambda *a: seen.append(a))
    assert lines == ["Loaded image: busybox:latest"]
    assert len(seen) == 2 and seen[0][1] == 0 and seen[1][1] == seen[1][2] > 0
    assert len(seen[0][0]) == 12
    seen.clear()
    with open(archive, "rb") as f:  # the layer is there now: nothing to load, no message
        api.load_images(f, quiet=False, progress=lambda *a: seen.append(a))
    assert seen == []

    rmi()
    code, out = _on_pty([*orlop, "load", "-i", str(archive)], env, bbd.dir)
    assert code == 0, out
    assert b": Loading layer [" + b"=" * 50 + b"]" in out
    assert out.rstrip().splitlines()[-1] == b"Loaded image: busybox:latest"

    docker = shutil.which("docker")
    if docker:
        rmi()
        denv = {**env, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
        code, out = _on_pty([docker, "load", "-i", str(archive)], denv, bbd.dir)
        assert code == 0, out
        assert b"Loading layer" in out and b"Loaded image: busybox:latest" in out
        rmi()
        res = subprocess.run([docker, "load", "-i", str(archive)], env=denv, timeout=60,
                             capture_output=True, text=True, check=True)
        assert res.stdout == "Loaded image: busybox:latest\n"
