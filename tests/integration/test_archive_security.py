"""Hostile layer tars through ``load`` and ``import``: whiteouts that climb out of their
directory (containerd PR #2001's rule), names that climb, hard links out, writes through
symlinks.  A refused layer leaves nothing registered (no layer dir, no DB row, no staging
dir) and the layers below it intact."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness import Orlop
from images_util import docker_archive, tar_bytes

CLIMBING_WHITEOUTS = ["d/../.wh.etc", ".wh..", ".wh...", "etc/.wh..", "etc/.wh...",
                      "d/../.wh..wh..opq", "bin/../.wh.etc", ".wh."]


def _member(name: str, kind: str = "file", *, data: bytes = b"", link: str = "",
            mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.mtime, ti.mode = 1_700_000_000, mode
    if kind == "dir":
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
    elif kind == "symlink":
        ti.type, ti.linkname = tarfile.SYMTYPE, link
    elif kind == "hardlink":
        ti.type, ti.linkname = tarfile.LNKTYPE, link
    else:
        ti.size = len(data)
    return ti, data


def _tar_members_of(data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [(m, tf.extractfile(m).read() if m.isreg() else b"")  # type: ignore[union-attr]
                for m in tf.getmembers()]


def _hostile_layer(name: str) -> bytes:
    """A layer whose last entry is the whiteout ``name`` (its directory made first)."""
    parent = [p for p in name.split("/")[:-1] if p not in ("", ".", "..")]
    return tar_bytes([*[_member(p, "dir") for p in parent], _member(name)])


def _oci_archive(layers: list[bytes], tag: str = "evil:1") -> bytes:
    """The same image as an OCI image layout (index.json, blobs/sha256/...)."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes, media_type: str) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest.split(":")[1]] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(x, "application/vnd.oci.image.layer.v1.tar") for x in layers],
    }).encode()
    mdesc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"io.containerd.image.name": tag}
    index = json.dumps({"schemaVersion": 2, "manifests": [mdesc]}).encode()
    return tar_bytes([_member("oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}'),
                 _member("index.json", data=index),
                 *[_member(f"blobs/sha256/{h}", data=d) for h, d in blobs.items()]])


def _state(o: Orlop) -> tuple[str, list[str], list[str], list[str]]:
    """What a refused load/import must not change: images, layer dirs, layer rows, and
    what is left in tmp/."""
    images = o.ok("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    layers_dir, tmp = o.root / "layers", o.root / "tmp"
    dirs = sorted(n for n in os.listdir(layers_dir) if n != ".lock") \
        if layers_dir.exists() else []
    rows: list[str] = []
    if (o.root / "orlop.db").exists():
        with sqlite3.connect(f"file:{o.root / 'orlop.db'}?mode=ro", uri=True) as db:
            rows = sorted(r[0] for r in db.execute("SELECT diff_id FROM layers"))
    left = sorted(os.listdir(tmp)) if tmp.exists() else []
    return images, dirs, rows, left


def _tree(path: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(path)), p.lstat().st_mode) for p in path.rglob("*"))


def _refused(o: Orlop, args: list[str], entry: str) -> str:
    res = o(*args)
    assert res.returncode != 0, res.stdout
    assert f'"{entry}"' in res.stderr, res.stderr
    return res.stderr


@pytest.mark.parametrize("name", CLIMBING_WHITEOUTS)
def test_load_climbing_whiteout_refused_nothing_registered(
        orlop: Orlop, busybox_tar: Path, name: str) -> None:
    # A fresh root: the busybox layer below the hostile one must not stay behind either.
    (orlop.cwd / "evil.tar").write_bytes(
        docker_archive([busybox_tar.read_bytes(), _hostile_layer(name)], "evil:1"))
    before = _state(orlop)
    _refused(orlop, ["load", "-i", "evil.tar"], name)
    assert _state(orlop) == before


@pytest.mark.parametrize("name", ["d/../.wh.etc", "etc/.wh..", "d/../.wh..wh..opq"])
def test_load_oci_layout_climbing_whiteout_refused_nothing_registered(
        orlop: Orlop, busybox_tar: Path, name: str) -> None:
    (orlop.cwd / "evil.tar").write_bytes(
        _oci_archive([busybox_tar.read_bytes(), _hostile_layer(name)]))
    before = _state(orlop)
    _refused(orlop, ["load", "-i", "evil.tar"], name)
    assert _state(orlop) == before


