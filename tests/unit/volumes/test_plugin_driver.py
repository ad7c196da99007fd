"""Docker volume plugins below the engine: discovery, the protocol client, and the volume
service's rules (Docker's) for plugin volumes, against FakePlugin (tests/plugin_util.py),
a protocol-conformant plugin in this process that mounts nothing."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from orlop.config import EngineConfig
from orlop.errors import (
    NotFoundError,
    PluginUnavailableError,
    SystemFailureError,
    UnsupportedError,
    VolumeInUseError,
    VolumeNotFoundError,
)
from orlop.state import Database
from orlop.volumes.plugins.client import PluginClient
from orlop.volumes.plugins.discovery import discover, find
from orlop.volumes.service import VolumeService
from plugin_util import FakePlugin


@pytest.fixture
def pdir() -> Iterator[Path]:
    """A short directory for plugin sockets (a unix socket path has 108 bytes at most)."""
    d = Path(tempfile.mkdtemp(prefix="op-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def plugins(pdir: Path) -> Iterator[dict[str, FakePlugin]]:
    made: dict[str, FakePlugin] = {}
    yield made
    for p in made.values():
        p.close()


def start(plugins: dict[str, FakePlugin], pdir: Path, name: str,
          scope: str = "local") -> FakePlugin:
    p = plugins[name] = FakePlugin(pdir / "plugins" / f"{name}.sock", pdir / "mnt" / name,
                                   scope)
    return p


@pytest.fixture
def psvc(config: EngineConfig, db: Database, pdir: Path) -> VolumeService:
    """The service of conftest's root, seeing only the plugins started in ``pdir``."""
    return VolumeService(EngineConfig(config.root, config.run_root, config.runtime,
                                      plugin_dirs=(pdir / "plugins",)), db)


@pytest.fixture
def add(containers: Any) -> Callable[..., str]:
    """``add(*volumes)``: a fake stopped container using them (conftest's Containers)."""
    return cast(Callable[..., str], containers.add)


def _stale_socket(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


# --- discovery ---------------------------------------------------------------------------


def test_discovery_order_and_spec_files(pdir: Path) -> None:
    run, etc = pdir / "run", pdir / "etc"
    (etc / "nested").mkdir(parents=True)
    _stale_socket(run / "a.sock")
    (etc / "a.spec").write_text("tcp://127.0.0.1:1\n")  # the socket wins
    (etc / "b.spec").write_text("  unix:///x/b.sock\n")
    (etc / "c.json").write_text(json.dumps({"Name": "c", "Addr": "tcp://10.0.0.1:5"}))
    (etc / "d.json").write_text(json.dumps({"Addr": "https://h:1", "TLSConfig": {}}))
    (etc / "nested" / "nested.spec").write_text("unix:///n.sock")
    (etc / "bad.spec").write_text("no-scheme")  # moby: unknown protocol
    _stale_socket(run / "e" / "e.sock")
    dirs = (run, etc)
    a = find(dirs, "a")
    assert a is not None and a.addr == f"unix://{run}/a.sock"
    assert find(dirs, "b").addr == "unix:///x/b.sock"  # type: ignore[union-attr]
    assert find(dirs, "c").addr == "tcp://10.0.0.1:5"  # type: ignore[union-attr]
    d = find(dirs, "d")
    assert d is not None and d.tls
    assert find(dirs, "nested").addr == "unix:///n.sock"  # type: ignore[union-attr]
    assert find(dirs, "e").addr == f"unix://{run}/e/e.sock"  # type: ignore[union-attr]
    assert find(dirs, "bad") is None
    assert find(dirs, "../a") is None and find(dirs, "") is None
    assert [p.name for p in discover(dirs)] == ["a", "b", "c", "d", "e", "nested"]
    assert discover((pdir / "missing",)) == []


def test_plugin_dirs_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ORLOP_PLUGIN_DIRS", raising=False)
    assert EngineConfig.from_env(str(tmp_path)).plugin_dirs is None
    monkeypatch.setenv("ORLOP_PLUGIN_DIRS", f"{tmp_path}/a::{tmp_path}/b")
    assert EngineConfig.from_env(str(tmp_path)).plugin_dirs == (tmp_path / "a",
                                                               tmp_path / "b")


# --- the client ------------------------------------------------------------------------


def test_client_errors_name_the_plugin(pdir: Path, plugins: dict[str, FakePlugin]) -> None:
    p = start(plugins, pdir, "fk")
    client = PluginClient("fk", f"unix://{p.sock}")
    assert client.call("Plugin.Activate") == {"Implements": ["VolumeDriver"]}
    with pytest.raises(SystemFailureError) as failed:
        client.call("VolumeDriver.Get", {"Name": "nope"})
    assert str(failed.value) == "VolumeDriver.Get: volume not found"
    _stale_socket(pdir / "dead.sock")
    dead = PluginClient("dead", f"unix://{pdir}/dead.sock", retry_for=0.3)
    t0 = time.monotonic()
    with pytest.raises(PluginUnavailableError) as err:
        dead.call("VolumeDriver.Mount", {"Name": "v", "ID": "x"})
    assert 0.05 < time.monotonic() - t0 < 3  # retried, then gave up
    assert str(err.value) == (f'volume plugin "dead" is not available: VolumeDriver.Mount '
                              f"on unix://{pdir}/dead.sock: connection refused "
                              "(start the plugin and retry)")
    t0 = time.monotonic()
    with pytest.raises(PluginUnavailableError):
        dead.call("Plugin.Activate", retry=False)
    assert time.monotonic() - t0 < 0.2


# --- the service -----------------------------------------------------------------------


def test_create_asks_get_first_and_mount_ids_are_references(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin],
        add: Callable[..., str]) -> None:
    p = start(plugins, pdir, "fk")
    vol = psvc.create("pv", "fk", {"k": "v"})
    assert vol.driver == "fk" and str(vol.mountpoint) == str(p.base / "pv")
    assert p.methods()[:4] == ["Plugin.Activate", "VolumeDriver.Get", "VolumeDriver.Create",
                               "VolumeDriver.Get"]
    assert p.volumes == {"pv": {"k": "v"}}
    # A volume the plugin already has (another host's) is adopted, not created again.
    p.volumes["other"], p.mounts["other"] = {}, []
    p.calls.clear()
    psvc.create("other", "fk")
    assert "VolumeDriver.Create" not in p.methods()

    a, b = add("pv"), add("pv")
    assert psvc.mount_many(["pv"], a) == {"pv": str(p.base / "pv")}
    psvc.mount("pv", b)
    psvc.mount("pv", a)  # held already: asked for its Path, not mounted twice
    assert p.mounts["pv"] == [a, b]
    with pytest.raises(VolumeInUseError):
        psvc.remove("pv")
    psvc.unmount_many(["pv"], a)
    psvc.unmount("pv", a)  # not held any more: nothing sent
    assert p.mounts["pv"] == [b]
    psvc.unmount("pv", b)
    assert p.mounts["pv"] == []
    with psvc.store.read() as tx:
        assert not tx.has_mount_refs("pv")


