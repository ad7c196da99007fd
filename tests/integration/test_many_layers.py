"""An image with 60 layers: its lowerdir list is longer than a page, which mount(2) refuses
(its data is one page at most).  Every place that mounts a container's root must get past
that the way runtime/rootfs.py does (relative layer paths, else fsconfig ``lowerdir+``):
the run itself, the copy-up of image content into a new named volume, and the stopped
container's view that ``cp`` and ``export`` read."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from harness import Orlop
from images_util import docker_archive, entry, tar_bytes

LAYERS = 60


def _many_layers_image(busybox_tar: Path, out: Path) -> Path:
    """busybox as the bottom layer, then one file in /data and /layers per layer above it."""
    base = busybox_tar.read_bytes()
    layers = [base]
    for i in range(1, LAYERS):
        layers.append(tar_bytes([entry("data", kind="dir", mode=0o755),
                            entry(f"data/f{i:02d}", data=f"layer {i}\n".encode()),
                            entry("layers", kind="dir", mode=0o755),
                            entry(f"layers/f{i:02d}", data=f"layer {i}\n".encode())]))
    out.write_bytes(docker_archive(layers, "many:1"))
    return out


def test_sixty_layers_run_copy_up_cp_and_export(orlop: Orlop, busybox_tar: Path) -> None:
    archive = _many_layers_image(busybox_tar, orlop.cwd / "many.tar")
    orlop.ok("load", "-i", str(archive), timeout=120)
    # (a) a new named volume over /data: the image's 59 files are copied up into it.
    out = orlop.ok("run", "--name", "many", "-v", "manyvol:/data", "many:1", "sh", "-c",
                   "ls /data | wc -l; cat /data/f59; echo top > /top.txt")
    assert out.split() == ["59", "layer", "59"]
    listing = orlop.ok("run", "--rm", "-v", "manyvol:/v", "many:1", "ls", "/v")
    assert len(listing.split()) == 59
    # (b) cp out of the stopped container: its root is the 60-layer overlay + the volume.
    orlop.ok("cp", "many:/data/f01", "./f01.out")
    assert (orlop.cwd / "f01.out").read_text() == "layer 1\n"
    orlop.ok("cp", "many:/top.txt", "./top.out")
    assert (orlop.cwd / "top.out").read_text() == "top\n"
    # (c) export of the stopped container: the flattened 60 layers (no volume content).
    orlop.ok("export", "-o", "many-export.tar", "many", timeout=120)
    with tarfile.open(orlop.cwd / "many-export.tar") as tf:
        names = set(tf.getnames())
    exported = {n.removeprefix("./").rstrip("/") for n in names}
    assert {"bin/sh", "top.txt", "layers/f30", "layers/f59"} <= exported


@pytest.mark.skipif(not os.path.exists("/usr/bin/crun"), reason="crun is not installed")
def test_sixty_layers_with_an_external_runtime(orlop: Orlop, busybox_tar: Path) -> None:
    """crun gets its bundle's rootfs mounted in a namespace of its own, by the same code."""
    archive = _many_layers_image(busybox_tar, orlop.cwd / "many.tar")
    orlop.ok("load", "-i", str(archive), timeout=120)
    out = orlop.ok("run", "--rm", "--runtime", "crun", "many:1", "sh", "-c",
                   "cat /layers/f01 /layers/f59")
    assert out == "layer 1\nlayer 59\n"