@pytest.mark.parametrize("name", CLIMBING_WHITEOUTS)
def test_load_climbing_whiteout_lower_layer_intact(bb: Orlop, busybox_tar: Path,
                                                   name: str) -> None:
    (bb.cwd / "evil.tar").write_bytes(
        docker_archive([busybox_tar.read_bytes(), _hostile_layer(name)], "evil:1"))
    before = _state(bb)
    [layer] = before[1]
    lower = _tree(bb.root / "layers" / layer)
    _refused(bb, ["load", "-i", "evil.tar"], name)
    assert _state(bb) == before
    assert _tree(bb.root / "layers" / layer) == lower
    assert bb.ok("run", "--rm", "busybox", "ls", "/etc/passwd", "/bin/sh") == \
        "/bin/sh\n/etc/passwd\n"


@pytest.mark.parametrize("name", CLIMBING_WHITEOUTS)
def test_import_climbing_whiteout_refused_nothing_registered(bb: Orlop, name: str) -> None:
    (bb.cwd / "evil.tar").write_bytes(tar_bytes([_member("etc", "dir"), _member("etc/keep"),
                                            *_tar_members_of(_hostile_layer(name))]))
    before = _state(bb)
    _refused(bb, ["import", "evil.tar", "evil:1"], name)
    assert _state(bb) == before


def test_load_layer_failing_while_extracted_rolls_back_layers_below(
        orlop: Orlop, busybox_tar: Path) -> None:
    # Lexically fine, refused only by the filesystem: a hard link to a file the layer
    # never wrote.  The busybox layer stored just before it is removed again.
    layer = tar_bytes([_member("x", "hardlink", link="ghost")])
    (orlop.cwd / "evil.tar").write_bytes(
        docker_archive([busybox_tar.read_bytes(), layer], "evil:1"))
    before = _state(orlop)
    assert "does not exist" in _refused(orlop, ["load", "-i", "evil.tar"], "x")
    assert _state(orlop) == before


@pytest.mark.parametrize(("members", "entry", "why"), [
    ([_member("../escape-orlop")], "../escape-orlop", "outside"),
    ([_member("a", "dir"), _member("a/../../escape-orlop")], "a/../../escape-orlop",
     "outside"),
    ([_member("x", "hardlink", link="../../../../etc/passwd")], "x", "outside"),
    ([_member("l", "symlink", link="/etc"), _member("x", "hardlink", link="l/passwd")],
     "x", "symlink"),
    ([_member("f"), _member("f/x")], "f/x", "not a directory"),
])
def test_load_and_import_hostile_names_refused(bb: Orlop, busybox_tar: Path,
                                               members: list[tuple[tarfile.TarInfo, bytes]],
                                               entry: str, why: str) -> None:
    (bb.cwd / "load.tar").write_bytes(
        docker_archive([busybox_tar.read_bytes(), tar_bytes(members)], "evil:1"))
    (bb.cwd / "import.tar").write_bytes(tar_bytes(members))
    before = _state(bb)
    assert why in _refused(bb, ["load", "-i", "load.tar"], entry)
    assert why in _refused(bb, ["import", "import.tar", "evil:1"], entry)
    assert _state(bb) == before
    assert not Path("/escape-orlop").exists()
    assert not (bb.root / "escape-orlop").exists()


def test_import_absolute_names_and_symlink_writes_stay_inside_the_layer(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    # Docker's semantics, kept: an absolute name is rooted at the layer and a symlink in
    # a path is resolved inside the layer (never on the host), so nothing leaves it.
    host = tmp_orlop_dir / "host-target"
    host.mkdir()
    (bb.cwd / "abs.tar").write_bytes(tar_bytes([
        _member(f"{host}/abs", data=b"absolute\n"),
        _member("up", "symlink", link="../../../../../../.."),
        _member(f"up{host}/through-up", data=b"relative link\n"),
        _member("root", "symlink", link="/"),
        _member(f"root{host}/through-root", data=b"absolute link\n"),
    ]))
    bb.ok("import", "abs.tar", "abs:1")
    assert os.listdir(host) == []
    layer = json.loads(bb.ok("image", "inspect", "abs:1"))[0]["GraphDriver"]["Data"]
    inside = Path(layer["UpperDir"]) / str(host).lstrip("/")
    assert sorted(os.listdir(inside)) == ["abs", "through-root", "through-up"]
    assert (inside / "through-up").read_text() == "relative link\n"
