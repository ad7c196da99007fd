"""Docker volume plugins end to end, with a real plugin: Debian's rclone
(``rclone serve docker``) backed by ``rclone serve webdav`` over a temporary directory
(tests/plugin_util.py).  The engine sees only the test's plugin directory
(``ORLOP_PLUGIN_DIRS``), never the host's /run/docker/plugins."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from harness import Orlop
from plugin_util import RcloneSetup, needs_rclone
from testsupport import mounts_under

pytestmark = [pytest.mark.root, needs_rclone]


def _refs(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "orlop.db") as db:
        return [(str(a), str(b)) for a, b in
                db.execute("SELECT volume_name, ref FROM volume_mounts ORDER BY 1, 2")]


def test_data_lands_in_the_remote_and_a_second_root_sees_the_volume(
        bb: Orlop, rclone: RcloneSetup, busybox_tar: Path) -> None:
    env = rclone.env
    opts = [a for o in rclone.volume_opts("shared") for a in ("-o", o)]
    assert bb.ok("volume", "create", "-d", "rclone", *opts, "shared", env=env) == "shared\n"
    bb.ok("run", "--rm", "-v", "shared:/data", "busybox",
          "sh", "-c", "echo hello > /data/msg", env=env)
    assert (rclone.remote / "shared" / "msg").read_text() == "hello\n"
    # Docker's references: the run's Mount was undone by its Unmount, nothing kept.
    plugin = rclone.plugins["rclone"]
    assert plugin.mounts("shared") == []
    assert _refs(bb.root) == []
    assert not mounts_under(str(plugin.base_dir))

    # `volume ls` / `inspect` show the driver and what the plugin says.
    assert "rclone    shared" in bb.ok("volume", "ls", env=env)
    info = json.loads(bb.ok("volume", "inspect", "shared", env=env))[0]
    assert info["Driver"] == "rclone"
    assert info["Scope"] == "local"  # what rclone's Capabilities says
    assert info["Mountpoint"] == str(plugin.base_dir / "shared")
    assert info["Options"] == {"remote": "dav:shared"}
    assert info["Status"] == {"Mounts": []}

    # A second root (another host, as far as the plugin knows) sees the same volume:
    # listed from the plugin's List, then used by name without a driver given.
    other = Orlop(root=bb.root.parent / "other" / "root", cwd=bb.cwd)
    other.ok("import", str(busybox_tar), "busybox:latest")
    try:
        assert "rclone    shared" in other.ok("volume", "ls", env=env)
        assert other.ok("run", "--rm", "--network", "none", "-v", "shared:/d", "busybox",
                        "cat", "/d/msg", env=env) == "hello\n"
        assert other.ok("volume", "inspect", "-f", "{{.Driver}}", "shared",
                        env=env) == "rclone\n"
        # Docker's prune takes local volumes only: plugin data is never pruned.
        other.ok("volume", "prune", "-a", "-f", env=env)
        assert plugin.call("VolumeDriver.Get", {"Name": "shared"}).get("Volume")

        # `volume rm` removes the volume from the plugin (Docker calls Remove whatever
        # the Scope); the other root then forgets it, as Docker purges a volume its
        # driver no longer has.
        bb.ok("volume", "rm", "shared", env=env)
        assert "Err" in plugin.call("VolumeDriver.Get", {"Name": "shared"})
        res = other("volume", "inspect", "shared", env=env)
        assert res.returncode == 1 and "No such volume: shared" in res.stderr
        assert "shared" not in other.ok("volume", "ls", "-q", env=env)
    finally:
        left = other.ok("ps", "-aq").split()
        if left:
            other("rm", "-f", *left)


def test_detached_container_holds_its_mount_id_until_it_stops(
        bb: Orlop, rclone: RcloneSetup, no_leftover_containers: None) -> None:
    env = rclone.env
    opts = [a for o in rclone.volume_opts("held") for a in ("-o", o)]
    bb.ok("volume", "create", "-d", "rclone", *opts, "held", env=env)
    plugin = rclone.plugins["rclone"]
    cid = bb.ok("run", "-d", "-v", "held:/data", "busybox", "sleep", "60", env=env).strip()
    assert plugin.mounts("held") == [cid]  # Orlop's mount ID is the container id
    res = bb("volume", "rm", "held", env=env)
    assert res.returncode != 0 and "volume is in use" in res.stderr
    bb.ok("stop", "-t", "1", cid, env=env)
    assert plugin.mounts("held") == []
    assert _refs(bb.root) == []
    bb.ok("rm", cid, env=env)
    bb.ok("volume", "rm", "held", env=env)


def test_plugin_down_clear_error_no_half_mount_then_retry(
        bb: Orlop, rclone: RcloneSetup) -> None:
    env = rclone.env
    up = rclone.plugins["rclone"]
    down = rclone.plugin("rclone2")
    for name, driver, sub in (("va", "rclone", "a"), ("vb", "rclone2", "b")):
        opts = [a for o in rclone.volume_opts(sub) for a in ("-o", o)]
        bb.ok("volume", "create", "-d", driver, *opts, name, env=env)
    down.stop()

    # Stopped cleanly, rclone removes its socket: the plugin is not found (moby's text).
    res = bb("run", "--rm", "-v", "va:/a", "-v", "vb:/b", "busybox", "true", env=env)
    assert res.returncode == 125
    assert 'error looking up volume plugin rclone2: plugin "rclone2" not found' in res.stderr
    assert up.mounts("va") == [] and _refs(bb.root) == []

    # Crashed, it leaves a socket nobody answers on.  /a (va, plugin up) is mounted
    # before /b (vb, plugin down): the start fails naming the plugin, and va's Mount is
    # undone with its Unmount.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(down.socket))
    stale.close()
    res = bb("run", "--rm", "-v", "va:/a", "-v", "vb:/b", "busybox", "true", env=env)
    assert res.returncode == 125
    assert 'volume plugin "rclone2" is not available' in res.stderr
    assert "start the plugin and retry" in res.stderr
    assert up.mounts("va") == []
    assert _refs(bb.root) == []
    assert not mounts_under(str(up.base_dir))
    assert bb.ok("ps", "-aq") == ""  # --rm: nothing half-made stays

    # `plugin ls`: both found, the stopped one not enabled.
    out = bb.ok("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}", env=env)
    assert out == "rclone true\nrclone2 false\n"

    # The plugin back (with its saved state): the same command works.
    down.socket.unlink()
    down.start()
    assert bb.ok("run", "--rm", "-v", "va:/a", "-v", "vb:/b", "busybox",
                 "sh", "-c", "echo b > /b/f && cat /b/f", env=env) == "b\n"
    assert (rclone.remote / "b" / "f").read_text() == "b\n"
    assert _refs(bb.root) == []


def test_missing_plugin_and_mount_volume_driver(bb: Orlop, rclone: RcloneSetup) -> None:
    env = rclone.env
    res = bb("volume", "create", "-d", "nosuch", "xv", env=env)
    assert res.returncode == 1
    assert 'error looking up volume plugin nosuch: plugin "nosuch" not found' in res.stderr
    # A plugin's own refusal, with moby's prefix.
    res = bb("volume", "create", "-d", "rclone", "noopts", env=env)
    assert res.returncode == 1
    assert "create noopts: VolumeDriver.Create: " in res.stderr
    # --mount ...,volume-driver= with volume-opt= creates the plugin volume on the fly.
    (rclone.remote / "m").mkdir()
    mount = ("type=volume,src=mv,dst=/m,volume-driver=rclone,volume-opt=type=webdav,"
             f"volume-opt=webdav-url={rclone.url}m,volume-opt=webdav-vendor=other")
    bb.ok("run", "--rm", "--mount", mount, "busybox", "sh", "-c", "echo m > /m/f", env=env)
    assert (rclone.remote / "m" / "f").read_text() == "m\n"
    # --volume-driver: the driver of -v volumes, recorded in HostConfig.VolumeDriver.
    cid = bb.ok("create", "--volume-driver", "rclone", "-v", "mv:/d", "busybox", "true",
                env=env).strip()
    info = json.loads(bb.ok("inspect", cid, env=env))[0]
    assert info["HostConfig"]["VolumeDriver"] == "rclone"
    assert [(m["Name"], m["Driver"]) for m in info["Mounts"]] == [("mv", "rclone")]
    bb.ok("rm", cid)
    res = bb("run", "--rm", "--volume-driver", "nosuch", "-v", "nv:/d", "busybox", "true",
             env=env)
    assert res.returncode == 125 and 'plugin "nosuch" not found' in res.stderr
    bb.ok("volume", "rm", "mv", env=env)


def test_plugin_ls_help_and_empty(orlop: Orlop, tmp_path: Path) -> None:
    env = {"ORLOP_PLUGIN_DIRS": str(tmp_path / "none")}
    assert orlop.ok("plugin", "ls", env=env) == "ID        NAME      DESCRIPTION   ENABLED\n"
    assert "List the Docker volume plugins" in orlop.ok("plugin", "ls", "--help")
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    (spec_dir / "far.spec").write_text("tcp://127.0.0.1:1\n")
    out = orlop.ok("plugin", "ls", "--no-trunc", "--format",
                   "{{.Name}} {{.Enabled}} {{.Socket}}", env={"ORLOP_PLUGIN_DIRS":
                                                              str(spec_dir)})
    assert out == "far false tcp://127.0.0.1:1\n"
