"""The docker CLI and docker-py pulling, pushing and logging in through orlopd, against a
real registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from registry_util import Registry, needs_registry, start_htpasswd_registry

from .conftest import Server

pytestmark = needs_registry


def _id(server: Server, ref: str) -> str:
    return server.ok("image", "inspect", "-f", "{{.Id}}", ref).strip()


def test_docker_cli_push_rmi_pull_same_id(bbd: Server, registry: Registry) -> None:
    ref = f"{registry.host}/cli/bb:v1"
    want = _id(bbd, "busybox")
    bbd.ok("tag", "busybox", ref)
    out = bbd.ok("push", ref)
    assert f"The push refers to repository [{registry.host}/cli/bb]" in out
    assert "Pushed" in out and "v1: digest: sha256:" in out
    bbd.ok("rmi", ref, "busybox")
    out = bbd.ok("pull", ref)
    assert "v1: Pulling from cli/bb" in out
    assert f"Status: Downloaded newer image for {ref}" in out
    assert out.strip().splitlines()[-1] == ref
    assert _id(bbd, ref) == want
    digests = json.loads(bbd.ok("image", "inspect", ref))[0]["RepoDigests"]
    assert digests and digests[0].startswith(f"{registry.host}/cli/bb@sha256:")
    res = bbd.docker("pull", f"{registry.host}/cli/nothing:v1")
    assert res.returncode == 1
    assert "manifest unknown" in res.stderr
    # `docker run` of a missing image pulls it through /images/create.
    bbd.ok("rmi", ref)
    res = bbd.docker("run", "--rm", ref, "echo", "pulled-by-run")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "pulled-by-run\n"
    assert f"Unable to find image '{ref}' locally" in res.stderr


def test_docker_cli_login_push_with_x_registry_auth(bbd: Server, tmp_path: Path) -> None:
    work = tmp_path / "reg"
    reg = start_htpasswd_registry(work, "carol", "pw1", realm="t")
    try:
        ref = f"{reg.host}/auth/bb:v1"
        bbd.ok("tag", "busybox", ref)
        assert bbd.docker("push", ref).returncode == 1
        res = bbd.docker("login", "-u", "carol", "--password-stdin", reg.host, input="bad\n")
        assert res.returncode == 1
        res = bbd.docker("login", "-u", "carol", "--password-stdin", reg.host, input="pw1\n")
        assert res.returncode == 0, res.stderr
        assert "Login Succeeded" in res.stdout
        bbd.ok("push", ref)
        bbd.ok("rmi", ref)
        bbd.ok("pull", ref)
        out = json.loads(bbd.raw("GET", f"/distribution/{ref}/json",
                                 headers={"X-Registry-Auth": _auth("carol", "pw1")})[2])
        assert out["Descriptor"]["digest"].startswith("sha256:")
        assert out["Platforms"][0]["os"] == "linux"
    finally:
        reg.stop()


def _auth(user: str, password: str) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(
        {"username": user, "password": password}).encode()).decode()


def test_docker_py_pull_and_push(client: Any, bbd: Server, registry: Registry) -> None:
    docker = pytest.importorskip("docker")
    repo = f"{registry.host}/py/bb"
    img = client.images.get("busybox")
    assert img.tag(repo, "v2")
    lines = list(client.images.push(repo, tag="v2", stream=True, decode=True))
    assert any("aux" in x and x["aux"]["Tag"] == "v2" for x in lines), lines
    client.images.remove(f"{repo}:v2")
    pulled = client.images.pull(repo, tag="v2")
    assert pulled.id == img.id
    with pytest.raises(docker.errors.NotFound):
        client.images.pull(f"{registry.host}/py/nothing", tag="1")


def test_orlop_cli_with_host_pulls_pushes_logs_in_through_orlopd(
        bbd: Server, tmp_path: Path) -> None:
    import os
    import sys

    work = tmp_path / "reg"
    reg = start_htpasswd_registry(work, "dave", "pw2", realm="t")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "cfg")}

    def orlop(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orlop", "-H", bbd.host, *args],
                              input=input, capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    try:
        ref = f"{reg.host}/h/bb:v1"
        bbd.ok("tag", "busybox", ref)
        res = orlop("login", "-u", "dave", "--password-stdin", reg.host, input="nope\n")
        assert res.returncode == 1 and "401 Unauthorized" in res.stderr
        res = orlop("login", "-u", "dave", "--password-stdin", reg.host, input="pw2\n")
        assert res.returncode == 0, res.stderr
        res = orlop("push", ref)
        assert res.returncode == 0, res.stderr
        assert "v1: digest: sha256:" in res.stdout and ": Pushed" in res.stdout
        bbd.ok("rmi", ref)
        res = orlop("pull", ref)
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines()[0] == "v1: Pulling from h/bb"
        assert f"Status: Downloaded newer image for {ref}" in res.stdout
        assert res.stdout.splitlines()[-1] == ref
        assert _id(bbd, ref) == _id(bbd, "busybox")
        res = orlop("pull", f"{reg.host}/h/none:v1")
        assert res.returncode == 1 and "manifest unknown" in res.stderr
        assert orlop("logout", reg.host).stdout.strip() == \
            f"Removing login credentials for {reg.host}"
    finally:
        reg.stop()


def test_orlop_cli_with_host_volume_push_pull_through_libpod_routes(
        bbd: Server, registry: Registry, tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "cfg")}

    def orlop(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orlop", "-H", bbd.host, *args],
                              capture_output=True, text=True, env=env, timeout=60,
                              check=False)

    bbd.ok("run", "--rm", "-v", "hv:/d", "busybox", "sh", "-c", "echo via-api > /d/f")
    ref = f"{registry.host}/vols/hv:1"
    res = orlop("volume", "push", "hv", ref)
    assert res.returncode == 0, res.stderr
    assert "1: digest: sha256:" in res.stdout
    res = orlop("volume", "pull", ref, "hv2")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "hv2"
    assert bbd.ok("run", "--rm", "-v", "hv2:/d", "busybox", "cat", "/d/f") == "via-api\n"
    res = orlop("volume", "pull", ref, "hv2")
    assert res.returncode == 1 and "volume hv2 already exists" in res.stderr


def test_docker_compose_pull_through_orlopd(bbd: Server, registry: Registry) -> None:
    """Debian's docker-compose 1.29 (docker-py underneath) pulls each service's image
    through orlopd's /images/create stream; a missing tag fails the command."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    ref = f"{registry.host}/compose/bb:v1"
    want = _id(bbd, "busybox")
    bbd.ok("tag", "busybox", ref)
    bbd.ok("push", ref)
    bbd.ok("rmi", ref)
    app = bbd.dir / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(
        f'version: "3.7"\nservices:\n  web:\n    image: {ref}\n    command: ["true"]\n')
    env = {**os.environ, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg"),
           "COMPOSE_INTERACTIVE_NO_CLI": "1"}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "-p", "pullproj", *args], cwd=app, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    res = compose("pull")
    assert res.returncode == 0, res.stderr
    assert "Pulling web" in res.stderr and "done" in res.stderr, res.stderr
    assert _id(bbd, ref) == want
    (app / "docker-compose.yml").write_text(
        f'version: "3.7"\nservices:\n  web:\n    image: {registry.host}/compose/bb:nope\n')
    res = compose("pull")
    assert res.returncode != 0
    assert "manifest unknown" in res.stderr, res.stderr