def test_failed_start_undoes_earlier_mounts(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin],
        add: Callable[..., str]) -> None:
    up, down = start(plugins, pdir, "up"), start(plugins, pdir, "down")
    psvc.create("va", "up")
    psvc.create("vb", "down")
    psvc.create("loc")
    down.close()  # crashed: its socket stays, nobody answers
    cid = add("va", "vb", "loc")
    psvc.drivers.plugin("down").client().retry_for = 0.2
    with pytest.raises(PluginUnavailableError, match='"down" is not available'):
        psvc.mount_many(["va", "loc", "vb"], cid)
    assert up.mounts["va"] == []
    assert up.methods()[-2:] == ["VolumeDriver.Mount", "VolumeDriver.Unmount"]
    with psvc.store.read() as tx:
        assert not tx.has_mount_refs("va") and not tx.has_mount_refs("loc")


def test_plugin_gone_is_docker_text_and_unmount_failure_keeps_reference(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin],
        add: Callable[..., str]) -> None:
    with pytest.raises(NotFoundError) as missing:
        psvc.create("pv", "nope")
    assert str(missing.value) == ('create pv: error looking up volume plugin nope: '
                                  'plugin "nope" not found')
    p = start(plugins, pdir, "fk")
    psvc.create("pv", "fk")
    cid = add("pv")
    psvc.mount("pv", cid)
    p.fail["VolumeDriver.Unmount"] = "backend busy"
    with pytest.raises(SystemFailureError, match="backend busy"):
        psvc.unmount("pv", cid)
    with psvc.store.read() as tx:
        assert tx.has_mount_ref("pv", cid)  # still in use: retried by the next unmount
    del p.fail["VolumeDriver.Unmount"]
    psvc.release_plugin_refs(cid)  # what removing the container sends first
    assert p.mounts["pv"] == []
    with psvc.store.read() as tx:
        assert not tx.has_mount_ref("pv", cid)
    p.fail["VolumeDriver.Mount"] = "no backend"
    with pytest.raises(SystemFailureError) as failed:
        psvc.mount("pv", cid)
    assert str(failed.value) == ("error while mounting volume 'pv': VolumeDriver.Mount: "
                                 "no backend")


def test_a_plugin_gone_at_stop_does_not_keep_other_references(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin],
        add: Callable[..., str]) -> None:
    p = start(plugins, pdir, "fk")
    psvc.create("pv", "fk")
    psvc.create("loc")
    cid = add("pv", "loc")
    psvc.mount_many(["pv", "loc"], cid)
    psvc.drivers.plugin("fk").client().retry_for = 0.1
    p.close()
    p.sock.unlink()  # the plugin and its socket are gone
    with pytest.raises(PluginUnavailableError):
        psvc.unmount_many(["pv", "loc"], cid)
    with psvc.store.read() as tx:
        assert not tx.has_mount_ref("loc", cid)  # released all the same
        assert tx.has_mount_ref("pv", cid)  # kept: its Unmount is still owed


