"""Images through the `orlop` CLI as a subprocess, each test on its own --root.

The busybox tarball is built once per session by scripts/build-busybox.sh (from
Debian's busybox-static package; no registry is ever contacted) into .cache/.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"sha256:[0-9a-f]{64}\Z")


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    out = REPO / ".cache" / "busybox.tar"
    subprocess.run([str(REPO / "scripts" / "build-busybox.sh"), str(out)], check=True,
                   stdout=subprocess.DEVNULL, timeout=300)
    return out


class Orlop:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *args: str, input: bytes | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "orlop", "--root", str(self.root), *args],
            input=input.decode("latin-1") if input is not None else None,
            check=False, capture_output=True, text=True, timeout=120, encoding="latin-1")
        if check and proc.returncode != 0:
            raise AssertionError(f"orlop {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
        return proc

    def run_bytes(self, *args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "orlop", "--root", str(self.root), *args],
            input=data, check=False, capture_output=True, timeout=120)

    def store_dirs(self) -> tuple[list[str], list[str]]:
        layers = self.root / "layers"
        tmp = self.root / "tmp"
        return ([n for n in os.listdir(layers) if n != ".lock"] if layers.exists() else [],
                os.listdir(tmp) if tmp.exists() else [])


@pytest.fixture
def orlop() -> Iterator[Orlop]:
    base = Path(tempfile.mkdtemp(prefix="orlop-images-test-", dir="/tmp"))
    try:
        yield Orlop(base / "root")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_import_busybox_then_images_and_inspect(orlop: Orlop, busybox_tar: Path) -> None:
    out = orlop.run("import", str(busybox_tar), "busybox").stdout.strip()
    assert HEX64.match(out)
    lines = orlop.run("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = lines[1].split()
    assert row[:3] == ["busybox", "latest", out[7:19]]
    assert re.fullmatch(r"\d+(\.\d+)?[kM]B", row[-1])
    assert orlop.run("images", "-q").stdout.split() == [out[7:19]]
    assert orlop.run("images", "-q", "--no-trunc").stdout.split() == [out]
    fmt = orlop.run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert fmt.strip() == f"busybox:latest {out[7:19]}"
    doc = json.loads(orlop.run("image", "inspect", "busybox").stdout)
    assert len(doc) == 1 and doc[0]["Id"] == out
    assert doc[0]["RepoTags"] == ["busybox:latest"]
    assert doc[0]["RootFS"]["Type"] == "layers" and len(doc[0]["RootFS"]["Layers"]) == 1
    upper = Path(doc[0]["GraphDriver"]["Data"]["UpperDir"])
    assert (upper / "bin" / "busybox").is_file() and os.readlink(upper / "bin" / "sh")
    assert oct((upper / "tmp").stat().st_mode & 0o7777) == "0o1777"
    # the layer is addressed by the sha256 of the tar file itself
    import hashlib

    assert doc[0]["RootFS"]["Layers"][0] == "sha256:" + hashlib.sha256(
        busybox_tar.read_bytes()).hexdigest()


def test_image_inspect_unknown_prints_empty_array(orlop: Orlop, busybox_tar: Path) -> None:
    proc = orlop.run("image", "inspect", "nosuch", check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "[]"
    assert proc.stderr.strip() == "Error: No such image: nosuch"


def test_tag_and_rmi(orlop: Orlop, busybox_tar: Path) -> None:
    image_id = orlop.run("import", str(busybox_tar), "busybox").stdout.strip()
    orlop.run("tag", "busybox", "mine:1")
    orlop.run("image", "tag", "mine:1", "registry:5000/other/x:v2")
    rows = orlop.run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(rows) == ["busybox:latest", "mine:1", "registry:5000/other/x:v2"]
    assert orlop.run("images", "mine").stdout.splitlines()[1].split()[:2] == ["mine", "1"]
    proc = orlop.run("rmi", image_id[7:19], check=False)
    assert proc.returncode == 1
    assert "conflict: unable to delete" in proc.stderr and "must be forced" in proc.stderr
    assert orlop.run("rmi", "mine:1").stdout.splitlines() == ["Untagged: mine:1"]
    out = orlop.run("rmi", "-f", image_id[7:19]).stdout.splitlines()
    assert out == ["Untagged: busybox:latest", "Untagged: registry:5000/other/x:v2",
                   f"Deleted: {image_id}"]
    assert orlop.run("images", "-q").stdout == ""
    assert orlop.store_dirs() == ([], [])


def test_rmi_unknown_and_bad_reference(orlop: Orlop, busybox_tar: Path) -> None:
    orlop.run("import", str(busybox_tar), "busybox")
    proc = orlop.run("rmi", "nosuch", "busybox", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: No such image: nosuch"
    assert proc.stdout.splitlines()[0] == "Untagged: busybox:latest"
    proc = orlop.run("tag", "nosuch", "UPPER", check=False)
    assert proc.returncode == 1
    assert "invalid reference format: repository name must be lowercase" in proc.stderr


def test_import_gzip_from_stdin_with_changes(orlop: Orlop, busybox_tar: Path) -> None:
    data = gzip.compress(busybox_tar.read_bytes())
    proc = orlop.run_bytes("import", "-c", "VOLUME /data", "-c", 'CMD ["sh"]', "-m", "hello",
                           "-", "withvol:1", data=data)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(orlop.run("image", "inspect", "withvol:1").stdout)[0]
    assert doc["Config"]["Volumes"] == {"/data": {}}
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Comment"] == "hello"


def test_import_bad_change_refused(orlop: Orlop, busybox_tar: Path) -> None:
    proc = orlop.run("import", "-c", "RUN true", str(busybox_tar), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: run is not a valid change command"
    assert orlop.store_dirs() == ([], [])


def test_import_same_layer_twice_stored_once(orlop: Orlop, busybox_tar: Path) -> None:
    a = orlop.run("import", str(busybox_tar), "a").stdout.strip()
    b = orlop.run("import", str(busybox_tar), "b").stdout.strip()
    assert a != b
    layers, tmp = orlop.store_dirs()
    assert len(layers) == 1 and tmp == []
    orlop.run("rmi", "a")
    assert len(orlop.store_dirs()[0]) == 1
    orlop.run("rmi", "b")
    assert orlop.store_dirs() == ([], [])


def test_import_truncated_gzip_leaves_nothing(orlop: Orlop, busybox_tar: Path) -> None:
    blob = gzip.compress(busybox_tar.read_bytes())
    proc = orlop.run_bytes("import", "-", "broken", data=blob[: len(blob) // 2])
    assert proc.returncode == 1
    err = proc.stderr.decode().strip()
    assert err.startswith("Error: invalid gzip stream") and "\n" not in err
    assert orlop.run("images", "-q").stdout == ""
    assert orlop.store_dirs() == ([], [])


def test_import_hostile_tar_refused_nothing_outside(orlop: Orlop) -> None:
    victim = orlop.root.parent / "victim"
    victim.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("ok")
        tf.addfile(ti, io.BytesIO(b""))
        ti = tarfile.TarInfo("../../../victim/pwned")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"pwn"))
    proc = orlop.run_bytes("import", "-", "evil", data=buf.getvalue())
    assert proc.returncode == 1
    assert b'invalid tar entry "../../../victim/pwned"' in proc.stderr
    assert os.listdir(victim) == []
    assert orlop.store_dirs() == ([], [])
    # hardlink out of the archive root
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("passwd")
        ti.type, ti.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        tf.addfile(ti)
    proc = orlop.run_bytes("import", "-", "evil", data=buf.getvalue())
    assert proc.returncode == 1
    assert b'invalid hardlink "passwd" -> "../../etc/passwd"' in proc.stderr
    assert orlop.store_dirs() == ([], [])


def test_root_not_writable_one_line_error(orlop: Orlop, busybox_tar: Path) -> None:
    blocker = orlop.root.parent / "file"
    blocker.write_text("")
    proc = subprocess.run([sys.executable, "-m", "orlop", "--root", str(blocker / "root"),
                           "images"], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: ")
    assert "Traceback" not in proc.stderr
    # a read-only root: a bind mount made read-only in a private mount namespace
    ro = orlop.root.parent / "ro"
    ro.mkdir()
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) not available")
    script = (f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
              f"exec {sys.executable} -m orlop --root {ro}/root import {busybox_tar}")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: ")
    assert "root" in proc.stderr
