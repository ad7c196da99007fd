"""An image keeps its id across ``save | load``, whatever way it entered Orlop.

``import`` (a GNU tar, not in Orlop's canonical form), ``commit`` and ``load`` (of an
archive in another tar dialect, with a config not in compact JSON) each record the layer
tar's tar-split, so ``save`` writes the config verbatim and each layer as the exact bytes
of its diff_id (orlop.images.tarsplit).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness import REPO, Orlop


def _fresh(tmp: Path, name: str) -> Orlop:
    (tmp / name).mkdir()
    return Orlop(root=tmp / name / "root", cwd=tmp / name)


def _id(o: Orlop, ref: str) -> str:
    return o.ok("image", "inspect", "-f", "{{.Id}}", ref).strip()


def _save(o: Orlop, *refs: str) -> bytes:
    o.ok("save", "-o", "out.tar", *refs)
    return (o.cwd / "out.tar").read_bytes()


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        return {m.name: tf.extractfile(m).read()  # type: ignore[union-attr]
                for m in tf.getmembers() if m.isfile()}


def _blobs(archive: bytes) -> tuple[bytes, list[bytes]]:
    """(config bytes, layer tars) of the first image of a saved archive, each checked
    against the digest that names it."""
    files = _members(archive)
    entry = json.loads(files["manifest.json"])[0]
    for name in [entry["Config"], *entry["Layers"]]:
        assert "sha256:" + hashlib.sha256(files[name]).hexdigest() == \
            "sha256:" + name.rsplit("/", 1)[1]
    return files[entry["Config"]], [files[p] for p in entry["Layers"]]


def _pack(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _layer_names(o: Orlop) -> list[str]:
    layers = o.root / "layers"
    return sorted(n for n in os.listdir(layers) if n != ".lock") if layers.exists() else []


def _splits(o: Orlop) -> list[str]:
    where = o.root / "tarsplit"
    return sorted(os.listdir(where)) if where.exists() else []


def test_import_save_rmi_load_keeps_the_id(orlop: Orlop, busybox_tar: Path) -> None:
    image_id = orlop.ok("import", str(busybox_tar), "bb:1").strip()
    data = _save(orlop, "bb:1")
    config, layers = _blobs(data)
    # The layer is the imported tarball itself, byte for byte (its digest is the diff_id
    # Docker's import records), although it is stored extracted.
    assert layers == [busybox_tar.read_bytes()]
    assert "sha256:" + hashlib.sha256(config).hexdigest() == image_id
    assert len(_splits(orlop)) == 1
    orlop.ok("rmi", "bb:1")
    assert _layer_names(orlop) == [] and _splits(orlop) == []
    assert orlop.ok("load", "-i", "out.tar") == "Loaded image: bb:1\n"
    assert _id(orlop, "bb:1") == image_id
    assert orlop.ok("run", "--rm", "--network", "none", "bb:1", "echo", "ok") == "ok\n"


def test_commit_save_load_into_a_second_root_keeps_id_and_content(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    bb.ok("run", "--name", "src", "--network", "none", "busybox", "sh", "-c",
          "echo payload > /in-image; rm /bin/vi; mkdir -p /etc/new && touch /etc/new/f;"
          " ln /in-image /hard; ln -s /in-image /soft; rm -rf /home && mkdir /home")
    image_id = bb.ok("commit", "src", "mine:v1").strip()
    other = _fresh(tmp_orlop_dir, "other")
    (other.cwd / "in.tar").write_bytes(_save(bb, "mine:v1"))
    assert other.ok("load", "-i", "in.tar") == "Loaded image: mine:v1\n"
    assert _id(other, "mine:v1") == image_id
    assert _id(other, "mine:v1") == _id(bb, "mine:v1")
    script = "cat /in-image /hard; readlink /soft; ls /bin/vi 2>&1; ls /etc/new; ls -A /home"
    want = bb.ok("run", "--rm", "--network", "none", "mine:v1", "sh", "-c", script)
    assert want == "payload\npayload\n/in-image\nls: /bin/vi: No such file or directory\nf\n"
    assert other.ok("run", "--rm", "--network", "none", "mine:v1", "sh", "-c", script) == want


def test_loaded_foreign_archive_keeps_id_and_saves_identical_bytes(
        orlop: Orlop, busybox_tar: Path, tmp_orlop_dir: Path) -> None:
    """An archive as Docker writes it: the layer a GNU tar (not Orlop's canonical
    form), the config in Go's JSON (HTML escapes, its own key order)."""
    layer = busybox_tar.read_bytes()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = ('{"architecture":"amd64","config":{"Cmd":["sh"],"Labels":{"a\\u003cb":'
              '"x\\u0026y"}},"created":"2024-01-02T03:04:05.123456789Z","os":"linux",'
              '"rootfs":{"type":"layers","diff_ids":["' + diff_id + '"]},'
              '"history":[{"created":"2024-01-02T03:04:05Z","comment":"\\u003e"}]}'
              ).encode()
    cfg_hex = hashlib.sha256(config).hexdigest()
    archive = _pack({
        f"blobs/sha256/{cfg_hex}": config,
        f"blobs/sha256/{diff_id[7:]}": layer,
        "manifest.json": json.dumps([{"Config": f"blobs/sha256/{cfg_hex}",
                                      "RepoTags": ["foreign:1"],
                                      "Layers": [f"blobs/sha256/{diff_id[7:]}"]}]).encode(),
    })
    (orlop.cwd / "in.tar").write_bytes(archive)
    assert orlop.ok("load", "-i", "in.tar") == "Loaded image: foreign:1\n"
    assert _id(orlop, "foreign:1") == f"sha256:{cfg_hex}"
    saved = _blobs(_save(orlop, "foreign:1"))
    assert saved == (config, [layer])
    # ... and again from a second root: the same config and layer digests, byte-identical.
    other = _fresh(tmp_orlop_dir, "again")
    (other.cwd / "in.tar").write_bytes((orlop.cwd / "out.tar").read_bytes())
    other.ok("load", "-i", "in.tar")
    assert _blobs(_save(other, "foreign:1")) == saved


