"""The docker CLI against orlopd with a real Docker volume plugin (rclone serve docker,
tests/plugin_util.py): ``docker volume create -d``, ``run -v``, ``volume ls/inspect/rm``
and ``GET /plugins`` / ``docker plugin ls`` (legacy plugins: docs/volume-plugins.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from plugin_util import RcloneSetup, needs_rclone

from .conftest import Server

pytestmark = [needs_rclone]


@pytest.fixture
def plugin_env(rclone: RcloneSetup, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """orlopd (started after this fixture) sees the test's plugins, never the host's."""
    monkeypatch.setenv("ORLOP_PLUGIN_DIRS", str(rclone.plugin_dir))
    yield


def test_docker_cli_uses_a_volume_plugin_through_orlopd(
        plugin_env: None, bbd: Server, rclone: RcloneSetup) -> None:
    opts = [a for o in rclone.volume_opts("cv") for a in ("-o", o)]
    assert bbd.ok("volume", "create", "-d", "rclone", *opts, "cv") == "cv\n"
    assert "rclone    cv" in bbd.ok("volume", "ls")
    assert bbd.ok("volume", "inspect", "-f", "{{.Driver}} {{.Scope}} {{json .Status}}",
                  "cv") == 'rclone local {"Mounts":[]}\n'  # the plugin's Get, as Docker
    bbd.ok("run", "--rm", "-v", "cv:/d", "busybox", "sh", "-c", "echo d > /d/f")
    assert (rclone.remote / "cv" / "f").read_text() == "d\n"
    assert rclone.plugins["rclone"].mounts("cv") == []

    assert bbd.ok("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}") == "rclone true\n"
    status, _, body = bbd.raw("GET", "/plugins")
    assert status == 200
    assert [(p["Name"], p["Enabled"], p["Config"]["Interface"]["Types"])
            for p in json.loads(body)] == [("rclone", True, ["docker.volumedriver/1.0"])]

    res = bbd.docker("volume", "create", "-d", "nosuch", "nv")
    assert res.returncode == 1
    assert 'plugin "nosuch" not found' in res.stderr
    bbd.ok("volume", "rm", "cv")
    assert "Err" in rclone.plugins["rclone"].call("VolumeDriver.Get", {"Name": "cv"})


COMPOSE = """\
version: "3.7"
services:
  writer:
    image: busybox
    command: sh -c "echo composed > /data/msg"
    volumes:
      - shared:/data
volumes:
  shared:
    driver: rclone
    driver_opts:
      remote: "dav:compose"
"""


def test_compose_driver_uses_the_plugin(plugin_env: None, bbd: Server,
                                        rclone: RcloneSetup) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    (rclone.remote / "compose").mkdir()
    app = bbd.dir / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(COMPOSE)
    env = {**os.environ, "DOCKER_HOST": bbd.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "-p", "proj", *args], cwd=app, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    res = compose("up", "--exit-code-from", "writer")
    assert res.returncode == 0, res.stderr
    assert (rclone.remote / "compose" / "msg").read_text() == "composed\n"
    assert bbd.ok("volume", "inspect", "-f", "{{.Driver}} {{json .Options}}",
                  "proj_shared") == 'rclone {"remote":"dav:compose"}\n'
    res = compose("down", "-v")
    assert res.returncode == 0, res.stderr
    assert "Err" in rclone.plugins["rclone"].call("VolumeDriver.Get",
                                                  {"Name": "proj_shared"})
