"""volume push / volume pull: a volume's export as an OCI artifact in a real registry."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import urllib.request
from pathlib import Path

import pytest

from harness import Orlop
from registry_util import Registry, needs_registry

pytestmark = needs_registry

def _env(tmp: Path) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(tmp / "cfg"), "ORLOP_REGISTRY_CONFIG": str(tmp / "none.json"),
            "ORLOP_CERTS_D": str(tmp / "certs.d")}


def _manifest(reg: Registry, repo: str, tag: str) -> dict[str, object]:
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/manifests/{tag}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return dict(json.loads(r.read()))


def test_volume_push_pull_round_trip_two_roots(bb: Orlop, registry: Registry,
                                               tmp_path: Path) -> None:
    env = _env(tmp_path)
    bb.ok("volume", "create", "--label", "team=db", "data")
    bb.ok("run", "--rm", "-v", "data:/d", "busybox", "sh", "-c",
          "echo hello > /d/f; mkdir -p /d/sub; ln -s ../f /d/sub/l; "
          "dd if=/dev/urandom of=/d/big bs=1k count=3000 2>/dev/null; chown 123:45 /d/f; "
          "md5sum /d/big > /d/big.md5")
    ref = f"{registry.host}/vols/data:v1"
    out = bb.ok("volume", "push", "data", ref, env=env)
    assert f"The push refers to repository [{registry.host}/vols/data]" in out
    assert "v1: digest: sha256:" in out
    m = _manifest(registry, "vols/data", "v1")
    assert m["artifactType"] == "application/vnd.orlop.volume.v1"
    layers = m["layers"]
    assert isinstance(layers, list)
    assert layers[0]["mediaType"] == "application/vnd.orlop.volume.export.v1.tar+zstd"

    other = Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)
    out = other.ok("volume", "pull", ref, env=env)
    assert out.splitlines()[-1] == "data"
    labels = json.loads(other.ok("volume", "inspect", "data"))[0]["Labels"]
    assert labels == {"team": "db"}
    data = other.root / "volumes" / "data" / "_data"
    assert (data / "f").read_text() == "hello\n"
    assert os.stat(data / "f").st_uid == 123 and os.stat(data / "f").st_gid == 45
    assert os.readlink(data / "sub" / "l") == "../f"
    assert (data / "big").stat().st_size == 3000 * 1024
    assert bb.root != other.root
    src = bb.root / "volumes" / "data" / "_data" / "big"
    assert (data / "big").read_bytes() == src.read_bytes()

    # Pulled under another name; an existing volume is refused unless --force.
    assert other.ok("volume", "pull", ref, "copy", env=env).splitlines()[-1] == "copy"
    res = other("volume", "pull", ref, env=env)
    assert res.returncode == 1
    assert "volume data already exists" in res.stderr
    (data / "f").write_text("changed\n")
    other.ok("volume", "pull", "--force", ref, env=env)
    assert (data / "f").read_text() == "hello\n"
    assert not [n for n in os.listdir(other.root / "tmp") if n.startswith("volpull-")]


def test_volume_pull_refuses_images_and_tampered_blobs_leaving_nothing(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = _env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/img")
    bb.ok("push", f"{registry.host}/img", env=env)
    other = Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)
    res = other("volume", "pull", f"{registry.host}/img", "vv", env=env)
    assert res.returncode == 1
    assert "is not an Orlop volume" in res.stderr

    bb.ok("volume", "create", "v2")
    bb.ok("run", "--rm", "-v", "v2:/d", "busybox", "sh", "-c", "echo x > /d/x")
    bb.ok("volume", "push", "v2", f"{registry.host}/vols/v2", env=env)
    m = _manifest(registry, "vols/v2", "latest")
    layers = m["layers"]
    assert isinstance(layers, list)
    blob = registry.blob_file(str(layers[0]["digest"]))
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    res = other("volume", "pull", f"{registry.host}/vols/v2", env=env)
    assert res.returncode == 1
    assert "verification failed" in res.stderr
    assert other.ok("volume", "ls", "-q") == ""
    tmp = other.root / "tmp"
    assert not (tmp.is_dir() and [n for n in os.listdir(tmp) if n.startswith("volpull-")])
    res = other("volume", "push", "nosuch", f"{registry.host}/vols/x", env=env)
    assert res.returncode == 1 and "No such volume: nosuch" in res.stderr


def test_volume_artifact_is_fetched_and_pulled_by_oras(
        bb: Orlop, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The artifact as docs/distribution.md describes it, read by another tool: the oras
    Python SDK lists the tag, fetches the manifest and pulls both blobs (the layer's
    digest checked here); the zstd layer is the volume's export tar with the volume's files."""
    import oras.client
    import zstandard

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "oras-cfg"))  # no host credentials
    env = _env(tmp_path)
    bb.ok("volume", "create", "--label", "team=ops", "small")
    bb.ok("run", "--rm", "-v", "small:/d", "busybox", "sh", "-c",
          "echo hello > /d/f; mkdir /d/sub; echo deep > /d/sub/g; chown 7:8 /d/sub/g")
    ref = f"{registry.host}/vols/small:v1"
    bb.ok("volume", "push", "small", ref, env=env)

    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    assert client.get_tags(ref) == ["v1"]
    m = client.get_manifest(ref)
    assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert m["artifactType"] == "application/vnd.orlop.volume.v1"
    assert m["config"]["mediaType"] == "application/vnd.orlop.volume.config.v1+json"
    assert [ly["mediaType"] for ly in m["layers"]] == [
        "application/vnd.orlop.volume.export.v1.tar+zstd"]
    assert m["layers"][0]["annotations"]["org.opencontainers.image.title"] == "small.tar.zst"

    cfg_file = client.download_blob(ref, m["config"]["digest"], str(tmp_path / "config.json"))
    cfg = json.loads(Path(cfg_file).read_text())
    assert cfg["name"] == "small" and cfg["driver"] == "local"
    assert cfg["labels"] == {"team": "ops"}

    # oras pull: writes the layer under its title annotation.
    out = tmp_path / "oras-out"
    files = client.pull(target=ref, outdir=str(out))
    assert [Path(f).name for f in files] == ["small.tar.zst"]
    blob = (out / "small.tar.zst").read_bytes()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == m["layers"][0]["digest"]
    assert len(blob) == m["layers"][0]["size"]

    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {t.name: t for t in tar.getmembers()}
        assert sorted(members) == [".", "f", "sub", "sub/g"]
        f, g = tar.extractfile(members["f"]), tar.extractfile(members["sub/g"])
        assert f is not None and f.read() == b"hello\n"
        assert g is not None and g.read() == b"deep\n"
        assert (members["sub/g"].uid, members["sub/g"].gid) == (7, 8)
    # It is what `volume export` writes: `volume import` of the blob restores the volume.
    (tmp_path / "small.tar").write_bytes(raw)
    other = Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)
    other.ok("volume", "create", "restored")
    other.ok("volume", "import", "restored", str(tmp_path / "small.tar"))
    restored = other.root / "volumes" / "restored" / "_data"
    assert (restored / "sub" / "g").read_text() == "deep\n"

