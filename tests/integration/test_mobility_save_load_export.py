"""save / load (Docker archive and OCI layout, digests verified, gzip and zstd layers,
hostile and truncated archives) and export."""

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

from harness import Orlop

REPO = Path(__file__).resolve().parents[2]


def _unpack(data: bytes, dest: Path) -> None:
    dest.mkdir()
    subprocess.run(["tar", "xf", "-", "-C", str(dest)], input=data, check=True)


def _pack(src: Path) -> bytes:
    names = sorted(os.listdir(src))
    return subprocess.run(["tar", "cf", "-", "-C", str(src), *names], capture_output=True,
                          check=True).stdout


def _save(o: Orlop, *refs: str) -> bytes:
    o.ok("save", "-o", "out.tar", *refs)
    return (o.cwd / "out.tar").read_bytes()


def _fresh(tmp: Path, name: str) -> Orlop:
    (tmp / name).mkdir()
    return Orlop(root=tmp / name / "root", cwd=tmp / name)


@pytest.fixture
def committed(bb: Orlop) -> Orlop:
    bb.ok("run", "--name", "src", "busybox", "sh", "-c",
          "echo payload > /in-image; rm /bin/vi; mkdir -p /etc/new && touch /etc/new/f")
    bb.ok("commit", "src", "mine:v1")
    return bb


def test_save_load_round_trip_between_orlop_roots(committed: Orlop,
                                                  tmp_orlop_dir: Path) -> None:
    data = _save(committed, "mine:v1", "busybox")
    names = subprocess.run(["tar", "tf", "-"], input=data, capture_output=True,
                           check=True).stdout.decode().split()
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= set(names)
    other = _fresh(tmp_orlop_dir, "other")
    (other.cwd / "in.tar").write_bytes(data)
    out = other.ok("load", "-i", "in.tar")
    assert out.splitlines() == ["Loaded image: mine:v1", "Loaded image: busybox:latest"]
    res = other.ok("run", "--rm", "mine:v1", "sh", "-c",
                   "cat /in-image; ls /bin/vi 2>&1; ls /etc/new")
    assert res.splitlines() == ["payload", "ls: /bin/vi: No such file or directory", "f"]
    # Saved again from the second root: the same bytes for the same content (ids stable).
    again = _save(other, "mine:v1")
    first = json.loads(subprocess.run(["tar", "xOf", "-", "manifest.json"], input=data,
                                      capture_output=True, check=False).stdout)
    second = json.loads(subprocess.run(["tar", "xOf", "-", "manifest.json"], input=again,
                                       capture_output=True, check=False).stdout)
    mine = next(m for m in first if m["RepoTags"] == ["mine:v1"])
    assert second[0]["Config"] == mine["Config"] and second[0]["Layers"] == mine["Layers"]


def test_load_from_stdin_and_image_id_is_config_digest(committed: Orlop,
                                                       tmp_orlop_dir: Path) -> None:
    data = _save(committed, "mine:v1")
    other = _fresh(tmp_orlop_dir, "o2")
    out = subprocess.run(
        [sys.executable, "-m", "orlop", "--root", str(other.root), "load"], input=data,
        capture_output=True, check=True).stdout.decode()
    assert out == "Loaded image: mine:v1\n"
    manifest = json.loads(subprocess.run(["tar", "xOf", "-", "manifest.json"], input=data,
                                         capture_output=True, check=False).stdout)
    cfg_hex = manifest[0]["Config"].rsplit("/", 1)[1]
    assert other.ok("image", "inspect", "-f", "{{.Id}}", "mine:v1").strip() == \
        f"sha256:{cfg_hex}"


@pytest.mark.parametrize("keep", ["docker", "oci"])
def test_load_docker_only_and_oci_only_archives(committed: Orlop, tmp_orlop_dir: Path,
                                                keep: str) -> None:
    work = tmp_orlop_dir / f"x-{keep}"
    _unpack(_save(committed, "mine:v1"), work)
    if keep == "docker":
        for n in ("index.json", "oci-layout"):
            (work / n).unlink()
    else:
        for n in ("manifest.json", "repositories"):
            (work / n).unlink()
    other = _fresh(tmp_orlop_dir, f"o-{keep}")
    (other.cwd / "in.tar").write_bytes(_pack(work))
    assert other.ok("load", "-i", "in.tar") == "Loaded image: mine:v1\n"
    assert other.ok("run", "--rm", "mine:v1", "cat", "/in-image") == "payload\n"


