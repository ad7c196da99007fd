"""``load``'s per-layer progress through orlopd (issue 15): dockerd's ``Loading layer``
JSON messages (``status``, ``progressDetail``, ``id``) unless ``quiet``, rendered on a
terminal by Orlop's ``-H`` client and by the real docker CLI, absent when piped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_docker_cp_of_a_small_file_counts_as_from_dockerd(bbd: Server) -> None:
    """The docker CLI 28 sums the tar it receives: 2.05kB for a 6-byte file from dockerd
    (one header block, one data block, the two end blocks).  Orlop's cp archive keeps
    the times to the second as moby's archive.FileInfoHeader does, so no PAX record
    makes it 3.07kB, even for a file whose mtime has a fraction of a second."""
    docker = shutil.which("docker")
    if docker is None:
        return
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    denv = {**env, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
    bbd.ok("run", "--name", "cps", "--network", "none", "busybox", "sh", "-c",
           "echo hello > /f && touch -d '2024-01-02 03:04:05' /f && mkdir /d && "
           "echo x > /d/g && echo yy > /e")
    subprocess.run([docker, "cp", "cps:/f", "sub"], env=denv, cwd=bbd.dir, check=True,
                   timeout=60, capture_output=True)  # a whole-second time: no PAX anyway
    for src in ("/d/g", "/e"):  # times with a fraction of a second (written by sh)
        code, out = run_on_pty([docker, "cp", f"cps:{src}", "back"], denv, bbd.dir)
        assert code == 0, out
        assert out.endswith(b"Successfully copied 2.05kB to " + str(bbd.dir / "back").encode()
                            + b"\r\n"), out[-200:]
        (bbd.dir / "back").unlink()
        tar = subprocess.run([docker, "cp", f"cps:{src}", "-"], env=denv, timeout=60,
                             capture_output=True, check=True).stdout
        assert len(tar) == 2048 and b"PaxHeaders" not in tar
    assert os.stat(bbd.dir / "sub").st_mtime_ns % 10**9 == 0


def test_import_from_the_body_answers_one_status_as_dockerd(bbd: Server,
                                                           busybox_tar: Path) -> None:
    """``POST /images/create?fromSrc=-``: dockerd 20.10 (and moby since: its progress
    reader wraps only a URL source's download) answers the one message
    ``{"status":"sha256:..."}``, no ``Importing`` progress; so the docker CLI prints the
    id alone, on a terminal as when piped."""
    import json

    code, _headers, body = bbd.raw("POST", "/v1.41/images/create?fromSrc=-&repo=imp&tag=raw",
                                   busybox_tar.read_bytes(),
                                   {"Content-Type": "application/x-tar"})
    assert code == 200, body
    assert body.endswith(b"\r\n") and body.count(b"\r\n") == 1
    image_id = bbd.ok("image", "inspect", "-f", "{{.Id}}", "imp:raw").strip()
    assert json.loads(body) == {"status": image_id}
    docker = shutil.which("docker")
    assert docker
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
    denv = {**env, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
    code, out = run_on_pty([docker, "import", str(busybox_tar), "imp:tty"], denv, bbd.dir)
    assert code == 0, out
    tty_id = bbd.ok("image", "inspect", "-f", "{{.Id}}", "imp:tty").strip()
    assert out == tty_id.encode() + b"\r\n"
    res = subprocess.run([docker, "import", str(busybox_tar), "imp:pipe"], env=denv,
                         timeout=60, capture_output=True, text=True, check=True)
    assert res.stdout == bbd.ok("image", "inspect", "-f", "{{.Id}}", "imp:pipe") and \
        res.stderr == ""


def test_import_of_an_empty_body_is_an_empty_layer_as_dockerd(orlopd: Server) -> None:
    """dockerd 20.10 answers ``POST /images/create?fromSrc=-`` with no body 200 and
    ``{"status":"sha256:..."}`` for an image of one empty layer whose diff_id is the
    digest of no bytes; a tar of two zero blocks gives the empty tar's diff_id; the
    image saves and loads back (dockerd's own ``save`` of it loads here too)."""
    import json

    code, _headers, body = orlopd.raw("POST", "/v1.41/images/create?fromSrc=-&repo=emp&tag=t",
                                      b"", {"Content-Type": "application/x-tar"})
    assert code == 200, body
    assert body.endswith(b"\r\n") and body.count(b"\r\n") == 1
    image_id = orlopd.ok("image", "inspect", "-f", "{{.Id}}", "emp:t").strip()
    assert json.loads(body) == {"status": image_id}
    empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert json.loads(orlopd.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}",
                                "emp:t")) == [empty]
    zeros = orlopd.dir / "zeros.tar"
    zeros.write_bytes(bytes(1024))
    orlopd.ok("import", str(zeros), "zeros:t")
    assert json.loads(orlopd.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}",
                                "zeros:t")) == [
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]
    saved = orlopd.dir / "emp.tar"
    orlopd.ok("save", "-o", str(saved), "emp:t")
    orlopd.ok("rmi", "emp:t")
    assert orlopd.ok("load", "-i", str(saved)) == "Loaded image: emp:t\n"
    assert orlopd.ok("image", "inspect", "-f", "{{.Id}}", "emp:t").strip() == image_id
