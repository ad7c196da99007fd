"""volume push / volume pull: a volume's export as an OCI artifact in a real registry."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

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