@pytest.mark.parametrize(("annotations", "loaded"), [
    ({"org.opencontainers.image.ref.name": "latest"}, "Loaded image: latest:latest"),
    ({"org.opencontainers.image.ref.name": "v2"}, "Loaded image: v2:latest"),
    ({"org.opencontainers.image.ref.name": "team/app:v2"}, "Loaded image: team/app:v2"),
    ({"org.opencontainers.image.ref.name": "latest",
      "io.containerd.image.name": "docker.io/library/named:v3"}, "Loaded image: named:v3"),
    ({"org.opencontainers.image.ref.name": "Latest"}, "Loaded image ID: "),
    ({}, "Loaded image ID: "),
])
def test_load_oci_layout_names_as_docker_25(committed: Orlop, tmp_orlop_dir: Path,
                                            annotations: dict[str, str], loaded: str) -> None:
    """An OCI-only layout is named as Docker 25+ names it (its containerd image store:
    containerd's ``imageName`` then moby's ``LoadImage``): ``io.containerd.image.name``,
    else ``org.opencontainers.image.ref.name`` read as a whole reference (so a bare
    ``latest`` is the image ``latest:latest``); a name that is no valid tag: untagged."""
    work = tmp_orlop_dir / "named"
    _unpack(_save(committed, "mine:v1"), work)
    for n in ("manifest.json", "repositories"):
        (work / n).unlink()
    index = json.loads((work / "index.json").read_text())
    index["manifests"][0]["annotations"] = annotations
    (work / "index.json").write_text(json.dumps(index))
    other = _fresh(tmp_orlop_dir, "o-named")
    (other.cwd / "in.tar").write_bytes(_pack(work))
    out = other.ok("load", "-i", "in.tar")
    assert out.startswith(loaded) and out.count("\n") == 1, out
    image_id = other.ok("images", "-q", "--no-trunc").strip()
    assert image_id.startswith("sha256:")
    if loaded.startswith("Loaded image: "):
        ref = loaded.removeprefix("Loaded image: ")
        assert other.ok("image", "inspect", "-f", "{{.Id}}", ref).strip() == image_id
    else:
        assert out == f"Loaded image ID: {image_id}\n"
        assert other.ok("images", "--format", "{{.Repository}}:{{.Tag}}") == \
            "<none>:<none>\n"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_load_oci_compressed_layers(committed: Orlop, tmp_orlop_dir: Path,
                                    codec: str) -> None:
    if codec == "zstd":
        pytest.importorskip("zstandard")
    work = tmp_orlop_dir / f"c-{codec}"
    _unpack(_save(committed, "mine:v1"), work)
    (work / "manifest.json").unlink()
    index = json.loads((work / "index.json").read_text())
    blobs = work / "blobs" / "sha256"

    def put(data: bytes) -> tuple[str, int]:
        hexd = hashlib.sha256(data).hexdigest()
        (blobs / hexd).write_bytes(data)
        return f"sha256:{hexd}", len(data)

    mdesc = index["manifests"][0]
    manifest = json.loads((blobs / mdesc["digest"].split(":")[1]).read_bytes())
    for layer in manifest["layers"]:
        raw = (blobs / layer["digest"].split(":")[1]).read_bytes()
        if codec == "gzip":
            comp = gzip.compress(raw)
            layer["mediaType"] += "+gzip"
        else:
            comp = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                                  check=True).stdout
            layer["mediaType"] += "+zstd"
        layer["digest"], layer["size"] = put(comp)
    mdesc["digest"], mdesc["size"] = put(json.dumps(manifest).encode())
    (work / "index.json").write_text(json.dumps(index))
    other = _fresh(tmp_orlop_dir, f"oc-{codec}")
    (other.cwd / "in.tar").write_bytes(_pack(work))
    assert other.ok("load", "-i", "in.tar") == "Loaded image: mine:v1\n"
    assert other.ok("run", "--rm", "mine:v1", "cat", "/in-image") == "payload\n"


def _assert_refused(tmp: Path, name: str, data: bytes, text: str) -> None:
    other = _fresh(tmp, name)
    (other.cwd / "in.tar").write_bytes(data)
    res = other("load", "-i", "in.tar")
    assert res.returncode == 1, res.stdout
    assert text in res.stderr, res.stderr
    assert other.ok("images", "-q") == ""
    layers = other.root / "layers"
    assert not layers.exists() or [n for n in os.listdir(layers) if n != ".lock"] == []


