"""``load``'s per-layer progress through orlopd (issue 15): dockerd's ``Loading layer``
JSON messages (``status``, ``progressDetail``, ``id``) unless ``quiet``, rendered on a
terminal by Orlop's ``-H`` client and by the real docker CLI, absent when piped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from orlop.client import APIClient
from testsupport import run_on_pty

from .conftest import Server


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
    code, out = run_on_pty([*orlop, "load", "-i", str(archive)], env, bbd.dir)
    assert code == 0, out
    assert b": Loading layer [" + b"=" * 50 + b"]" in out
    assert out.rstrip().splitlines()[-1] == b"Loaded image: busybox:latest"

    docker = shutil.which("docker")
    if docker:
        rmi()
        denv = {**env, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
        code, out = run_on_pty([docker, "load", "-i", str(archive)], denv, bbd.dir)
        assert code == 0, out
        assert b"Loading layer" in out and b"Loaded image: busybox:latest" in out
        rmi()
        res = subprocess.run([docker, "load", "-i", str(archive)], env=denv, timeout=60,
                             capture_output=True, text=True, check=True)
        assert res.stdout == "Loaded image: busybox:latest\n"


def test_cp_through_orlopd_shows_dockers_copy_line(bbd: Server) -> None:
    """``orlop -H ... cp`` on a terminal draws docker/cli's copy line (the local
    ``cp``'s, counted where the tar passes through the client) and only when stdout is
    a terminal, as the local CLI does."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    orlop = [sys.executable, "-m", "orlop", "-H", bbd.host]
    subprocess.run([*orlop, "create", "--name", "cpc", "busybox", "true"], env=env,
                   check=True, timeout=60, capture_output=True)
    (bbd.dir / "blob").write_bytes(os.urandom(3 << 20))
    start = b"\x1b[sPreparing to copy...\x1b[?25l\x1b[u\x1b[2K"
    code, out = run_on_pty([*orlop, "cp", "blob", "cpc:/blob"], env, bbd.dir)
    assert code == 0, out
    assert out.startswith(start + b"Copying to container - 0B"), out[:200]
    assert out.endswith(b"\x1b[?25h\x1b[u\x1b[2KSuccessfully copied 3.15MB to cpc:/blob\r\n")
    code, out = run_on_pty([*orlop, "cp", "cpc:/blob", "back"], env, bbd.dir)
    assert code == 0, out
    assert out.startswith(start + b"Copying from container - 0B"), out[:200]
    assert out.endswith(b"Successfully copied 3.15MB to " + str(bbd.dir / "back").encode()
                        + b"\r\n")
    assert (bbd.dir / "back").read_bytes() == (bbd.dir / "blob").read_bytes()
    res = subprocess.run([*orlop, "cp", "cpc:/blob", "back2"], env=env, cwd=bbd.dir,
                         timeout=60, capture_output=True, check=True)
    assert res.stdout == b"" and res.stderr == b""