def test_import_of_a_tar_that_overwrites_its_own_file_keeps_the_id(
        orlop: Orlop, tmp_orlop_dir: Path) -> None:
    """A duplicate name: the first payload is not in the tree any more, so no split can
    reproduce the tar; import records the canonical digest instead, load keeps the tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for data in (b"first\n", b"second\n"):
            info = tarfile.TarInfo("etc/motd")
            info.size, info.mtime = len(data), 1_700_000_000.5
            tf.addfile(info, io.BytesIO(data))
    (orlop.cwd / "dup.tar").write_bytes(buf.getvalue())
    image_id = orlop.ok("import", "dup.tar", "dup:1").strip()
    assert _splits(orlop) == []  # registered under its canonical digest
    data = _save(orlop, "dup:1")
    orlop.ok("rmi", "dup:1")
    orlop.ok("load", "-i", "out.tar")
    assert _id(orlop, "dup:1") == image_id
    # A loaded archive whose layer is that tar: the diff_id is fixed by its config.
    config, _ = _blobs(data)
    cfg = json.loads(config)
    raw = buf.getvalue()
    cfg["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(raw).hexdigest()]
    config = json.dumps(cfg).encode()
    cfg_hex = hashlib.sha256(config).hexdigest()
    lay_hex = hashlib.sha256(raw).hexdigest()
    other = _fresh(tmp_orlop_dir, "dupload")
    (other.cwd / "in.tar").write_bytes(_pack({
        f"{cfg_hex}.json": config, f"{lay_hex}/layer.tar": raw,
        "manifest.json": json.dumps([{"Config": f"{cfg_hex}.json", "RepoTags": ["dup:2"],
                                      "Layers": [f"{lay_hex}/layer.tar"]}]).encode()}))
    other.ok("load", "-i", "in.tar")
    assert _splits(other) == [lay_hex]  # holding the whole tar
    assert _id(other, "dup:2") == f"sha256:{cfg_hex}"
    assert _blobs(_save(other, "dup:2")) == (config, [raw])
    upper = other.ok("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "dup:2")
    assert (Path(upper.strip()) / "etc" / "motd").read_text() == "second\n"


def test_layer_of_an_older_root_without_split_still_saves_a_loadable_archive(
        orlop: Orlop, busybox_tar: Path, tmp_orlop_dir: Path) -> None:
    image_id = orlop.ok("import", str(busybox_tar), "bb:1").strip()
    splits = _splits(orlop)
    assert len(splits) == 1
    (orlop.root / "tarsplit" / splits[0]).unlink()  # as an image imported by an older Orlop
    data = _save(orlop, "bb:1")
    other = _fresh(tmp_orlop_dir, "old")
    (other.cwd / "in.tar").write_bytes(data)
    assert other.ok("load", "-i", "in.tar") == "Loaded image: bb:1\n"
    # The canonical serialisation of that layer is not the GNU tar: another id, as before.
    assert _id(other, "bb:1") != image_id
    assert other.ok("run", "--rm", "--network", "none", "bb:1", "echo", "ok") == "ok\n"
    # A damaged split is ignored the same way (the digest check at save time).
    (orlop.root / "tarsplit" / splits[0]).write_bytes(b"garbage")
    assert _blobs(_save(orlop, "bb:1")) == _blobs(data)


def test_tampered_layer_is_refused_and_nothing_registered(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    bb.ok("run", "--name", "src", "--network", "none", "busybox", "sh", "-c",
          "echo payload > /in-image")
    bb.ok("commit", "src", "mine:v1")
    files = _members(_save(bb, "mine:v1", "busybox"))
    entry = json.loads(files["manifest.json"])[0]
    top = entry["Layers"][-1]
    tampered = bytearray(files[top])
    pos = tampered.find(b"payload")
    tampered[pos] ^= 1
    # Renamed after its new digest, so only the config's diff_id can tell.
    new = "blobs/sha256/" + hashlib.sha256(tampered).hexdigest()
    del files[top], files["index.json"]
    files[new] = bytes(tampered)
    entry["Layers"][-1] = new
    files["manifest.json"] = json.dumps([entry]).encode()
    other = _fresh(tmp_orlop_dir, "tampered")
    (other.cwd / "in.tar").write_bytes(_pack(files))
    res = other("load", "-i", "in.tar")
    assert res.returncode == 1 and "has diff_id" in res.stderr, res.stderr
    assert other.ok("images", "-q") == ""
    assert _layer_names(other) == [] and _splits(other) == []


def test_docker_save_load_through_orlopd_keeps_the_id(busybox_tar: Path,
                                                      tmp_orlop_dir: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from compat.conftest import start_server, stop_server
    finally:
        sys.path.remove(str(REPO / "tests"))
    base = tmp_orlop_dir / "srv"
    base.mkdir()
    server = start_server(base)
    try:
        with open(busybox_tar, "rb") as f:
            proc = subprocess.run(
                [shutil.which("docker") or "docker", "import", "-", "bb:1"], stdin=f,
                capture_output=True, check=True,
                env={**os.environ, "DOCKER_HOST": server.host,
                     "DOCKER_CONFIG": str(base / "cfg")})
        image_id = proc.stdout.decode().strip()
        server.ok("save", "-o", str(base / "bb.tar"), "bb:1")
        server.ok("rmi", "bb:1")
        assert "Loaded image: bb:1" in server.ok("load", "-i", str(base / "bb.tar"))
        assert server.ok("image", "inspect", "-f", "{{.Id}}", "bb:1").strip() == image_id
    finally:
        stop_server(server)


def _dialect_tar(fmt: int, compress: bool) -> bytes:
    """Every kind of entry, in a non-canonical order, with payloads around tarfile's
    10 KiB read-ahead and the recorder's buffers, long names, xattrs, sub-second times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        def add(name: str, data: bytes | None = None, **kw: object) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000.25 if fmt == tarfile.PAX_FORMAT else 1_700_000_000
            info.uname, info.gname = "root", "root"
            for k, v in kw.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)

        add("./", type=tarfile.DIRTYPE, mode=0o755)
        add("./z/", type=tarfile.DIRTYPE, mode=0o700)
        for i, size in enumerate([0, 1, 511, 512, 513, 10239, 10240, 10241, 70000,
                                  (1 << 20) + 3, 3 << 20]):
            add(f"./z/f{i}", os.urandom(size) if size % 2 else bytes(size), mode=0o644)
        add("./a/" + "/".join(["long" * 10] * 3) + "/name", b"deep\n")
        add("./z/hard", type=tarfile.LNKTYPE, linkname="./z/f1")
        add("./z/sym", type=tarfile.SYMTYPE, linkname="../a")
        add("./z/fifo", type=tarfile.FIFOTYPE)
        add("./z/.wh.gone", b"")
        if fmt == tarfile.PAX_FORMAT:
            add("./x", b"xattr\n", pax_headers={"SCHILY.xattr.user.k": "v" * 3000})
    data = buf.getvalue()
    return gzip.compress(data) if compress else data


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("compress", [False, True])
def test_tarsplit_reproduces_every_tar_dialect(tmp_orlop_dir: Path, fmt: int,
                                               compress: bool) -> None:
    from orlop.archive.extract import extract_tar
    from orlop.images.tarsplit import SplitRecorder, reassemble

    src = _dialect_tar(fmt, compress)
    plain = gzip.decompress(src) if compress else src
    dest = tmp_orlop_dir / "layer"
    dest.mkdir()
    split = tmp_orlop_dir / "split"
    dfd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with open(split, "wb") as sf:
            rec = SplitRecorder(sf.fileno())
            stats = extract_tar(io.BytesIO(src), dfd, whiteouts="overlay", split=rec)
            assert rec.valid
            rec.finish()
        assert stats.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
        # Only headers, padding and small things are recorded, not the payloads.
        assert split.stat().st_size < len(plain) // 20
        out = tmp_orlop_dir / "out"
        with open(split, "rb") as sf, open(out, "wb") as of:
            h = hashlib.sha256()
            size = reassemble(sf.fileno(), dfd, of.fileno(), h)
        assert size == len(plain) and out.read_bytes() == plain
    finally:
        os.close(dfd)
