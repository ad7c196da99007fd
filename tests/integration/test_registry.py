"""pull / push / login against a real registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness import Orlop
from registry_util import (
    CuttingProxy,
    RedirectingFront,
    Registry,
    TokenIssuer,
    needs_registry,
    private_env,
    start_htpasswd_registry,
    start_registry,
)

pytestmark = needs_registry


def _second(bb: Orlop) -> Orlop:
    return Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)


def _image_id(o: Orlop, ref: str, env: dict[str, str] | None = None) -> str:
    return o.ok("image", "inspect", "-f", "{{.Id}}", ref, env=env).strip()


def _leftovers(o: Orlop) -> list[str]:
    tmp = o.root / "tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


# --- plain HTTP --------------------------------------------------------------------


def test_push_pull_round_trip_two_roots_same_image_id(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    ref = f"{registry.host}/team/bb:v1"
    bb.ok("tag", "busybox", ref)
    out = bb.ok("push", ref, env=env)
    assert f"The push refers to repository [{ref.rsplit(':', 1)[0]}]" in out
    assert ": Pushed" in out
    assert "v1: digest: sha256:" in out
    digest = out.split("v1: digest: ", 1)[1].split()[0]
    again = bb.ok("push", ref, env=env)
    assert ": Layer already exists" in again

    other = _second(bb)
    res = other("pull", ref, env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "v1: Pulling from team/bb"
    assert any(ln.endswith(": Pull complete") for ln in lines)
    assert f"Digest: {digest}" in lines
    assert f"Status: Downloaded newer image for {ref}" in lines
    assert lines[-1] == ref
    assert _image_id(other, ref) == _image_id(bb, "busybox")
    assert other.ok("run", "--rm", ref, "echo", "pulled").strip() == "pulled"

    inspect = json.loads(other.ok("image", "inspect", ref))[0]
    assert inspect["RepoDigests"] == [f"{registry.host}/team/bb@{digest}"]
    table = other.ok("images", "--digests")
    assert digest in table
    # By digest: the same image, found locally by RepoDigest too.
    by_digest = f"{registry.host}/team/bb@{digest}"
    assert _image_id(other, by_digest) == _image_id(bb, "busybox")

    second = other.ok("pull", ref, env=env).splitlines()
    assert second == ["v1: Pulling from team/bb", f"Digest: {digest}",
                      f"Status: Image is up to date for {ref}", ref]
    assert _leftovers(other) == []


def test_run_pull_missing_always_never(bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    ref = f"{registry.host}/bb"
    bb.ok("tag", "busybox", ref)
    bb.ok("push", "-q", ref, env=env)
    other = _second(bb)
    never = other("run", "--rm", "--pull", "never", ref, "true", env=env)
    assert never.returncode == 125
    assert f"No such image: {ref}" in never.stderr
    res = other("run", "--rm", ref, "echo", "hi", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hi\n"
    assert f"Unable to find image '{ref}:latest' locally" in res.stderr
    assert "Status: Downloaded newer image for" in res.stderr
    res = other("create", "--pull", "always", ref, env=env)
    assert res.returncode == 0, res.stderr
    assert "Status: Image is up to date for" in res.stderr


def test_pull_unknown_tag_and_repository_say_so(registry: Registry, orlop: Orlop,
                                                tmp_path: Path) -> None:
    env = private_env(tmp_path)
    res = orlop("pull", f"{registry.host}/nothing:nope", env=env)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        f"Error: manifest for {registry.host}/nothing:nope not found: "
        "manifest unknown: manifest unknown")
    res = orlop("pull", "-a", f"{registry.host}/nothing", env=env)
    assert res.returncode == 1 and "--all-tags is not supported" in res.stderr
    res = orlop("pull", "Bad:ref", env=env)
    assert res.returncode == 1 and "invalid reference format" in res.stderr


def test_pull_tampered_blob_fails_and_stores_nothing(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    ref = f"{registry.host}/bb:v1"
    bb.ok("tag", "busybox", ref)
    bb.ok("push", ref, env=env)
    manifest = _get_json(registry, "/v2/bb/manifests/v1")
    layer = manifest["layers"][0]["digest"]
    blob = registry.blob_file(layer)
    data = bytearray(blob.read_bytes())
    data[5000] ^= 0xFF  # same size, other content
    blob.write_bytes(bytes(data))
    other = _second(bb)
    res = other("pull", ref, env=env)
    assert res.returncode == 1
    assert f"filesystem layer verification failed for digest {layer}" in res.stderr
    assert other.ok("images", "-q") == ""
    assert not any((other.root / "layers").glob("[0-9a-f]*"))
    assert _leftovers(other) == []


def test_pull_layer_not_matching_config_diff_id_stores_nothing(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    """Every blob digest is right, but the config names another diff_id: the extracted
    layer is refused before it is published."""
    env = private_env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/lie:1")
    bb.ok("push", f"{registry.host}/lie:1", env=env)
    manifest = _get_json(registry, "/v2/lie/manifests/1")
    config = json.loads(_get(registry, f"/v2/lie/blobs/{manifest['config']['digest']}"))
    config["rootfs"]["diff_ids"] = ["sha256:" + "ab" * 32]
    raw = json.dumps(config).encode()
    _put_blob(registry, "lie", raw)
    manifest["config"] = {**manifest["config"], "digest": _sha(raw), "size": len(raw)}
    body = json.dumps(manifest).encode()
    _put_manifest(registry, "lie", "2", body, str(manifest["mediaType"]))
    other = _second(bb)
    res = other("pull", f"{registry.host}/lie:2", env=env)
    assert res.returncode == 1
    assert "the image config says sha256:" + "ab" * 32 in res.stderr
    assert other.ok("images", "-q") == ""
    assert not any((other.root / "layers").glob("[0-9a-f]*"))
    assert _leftovers(other) == []


def test_pull_multi_platform_index_and_zstd_layer(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    """An index with the host's image (uncompressed layer, as Orlop pushes it) and an
    arm64 one whose layer is zstd-compressed, written by raw HTTP."""
    import zstandard

    env = private_env(tmp_path)
    base = f"{registry.host}/multi"
    bb.ok("tag", "busybox", f"{base}:host")
    bb.ok("push", f"{base}:host", env=env)
    host_manifest_raw = _get(registry, "/v2/multi/manifests/host")
    host_manifest = json.loads(host_manifest_raw)
    layer_digest = host_manifest["layers"][0]["digest"]
    layer = _get(registry, f"/v2/multi/blobs/{layer_digest}")
    config = json.loads(_get(registry, f"/v2/multi/blobs/{host_manifest['config']['digest']}"))
    host_arch = config["architecture"]
    other_arch = "arm64" if host_arch != "arm64" else "amd64"
    config["architecture"] = other_arch
    config_raw = json.dumps(config).encode()
    zlayer = zstandard.ZstdCompressor().compress(layer)
    _put_blob(registry, "multi", config_raw)
    _put_blob(registry, "multi", zlayer)
    other_manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(config_raw), "size": len(config_raw)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                    "digest": _sha(zlayer), "size": len(zlayer)}]}).encode()
    _put_manifest(registry, "multi", _sha(other_manifest), other_manifest,
                  "application/vnd.oci.image.manifest.v1+json")
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": _sha(other_manifest), "size": len(other_manifest),
             "platform": {"os": "linux", "architecture": other_arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": _sha(host_manifest_raw), "size": len(host_manifest_raw),
             "platform": {"os": "linux", "architecture": host_arch}},
        ]}).encode()
    _put_manifest(registry, "multi", "all", index, "application/vnd.oci.image.index.v1+json")

    o = _second(bb)
    out = o.ok("pull", f"{base}:all", env=env)
    assert f"Digest: {_sha(index)}" in out
    assert _image_id(o, f"{base}:all") == _image_id(bb, "busybox")
    o2 = Orlop(root=bb.root.parent / "root3", cwd=bb.cwd)
    o2.ok("pull", "--platform", f"linux/{other_arch}", f"{base}:all", env=env)
    assert _image_id(o2, f"{base}:all") == _sha(config_raw)
    arch = o2.ok("image", "inspect", "-f", "{{.Architecture}}", f"{base}:all").strip()
    assert arch == other_arch
    res = o2("pull", "--platform", "linux/s390x", f"{base}:all", env=env)
    assert res.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in res.stderr


def test_pull_resumes_a_cut_download(bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/bb")
    bb.ok("push", f"{registry.host}/bb", env=env)
    port = int(registry.host.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cut_after=300_000, cuts=1)
    try:
        via = f"127.0.0.1:{proxy.port}/bb"
        other = _second(bb)
        res = other("pull", via, env=env)
        assert res.returncode == 0, res.stderr
        assert proxy.cut_done == 1
        assert _image_id(other, via) == _image_id(bb, "busybox")
    finally:
        proxy.close()


def test_pull_killed_midway_then_again_succeeds(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/bb")
    bb.ok("push", f"{registry.host}/bb", env=env)
    port = int(registry.host.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, delay=0.05)  # ~1.3 MB/s: the 2 MB layer takes a while
    try:
        via = f"127.0.0.1:{proxy.port}/bb"
        other = _second(bb)
        proc = subprocess.Popen(
            [sys.executable, "-m", "orlop", "--root", str(other.root), "pull", via],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(n.startswith("layer-") for n in _leftovers(other)):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert other.ok("images", "-q") == ""
        proxy.delay = 0
        res = other("pull", via, env=env)
        assert res.returncode == 0, res.stderr
        assert _image_id(other, via) == _image_id(bb, "busybox")
        assert _leftovers(other) == []  # the killed pull's file was reconciled away
    finally:
        proxy.close()


def test_concurrent_pulls_of_images_sharing_layers(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    bb.ok("run", "--name", "c1", "busybox", "sh", "-c", "echo one > /one")
    bb.ok("commit", "c1", f"{registry.host}/one")
    bb.ok("run", "--name", "c2", "busybox", "sh", "-c", "echo two > /two")
    bb.ok("commit", "c2", f"{registry.host}/two")
    bb.ok("push", f"{registry.host}/one", env=env)
    bb.ok("push", f"{registry.host}/two", env=env)
    other = _second(bb)
    other.ok("images")  # the root exists before two processes race on it
    procs = [subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(other.root), "pull",
         f"{registry.host}/{name}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **env}) for name in ("one", "two", "one")]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert other.ok("run", "--rm", f"{registry.host}/one", "cat", "/one") == "one\n"
    assert other.ok("run", "--rm", f"{registry.host}/two", "cat", "/two") == "two\n"
    layers = [n for n in os.listdir(other.root / "layers") if len(n) == 64]
    assert len(layers) == 3  # busybox once, plus one layer each
    assert _leftovers(other) == []


def test_pull_follows_blob_redirects_without_leaking_credentials(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/redir:1")
    bb.ok("push", f"{registry.host}/redir:1", env=env)
    front = RedirectingFront(registry.host, "erin", "pw")
    try:
        via = f"127.0.0.1:{front.port}/redir:1"
        other = _second(bb)
        res = other("pull", via, env=env)
        assert res.returncode == 1 and "pull access denied for" in res.stderr
        other.ok("login", "-u", "erin", "--password-stdin", f"127.0.0.1:{front.port}",
                 input="pw\n", env=env)
        other.ok("pull", via, env=env)
        assert _image_id(other, via) == _image_id(bb, "busybox")
        assert front.redirects >= 2  # config and layer
        assert front.blob_auth_headers and not any(front.blob_auth_headers)
        res = other("pull", f"127.0.0.1:{front.port}/redir:huge", env=env)
        assert res.returncode == 1
        assert "larger than 4194304 bytes" in res.stderr or "too large" in res.stderr
    finally:
        front.close()


def test_docker_io_pull_goes_to_the_configured_mirror(
        bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    bb.ok("tag", "busybox", f"{registry.host}/library/busybox:mirrored")
    bb.ok("push", f"{registry.host}/library/busybox:mirrored", env=env)
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"registry-mirrors": [f"http://{registry.host}"]}))
    other = _second(bb)
    out = other.ok("pull", "busybox:mirrored", env={**env, "ORLOP_REGISTRY_CONFIG": str(conf)})
    assert out.splitlines()[-1] == "docker.io/library/busybox:mirrored"
    assert _image_id(other, "busybox:mirrored") == _image_id(bb, "busybox")


# --- TLS ---------------------------------------------------------------------------


def test_tls_registry_with_ca_in_certs_d(bb: Orlop, tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    work = tmp_path / "reg"
    work.mkdir()
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    reg = start_registry(work, tls=(work / "cert.pem", work / "key.pem"))
    try:
        env = private_env(tmp_path)
        certs = Path(env["ORLOP_CERTS_D"]) / reg.host
        certs.mkdir(parents=True)
        ref = f"{reg.host}/tls:v1"
        bb.ok("tag", "busybox", ref)
        # A CA in certs.d is verified, even for a loopback registry: a wrong one fails.
        trustme.CA().cert_pem.write_to_path(str(certs / "ca.crt"))
        res = bb("push", ref, env=env)
        assert res.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in res.stderr
        ca.cert_pem.write_to_path(str(certs / "ca.crt"))
        bb.ok("push", ref, env=env)
        other = _second(bb)
        other.ok("pull", ref, env=env)
        assert _image_id(other, ref) == _image_id(bb, "busybox")
        # Without certs.d a loopback registry is insecure (Docker's default): TLS, unverified.
        (certs / "ca.crt").unlink()
        certs.rmdir()
        third = Orlop(root=bb.root.parent / "root3", cwd=bb.cwd)
        third.ok("pull", ref, env=env)
    finally:
        reg.stop()


# --- auth --------------------------------------------------------------------------


def test_htpasswd_login_push_pull_logout(bb: Orlop, tmp_path: Path) -> None:
    work = tmp_path / "reg"
    reg = start_htpasswd_registry(work, "alice", "s3cret")
    try:
        env = private_env(tmp_path)
        ref = f"{reg.host}/private/bb:v1"
        bb.ok("tag", "busybox", ref)
        res = bb("push", ref, env=env)
        assert res.returncode == 1
        assert "unauthorized: authentication required" in res.stderr
        res = bb("login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n",
                 env=env)
        assert res.returncode == 1
        assert res.stderr.strip() == (f"Error: login attempt to http://{reg.host}/v2/ failed "
                                      "with status: 401 Unauthorized")
        res = bb("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n",
                 env=env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "Login Succeeded"
        assert "WARNING! Your password will be stored unencrypted" in res.stderr
        conf = json.loads((tmp_path / "docker-config" / "config.json").read_text())
        assert conf["auths"][reg.host]["auth"] == "YWxpY2U6czNjcmV0"  # alice:s3cret
        bb.ok("push", ref, env=env)
        other = _second(bb)
        other.ok("pull", ref, env=env)
        assert _image_id(other, ref) == _image_id(bb, "busybox")
        assert bb.ok("logout", reg.host, env=env).strip() == \
            f"Removing login credentials for {reg.host}"
        conf = json.loads((tmp_path / "docker-config" / "config.json").read_text())
        assert reg.host not in conf["auths"]
        assert bb.ok("logout", reg.host, env=env).strip() == f"Not logged in to {reg.host}"
        res = Orlop(root=bb.root.parent / "root3", cwd=bb.cwd)("pull", ref, env=env)
        assert res.returncode == 1
        assert "pull access denied for" in res.stderr
        res = bb("login", "--password-stdin", reg.host, input="x\n", env=env)
        assert res.returncode == 1
        assert "Must provide --username with --password-stdin" in res.stderr
    finally:
        reg.stop()


def test_token_auth_login_push_pull(bb: Orlop, tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    signer = ca.issue_cert("token-signer", key_type=trustme.KeyType.RSA)
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = x509.load_pem_x509_certificate(signer.cert_chain_pems[0].bytes())
    issuer = TokenIssuer(users={"bob": "hunter2"}, key_pem=signer.private_key_pem.bytes(),
                         cert_der=leaf.public_bytes(Encoding.DER))
    issuer.start()
    work = tmp_path / "reg"
    work.mkdir()
    ca.cert_pem.write_to_path(str(work / "token-ca.pem"))
    reg = start_registry(work, auth={"token": {
        "realm": f"http://127.0.0.1:{issuer.port}/token", "service": issuer.service,
        "issuer": issuer.issuer, "rootcertbundle": str(work / "token-ca.pem")}})
    try:
        env = private_env(tmp_path)
        ref = f"{reg.host}/tok/bb:v1"
        bb.ok("tag", "busybox", ref)
        res = bb("login", "-u", "bob", "-p", "nope", reg.host, env=env)
        assert res.returncode == 1
        assert "unauthorized: incorrect username or password" in res.stderr
        res = bb("login", "-u", "bob", "-p", "hunter2", reg.host, env=env)
        assert res.returncode == 0, res.stderr + (work / "registry.log").read_text()
        assert "WARNING! Using --password via the CLI is insecure." in res.stderr
        bb.ok("push", ref, env=env)
        other = _second(bb)
        other.ok("pull", ref, env=env)
        assert _image_id(other, ref) == _image_id(bb, "busybox")
        assert any("scope=repository%3Atok%2Fbb%3Apull%2Cpush" in r for r in issuer.requests)
    finally:
        reg.stop()
        issuer.stop()


# --- raw HTTP helpers ------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _get(reg: Registry, path: str) -> bytes:
    req = urllib.request.Request(f"http://{reg.host}{path}", headers={"Accept": ", ".join([
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"])})
    with urllib.request.urlopen(req, timeout=10) as r:
        return bytes(r.read())


def _get_json(reg: Registry, path: str) -> dict[str, Any]:
    return dict(json.loads(_get(reg, path)))


def _put_blob(reg: Registry, repo: str, data: bytes) -> None:
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/blobs/uploads/", data=b"",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        location = r.headers["Location"]
    sep = "&" if "?" in location else "?"
    url = location if "://" in location else f"http://{reg.host}{location}"
    req = urllib.request.Request(f"{url}{sep}digest={_sha(data)}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201


def _put_manifest(reg: Registry, repo: str, ref: str, body: bytes, media_type: str) -> None:
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/manifests/{ref}", data=body,
                                 method="PUT", headers={"Content-Type": media_type})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("ORLOP_HOST", raising=False)
