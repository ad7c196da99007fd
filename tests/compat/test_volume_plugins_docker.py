"""The docker CLI against orlopd with a real Docker volume plugin (rclone serve docker,
tests/plugin_util.py): ``docker volume create -d``, ``run -v``, ``volume ls/inspect/rm``
and ``GET /plugins`` / ``docker plugin ls`` (legacy plugins: docs/volume-plugins.md)."""

from __future__ import annotations

import json
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
    assert bbd.ok("volume", "inspect", "-f", "{{.Driver}} {{.Scope}}", "cv") == \
        "rclone local\n"
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