def test_remove_rules(psvc: VolumeService, pdir: Path,
                      plugins: dict[str, FakePlugin]) -> None:
    p = start(plugins, pdir, "fk")
    for name in ("r1", "r2", "r3"):
        psvc.create(name, "fk")
    psvc.remove("r1")
    assert "r1" not in p.volumes
    p.fail["VolumeDriver.Remove"] = "backend says no"
    with pytest.raises(SystemFailureError) as failed:
        psvc.remove("r2")
    assert str(failed.value) == "remove r2: VolumeDriver.Remove: backend says no"
    assert psvc.get("r2").driver == "fk"
    psvc.remove("r2", force=True)  # moby's purge on error: the row goes, the plugin's
    with psvc.store.read() as tx:  # volume stays (a later lookup would find it again)
        assert "r2" not in tx.names()
    assert "r2" in p.volumes
    del p.fail["VolumeDriver.Remove"]
    del p.volumes["r3"]  # removed from another host: just forgotten here
    psvc.remove("r3")
    # prune never takes plugin volumes (moby prunes local ones only).
    psvc.create("r4", "fk")
    assert psvc.prune(all=True)[0] == []
    assert "r4" in p.volumes


def test_other_hosts_volumes_are_seen_and_gone_ones_forgotten(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin]) -> None:
    p = start(plugins, pdir, "gp", scope="global")
    psvc.create("mine", "gp")
    p.volumes["theirs"], p.mounts["theirs"] = {}, []
    listed = {v["Name"]: v for v in psvc.list_inspect()}
    assert set(listed) == {"mine", "theirs"}
    assert {v["Scope"] for v in listed.values()} == {"global"}
    assert listed["theirs"]["Driver"] == "gp"
    assert psvc.list_inspect({"dangling": ["false"]}) == []
    with psvc.store.read() as tx:
        assert "theirs" not in tx.names()  # listing records nothing
    # Used by name (no driver given): found in the plugin and recorded.
    vol = psvc.ensure("theirs", "")[0]
    assert vol.driver == "gp"
    info = psvc.with_plugin_fields(vol, {"Scope": "local"})  # inspect's plugin part
    assert info == {"Mountpoint": str(p.base / "theirs"), "Scope": "global",
                    "Status": {"Mounts": []}}
    # Removed through the plugin by another host: the next inspect forgets it.
    del p.volumes["theirs"]
    with pytest.raises(VolumeNotFoundError):
        psvc.with_plugin_fields(psvc.get("theirs"), {})
    with psvc.store.read() as tx:
        assert "theirs" not in tx.names()
    assert psvc.ensure("fresh", "")[0].driver == "local"


def test_reconcile_unmounts_references_of_stopped_containers(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin],
        add: Callable[..., str]) -> None:
    p = start(plugins, pdir, "fk")
    psvc.create("pv", "fk")
    cid = add("pv")
    psvc.mount("pv", cid)
    report = psvc.reconcile(frozenset())
    assert report.refs_released == [("pv", cid)] and not report.errors
    assert p.mounts["pv"] == []


def test_a_lost_row_is_adopted_as_the_plugin_volume_it_was(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin]) -> None:
    start(plugins, pdir, "fk")
    psvc.create("pv", "fk", {"remote": "x:y"})
    with psvc.store.write() as tx:
        tx.delete("pv")  # as a crash between the rename and the INSERT would leave it
    report = psvc.reconcile(frozenset())
    assert report.dirs_adopted == ["pv"]
    vol = psvc.get("pv")
    assert (vol.driver, vol.options) == ("fk", {"remote": "x:y"})


def test_plugin_volumes_cannot_be_renamed(
        psvc: VolumeService, pdir: Path, plugins: dict[str, FakePlugin]) -> None:
    start(plugins, pdir, "fk")
    psvc.create("pv", "fk")
    with pytest.raises(UnsupportedError) as err:
        psvc.rename("pv", "pv2")
    assert str(err.value) == ("rename pv: volumes of a plugin (fk) cannot be renamed: "
                              "the plugin knows them by name")
    assert psvc.get("pv").driver == "fk"


def test_plugin_statuses(psvc: VolumeService, pdir: Path,
                         plugins: dict[str, FakePlugin]) -> None:
    start(plugins, pdir, "fk")
    _stale_socket(pdir / "plugins" / "dead.sock")
    got = [(s.info.name, s.enabled, s.capabilities()) for s in psvc.plugins()]
    assert got == [("dead", False, []), ("fk", True, ["volumedriver"])]
    assert [s.info.name for s in psvc.plugins({"enabled": ["true"]})] == ["fk"]
    assert [s.info.name for s in psvc.plugins({"capability": ["volumedriver"]})] == ["fk"]
    wire = psvc.plugins()[1].to_wire()
    assert wire["Name"] == "fk" and wire["Enabled"] is True
    assert wire["Config"]["Interface"]["Types"] == ["docker.volumedriver/1.0"]
    assert len(wire["Id"]) == 64