def test_load_truncated_or_digest_mismatch_refused_nothing_loaded(
        committed: Orlop, tmp_orlop_dir: Path) -> None:
    data = _save(committed, "mine:v1", "busybox")
    _assert_refused(tmp_orlop_dir, "t1", data[: len(data) // 2], "truncated")
    work = tmp_orlop_dir / "mm"
    _unpack(data, work)
    manifest = json.loads((work / "manifest.json").read_text())
    layer = work / manifest[1]["Layers"][-1]
    raw = bytearray(layer.read_bytes())
    raw[700] ^= 1  # file content of the top layer of mine:v1
    layer.write_bytes(bytes(raw))
    _assert_refused(tmp_orlop_dir, "t2", _pack(work), "has digest")
    (work / "index.json").unlink()
    _assert_refused(tmp_orlop_dir, "t3", _pack(work), "has digest")


def test_load_hostile_paths_refused(committed: Orlop, tmp_orlop_dir: Path) -> None:
    secret = tmp_orlop_dir / "secret.json"
    secret.write_text("{}")
    for i, (config, layers) in enumerate([
        (f"../../../../..{secret}", []),
        (str(secret), []),
        ("link.json", []),
    ]):
        work = tmp_orlop_dir / f"h{i}"
        work.mkdir()
        os.symlink(str(secret), work / "link.json")
        (work / "manifest.json").write_text(json.dumps(
            [{"Config": config, "RepoTags": ["evil:1"], "Layers": layers}]))
        _assert_refused(tmp_orlop_dir, f"hr{i}", _pack(work), "invalid image archive")
    # A tar with ".." members never writes outside the staging directory.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../../../../escape-load")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    _assert_refused(tmp_orlop_dir, "hr9", buf.getvalue(), "outside")
    assert not Path("/escape-load").exists()


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_save_then_skopeo_reads_both_formats(committed: Orlop) -> None:
    _save(committed, "mine:v1")
    for transport in ("docker-archive", "oci-archive"):
        subprocess.run(["skopeo", "inspect", f"{transport}:{committed.cwd / 'out.tar'}"],
                       check=True, capture_output=True)


def test_export_flattened_rootfs_without_volume_content(bb: Orlop) -> None:
    bb.ok("run", "--name", "ex", "-v", "/data", "-v", "exn:/named", "busybox", "sh", "-c",
          "echo vol > /data/in-vol; echo n > /named/x; echo root > /in-rootfs; rm /bin/vi")
    bb.ok("export", "-o", "ex.tar", "ex")
    names = subprocess.run(["tar", "tf", str(bb.cwd / "ex.tar")], capture_output=True,
                           check=True).stdout.decode().split()
    assert "in-rootfs" in names and "bin/busybox" in names
    assert "bin/vi" not in names  # deleted in the container: gone from the flat tree
    assert "data/" in names and "named/" in names
    assert not [n for n in names if n.startswith(("data/", "named/")) and n not in
                ("data/", "named/")]
    assert not [n for n in names if ".wh." in n]
    # It imports back as a runnable image.
    bb.ok("import", "ex.tar", "flat:1")
    assert bb.ok("run", "--rm", "flat:1", "cat", "/in-rootfs") == "root\n"


def test_export_running_container_and_terminal_refusal(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "exr", "busybox", "sh", "-c",
          "echo live > /live; sleep 60")
    try:
        for _ in range(50):
            data = subprocess.run([sys.executable, "-m", "orlop", "--root", str(bb.root),
                                   "export", "exr"], capture_output=True, check=True).stdout
            names = subprocess.run(["tar", "tf", "-"], input=data, capture_output=True,
                                   check=True).stdout.decode().split()
            if "live" in names:
                break
        assert "live" in names and "proc/" in names
        assert not [n for n in names if n.startswith("proc/") and n != "proc/"]
    finally:
        bb("rm", "-f", "exr")


def test_output_to_a_device_or_fifo_writes_into_it_never_replaces_it(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    """``-o`` naming a device node or a fifo writes into it: renaming the temporary file
    over it (as for a regular file) once turned the host's /dev/null into a regular file
    when a test ran ``export -o /dev/null``."""
    import stat
    import threading

    bb.ok("create", "--name", "exp", "busybox", "true")
    null = tmp_orlop_dir / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for args in (["export", "-o", str(null), "exp"], ["save", "-o", str(null), "busybox"]):
        bb.ok(*args)
        st = os.lstat(null)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3), args
    fifo = tmp_orlop_dir / "fifo"
    os.mkfifo(fifo)
    got = bytearray()

    def drain() -> None:
        with open(fifo, "rb") as f:
            got.extend(f.read())

    reader = threading.Thread(target=drain)
    reader.start()
    bb.ok("export", "-o", str(fifo), "exp")
    reader.join(30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with tarfile.open(fileobj=io.BytesIO(bytes(got))) as tar:
        assert "bin/busybox" in tar.getnames()
    assert not list(tmp_orlop_dir.glob("*.tmp-*"))
