"""``GET /volumes`` is answered from a kept, encoded listing (``VolumeListCache``); these
tests hold it to "never older than a fresh read": what another process (the ``orlop``
CLI on the same root) creates, removes or starts using shows in the very next request,
with and without filters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from typing import Any

from orlop.config import EngineConfig
from orlop.engine import Engine
from orlop.wire.volumes import volume_json

from .conftest import Server


def _orlop(server: Server, *args: str) -> str:
    """The local CLI on the server's root: another process writing the same database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    res = subprocess.run([sys.executable, "-m", "orlop", "--root", str(server.root), *args],
                         capture_output=True, text=True, timeout=60, env=env, check=False)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res.stdout


def _list(server: Server, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    path = "/v1.45/volumes"
    if filters is not None:
        path += "?filters=" + urllib.parse.quote(json.dumps(filters))
    status, _, body = server.raw("GET", path)
    assert status == 200, body
    data = json.loads(body)
    assert data["Warnings"] is None
    vols: list[dict[str, Any]] = data["Volumes"]
    return vols


def _names(server: Server, filters: dict[str, list[str]] | None = None) -> list[str]:
    return sorted(v["Name"] for v in _list(server, filters))


def test_api_volume_list_sees_cli_create_and_remove_at_once(orlopd: Server) -> None:
    assert _names(orlopd) == []
    _list(orlopd)  # kept now: the next answers must not be this one
    for i in range(4):
        _orlop(orlopd, "volume", "create", f"fr{i}")
        assert f"fr{i}" in _names(orlopd)
        assert _names(orlopd, {"name": [f"fr{i}"]}) == [f"fr{i}"]
        _orlop(orlopd, "volume", "rm", f"fr{i}")
        assert f"fr{i}" not in _names(orlopd)
        assert _names(orlopd, {"name": [f"fr{i}"]}) == []
    # and the docker CLI, through the same route
    _orlop(orlopd, "volume", "create", "fr_docker")
    assert orlopd.ok("volume", "ls", "-q").split() == ["fr_docker"]
    _orlop(orlopd, "volume", "rm", "fr_docker")
    assert orlopd.ok("volume", "ls", "-q").split() == []


def test_api_volume_list_sees_its_own_writes(orlopd: Server) -> None:
    assert _names(orlopd) == []
    status, _, body = orlopd.raw("POST", "/v1.45/volumes/create",
                                 json.dumps({"Name": "own"}).encode(),
                                 {"Content-Type": "application/json"})
    assert status == 201, body
    assert _names(orlopd) == ["own"]
    assert orlopd.raw("DELETE", "/v1.45/volumes/own")[0] == 204
    assert _names(orlopd) == []


def test_api_volume_list_filters_fresh(bbd: Server) -> None:
    _orlop(bbd, "volume", "create", "--label", "team=db", "ff_db")
    _orlop(bbd, "volume", "create", "--label", "team=web", "ff_web")
    _orlop(bbd, "volume", "create", "ff_plain")
    queries: list[dict[str, list[str]] | None] = [
        None, {"label": ["team"]}, {"label": ["team=db"]}, {"label!": ["team"]},
        {"dangling": ["true"]}, {"dangling": ["false"]}, {"name": ["ff_"]},
        {"name": ["^ff_w"]}, {"driver": ["local"]}, {"driver": ["other"]}]
    before = {json.dumps(q): _names(bbd, q) for q in queries}  # every one kept now
    assert before[json.dumps({"label": ["team"]})] == ["ff_db", "ff_web"]
    assert before[json.dumps({"label": ["team=db"]})] == ["ff_db"]
    assert before[json.dumps({"label!": ["team"]})] == ["ff_plain"]
    assert before[json.dumps({"dangling": ["true"]})] == ["ff_db", "ff_plain", "ff_web"]
    assert before[json.dumps({"dangling": ["false"]})] == []
    assert before[json.dumps({"name": ["^ff_w"]})] == ["ff_web"]
    assert before[json.dumps({"driver": ["other"]})] == []

    # A container made by another process: only mount_points changes.
    cid = _orlop(bbd, "create", "--network", "none", "-v", "ff_db:/data", "busybox",
                 "true").strip()
    assert _names(bbd, {"dangling": ["true"]}) == ["ff_plain", "ff_web"]
    assert _names(bbd, {"dangling": ["false"]}) == ["ff_db"]
    assert _names(bbd, {"label": ["team"], "dangling": ["true"]}) == ["ff_web"]

    # A new labelled volume shows under the label filters, not under the others.
    _orlop(bbd, "volume", "create", "--label", "team=db", "ff_db2")
    assert _names(bbd, {"label": ["team=db"]}) == ["ff_db", "ff_db2"]
    assert _names(bbd, {"label!": ["team"]}) == ["ff_plain"]
    assert _names(bbd, {"dangling": ["false"]}) == ["ff_db"]

    _orlop(bbd, "rm", cid)
    assert _names(bbd, {"dangling": ["false"]}) == []
    assert _names(bbd, {"dangling": ["true"]}) == ["ff_db", "ff_db2", "ff_plain", "ff_web"]

    # Every kept answer equals a fresh in-process read through wire.volumes.volume_json.
    engine = Engine(EngineConfig.from_env(str(bbd.root)))
    try:
        for q in queries:
            assert _list(bbd, q) == [volume_json(v) for v in engine.volumes.list(q)], q
    finally:
        engine.close()


def test_api_volume_list_bad_filter_400_every_time(orlopd: Server) -> None:
    _orlop(orlopd, "volume", "create", "bf")
    for _ in range(2):
        status, _, body = orlopd.raw(
            "GET", "/v1.45/volumes?filters=" + urllib.parse.quote('{"nosuch":["x"]}'))
        assert status == 400 and json.loads(body)["message"] == "Invalid filter 'nosuch'"
        status, _, body = orlopd.raw(
            "GET", "/v1.45/volumes?filters=" + urllib.parse.quote('{"dangling":["maybe"]}'))
        assert status == 400, body
    assert _names(orlopd) == ["bf"]


def test_api_volume_list_objects_are_the_inspect_objects(orlopd: Server) -> None:
    """One wire shape: each listed volume is byte for byte what GET /volumes/{name}
    gives (key order, null Labels/Options apart from {})."""
    _orlop(orlopd, "volume", "create", "sh_null")
    _orlop(orlopd, "volume", "create", "--label", "b=2", "--label", "a=1", "-o",
           "type=tmpfs", "-o", "device=tmpfs", "sh_lab")
    status, _, body = orlopd.raw("POST", "/v1.45/volumes/create",
                                 json.dumps({"Name": "sh_empty", "Labels": {},
                                             "DriverOpts": {}}).encode(),
                                 {"Content-Type": "application/json"})
    assert status == 201, body
    listed = {v["Name"]: v for v in _list(orlopd)}
    assert sorted(listed) == ["sh_empty", "sh_lab", "sh_null"]
    for name, vol in listed.items():
        status, _, body = orlopd.raw("GET", f"/v1.45/volumes/{name}")
        assert status == 200
        assert json.dumps(vol) == json.dumps(json.loads(body)), name
        assert list(vol) == sorted(vol)
    assert listed["sh_null"]["Labels"] is None and listed["sh_null"]["Options"] is None
    assert listed["sh_empty"]["Labels"] == {} and listed["sh_empty"]["Options"] == {}
    assert list(listed["sh_lab"]["Labels"]) == ["a", "b"]
